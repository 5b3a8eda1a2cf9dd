//! Where viewers and nodes are: a symmetric distance table between regions, and a CIDR map
//! from client IP to region (longest prefix wins).

use std::collections::HashMap;
use std::net::IpAddr;

use ipnet::IpNet;

use crate::report::is_token;

/// Default [`RegionTable::unknown_distance`]: farther than any configured pair should be.
pub const DEFAULT_UNKNOWN_DISTANCE: u32 = 10_000;

/// Symmetric distances between regions, in arbitrary units (for example RTT in milliseconds).
///
/// The distance from a region to itself is 0; a pair that is not configured (or involves an
/// unknown region, or the empty region of a viewer we could not place) is
/// [`unknown_distance`](Self::unknown_distance).
#[derive(Debug, Clone, Default)]
pub struct RegionTable {
    distances: HashMap<String, HashMap<String, u32>>,
    unknown_distance: Option<u32>,
}

/// A region table or resolver that cannot be built from its configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegionError {
    /// A region name that breaks the node-id rule (`[A-Za-z0-9._-]`, 1 to 64 bytes).
    #[error("invalid region name {0:?}")]
    InvalidRegion(String),
    /// A region paired with itself at a non-zero distance.
    #[error("region {0:?} has a non-zero distance to itself")]
    SelfDistance(String),
    /// The same pair listed twice with different distances.
    #[error("regions {a:?} and {b:?} are given two different distances")]
    ConflictingDistance {
        /// One region.
        a: String,
        /// The other.
        b: String,
    },
    /// The same CIDR mapped to two different regions.
    #[error("network {0} is mapped to two regions")]
    ConflictingNetwork(IpNet),
}

impl RegionTable {
    /// Builds the table from `(a, b, distance)` triples; `(b, a)` gets the same distance.
    pub fn new(
        pairs: impl IntoIterator<Item = (String, String, u32)>,
    ) -> Result<Self, RegionError> {
        let mut table = Self::default();
        for (a, b, distance) in pairs {
            for name in [&a, &b] {
                if !is_token(name) {
                    return Err(RegionError::InvalidRegion(name.clone()));
                }
            }
            if a == b {
                if distance != 0 {
                    return Err(RegionError::SelfDistance(a));
                }
                continue;
            }
            for (x, y) in [(&a, &b), (&b, &a)] {
                let row = table.distances.entry(x.clone()).or_default();
                match row.insert(y.clone(), distance) {
                    Some(old) if old != distance => {
                        return Err(RegionError::ConflictingDistance {
                            a: a.clone(),
                            b: b.clone(),
                        });
                    }
                    _ => {}
                }
            }
        }
        Ok(table)
    }

    /// Sets the distance of unconfigured pairs. Default [`DEFAULT_UNKNOWN_DISTANCE`].
    pub fn with_unknown_distance(mut self, distance: u32) -> Self {
        self.unknown_distance = Some(distance);
        self
    }

    /// The distance of unconfigured pairs.
    pub fn unknown_distance(&self) -> u32 {
        self.unknown_distance.unwrap_or(DEFAULT_UNKNOWN_DISTANCE)
    }

    /// Distance between two regions: 0 for the same region, the configured value for a known
    /// pair, [`unknown_distance`](Self::unknown_distance) otherwise. No allocation.
    pub fn distance(&self, a: &str, b: &str) -> u32 {
        if a == b {
            return 0;
        }
        self.distances
            .get(a)
            .and_then(|row| row.get(b))
            .copied()
            .unwrap_or_else(|| self.unknown_distance())
    }

    /// Regions that appear in at least one configured pair, in no particular order.
    pub fn regions(&self) -> impl Iterator<Item = &str> {
        self.distances.keys().map(String::as_str)
    }
}

/// Maps a client IP to a region by a CIDR list; the longest matching prefix wins.
///
/// Lookup costs one hash probe per distinct prefix length configured (at most 33 for IPv4,
/// 129 for IPv6), independent of the number of networks. IPv4-mapped IPv6 addresses
/// (`::ffff:a.b.c.d`) are looked up as IPv4.
#[derive(Debug, Clone, Default)]
pub struct RegionResolver {
    /// `(prefix_len, networks of that length)`, longest prefix first, both families mixed.
    by_prefix: Vec<(u8, bool, HashMap<IpNet, String>)>,
}

