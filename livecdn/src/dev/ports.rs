//! The dev cluster's ports, moved together by `port_base`.

/// The default `port_base`: the control plane's port.
pub const DEFAULT_PORT_BASE: u16 = 8000;

/// Every port of the dev cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DevPorts {
    /// Control plane HTTP (and the web page): 8000.
    pub control_plane: u16,
    /// Origin RTMP ingest: 1935.
    pub origin_rtmp: u16,
    /// Origin HTTP: 8080.
    pub origin_http: u16,
    /// Edge A HTTP: 8081.
    pub edge_a: u16,
    /// Edge B HTTP: 8082.
    pub edge_b: u16,
    /// Chat relay A: 8091.
    pub relay_a: u16,
    /// Chat relay B: 8092.
    pub relay_b: u16,
}

/// `port_base` would move a port outside 1–65535.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("port_base {base} would move the {name} port {default} to {moved}, outside 1-65535")]
pub struct PortError {
    /// The requested base.
    pub base: u16,
    /// Which port.
    pub name: &'static str,
    /// Its default.
    pub default: u16,
    /// Where it would go.
    pub moved: i32,
}

impl DevPorts {
    /// The defaults of `design.md`, each moved by `base - 8000`.
    pub fn shifted(base: u16) -> Result<Self, PortError> {
        let shift = i32::from(base) - i32::from(DEFAULT_PORT_BASE);
        let port = |name: &'static str, default: u16| {
            let moved = i32::from(default) + shift;
            u16::try_from(moved)
                .ok()
                .filter(|p| *p != 0)
                .ok_or(PortError {
                    base,
                    name,
                    default,
                    moved,
                })
        };
        Ok(Self {
            control_plane: port("control plane", 8000)?,
            origin_rtmp: port("origin RTMP", 1935)?,
            origin_http: port("origin HTTP", 8080)?,
            edge_a: port("edge A", 8081)?,
            edge_b: port("edge B", 8082)?,
            relay_a: port("chat relay A", 8091)?,
            relay_b: port("chat relay B", 8092)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::DevPorts;

    #[test]
    fn every_port_moves_by_the_same_amount() {
        let ports = DevPorts::shifted(9000).unwrap();
        assert_eq!(
            (ports.control_plane, ports.origin_rtmp, ports.edge_b),
            (9000, 2935, 9082)
        );
    }

    #[test]
    fn a_base_that_pushes_a_port_out_of_range_is_refused() {
        let err = DevPorts::shifted(6000).unwrap_err();
        assert_eq!(err.name, "origin RTMP");
        assert!(
            DevPorts::shifted(65500).is_err(),
            "chat relay B would be 65592"
        );
    }
}
