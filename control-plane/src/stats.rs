//! The per-stream, per-region time series: viewers are a level (summed over a region's edges);
//! chat messages, likes and gift value are counters each relay reports cumulatively per room,
//! turned into per-interval deltas here (a relay restart resets its counters: a counter that
//! goes down counts from zero, as Prometheus' `rate` does).

use std::collections::{BTreeMap, HashMap};

use directory::{Liveness, Registry, Role};

/// One sampled row, before it gets its timestamp.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleRow {
    /// Stream (and room) name.
    pub stream: String,
    /// Region.
    pub region: String,
    /// Viewers now.
    pub viewers: i64,
    /// Chat messages since the previous sample.
    pub chat_messages: i64,
    /// Likes since the previous sample.
    pub likes: i64,
    /// Gift value since the previous sample.
    pub gift_value: i64,
}

/// Last cumulative counters seen per (relay, room).
#[derive(Debug, Default)]
pub struct StatsSeries {
    last: HashMap<(String, String), [u64; 3]>,
}

fn delta(now: u64, before: u64) -> i64 {
    let d = if now >= before { now - before } else { now };
    i64::try_from(d).unwrap_or(i64::MAX)
}

impl StatsSeries {
    /// Samples the registry: a row per (stream, region) with viewers or chat activity, for
    /// streams live on an origin or rooms held by a relay.
    pub fn sample(&mut self, registry: &Registry) -> Vec<SampleRow> {
        let mut rows: BTreeMap<(String, String), SampleRow> = BTreeMap::new();
        let mut seen = HashMap::new();
        for view in registry.nodes() {
            if view.liveness == Liveness::Dead {
                continue;
            }
            let report = &view.report;
            match report.role {
                Role::Edge => {
                    for held in &report.streams {
                        let row = row(&mut rows, &held.name, &report.region);
                        row.viewers = row
                            .viewers
                            .saturating_add(i64::try_from(held.viewers).unwrap_or(i64::MAX));
                    }
                }
                Role::ChatRelay => {
                    for room in &report.rooms {
                        let now = [room.messages, room.likes, room.gift_value];
                        let key = (report.id.clone(), room.name.clone());
                        let before = self.last.get(&key).copied().unwrap_or(now);
                        let row = row(&mut rows, &room.name, &report.region);
                        row.chat_messages =
                            row.chat_messages.saturating_add(delta(now[0], before[0]));
                        row.likes = row.likes.saturating_add(delta(now[1], before[1]));
                        row.gift_value = row.gift_value.saturating_add(delta(now[2], before[2]));
                        seen.insert(key, now);
                    }
                }
                Role::Origin => {}
            }
        }
        self.last = seen;
        rows.into_values().collect()
    }
}

fn row<'a>(
    rows: &'a mut BTreeMap<(String, String), SampleRow>,
    stream: &str,
    region: &str,
) -> &'a mut SampleRow {
    rows.entry((stream.to_owned(), region.to_owned()))
        .or_insert_with(|| SampleRow {
            stream: stream.to_owned(),
            region: region.to_owned(),
            viewers: 0,
            chat_messages: 0,
            likes: 0,
            gift_value: 0,
        })
}