impl RegionResolver {
    /// Builds the resolver from `(network, region)` pairs. Host bits in a network are ignored
    /// (`10.1.2.3/8` is `10.0.0.0/8`).
    pub fn new(entries: impl IntoIterator<Item = (IpNet, String)>) -> Result<Self, RegionError> {
        let mut resolver = Self::default();
        for (net, region) in entries {
            if !is_token(&region) {
                return Err(RegionError::InvalidRegion(region));
            }
            let net = net.trunc();
            let (len, v4) = (net.prefix_len(), matches!(net, IpNet::V4(_)));
            let index = match resolver
                .by_prefix
                .iter()
                .position(|(l, f, _)| (*l, *f) == (len, v4))
            {
                Some(index) => index,
                None => {
                    resolver.by_prefix.push((len, v4, HashMap::new()));
                    resolver.by_prefix.len() - 1
                }
            };
            let map = &mut resolver.by_prefix[index].2;
            match map.insert(net, region.clone()) {
                Some(old) if old != region => return Err(RegionError::ConflictingNetwork(net)),
                _ => {}
            }
        }
        resolver
            .by_prefix
            .sort_by_key(|(len, _, _)| std::cmp::Reverse(*len));
        Ok(resolver)
    }

    /// The region of `ip`, or `None` when no network contains it.
    pub fn resolve(&self, ip: IpAddr) -> Option<&str> {
        let ip = ip.to_canonical();
        let v4 = ip.is_ipv4();
        self.by_prefix
            .iter()
            .filter(|(_, family, _)| *family == v4)
            .find_map(|(len, _, map)| {
                let net = IpNet::new(ip, *len).ok()?.trunc();
                map.get(&net).map(String::as_str)
            })
    }

    /// Whether no network is configured.
    pub fn is_empty(&self) -> bool {
        self.by_prefix.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> RegionTable {
        let pairs = [("eu", "us", 90), ("eu", "ap", 200), ("us", "ap", 150)];
        RegionTable::new(pairs.map(|(a, b, d)| (a.to_owned(), b.to_owned(), d)))
            .expect("valid table")
    }

    #[test]
    fn distances_are_symmetric_zero_on_self_and_large_when_unknown() {
        let t = table();
        assert_eq!(t.distance("eu", "us"), 90);
        assert_eq!(t.distance("us", "eu"), 90);
        assert_eq!(t.distance("ap", "ap"), 0);
        assert_eq!(t.distance("eu", "mars"), DEFAULT_UNKNOWN_DISTANCE);
        assert_eq!(t.clone().with_unknown_distance(7).distance("", "eu"), 7);
    }

    #[test]
    fn bad_tables_are_rejected() {
        let conflict = [("a", "b", 1), ("b", "a", 2)];
        let err = RegionTable::new(conflict.map(|(a, b, d)| (a.into(), b.into(), d)));
        assert!(matches!(err, Err(RegionError::ConflictingDistance { .. })));
        let err = RegionTable::new([("a".into(), "a".into(), 3)]);
        assert_eq!(err.err(), Some(RegionError::SelfDistance("a".into())));
        let err = RegionTable::new([("a b".into(), "c".into(), 3)]);
        assert!(matches!(err, Err(RegionError::InvalidRegion(_))));
    }

    #[test]
    fn longest_prefix_wins() {
        let entries = [
            ("10.0.0.0/8", "eu"),
            ("10.1.0.0/16", "us"),
            ("10.1.2.0/24", "ap"),
            ("2001:db8::/32", "us"),
            ("0.0.0.0/0", "default"),
        ];
        let r = RegionResolver::new(entries.map(|(n, r)| (n.parse().expect("cidr"), r.to_owned())))
            .expect("valid resolver");
        let ip = |s: &str| s.parse::<IpAddr>().expect("ip");
        assert_eq!(r.resolve(ip("10.9.9.9")), Some("eu"));
        assert_eq!(r.resolve(ip("10.1.9.9")), Some("us"));
        assert_eq!(r.resolve(ip("10.1.2.3")), Some("ap"));
        assert_eq!(r.resolve(ip("::ffff:10.1.2.3")), Some("ap"));
        assert_eq!(r.resolve(ip("192.0.2.1")), Some("default"));
        assert_eq!(r.resolve(ip("2001:db8::1")), Some("us"));
        assert_eq!(r.resolve(ip("2001:db9::1")), None);
    }
}
