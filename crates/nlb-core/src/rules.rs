//! Port rules: which traffic a rule covers and how the cluster shares it, as in
//! Windows NLB (VIP or all, port range, protocol, filtering mode, affinity).

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// At most this many port rules per cluster, as in Windows NLB.
pub const MAX_RULES: usize = 32;

/// The protocols a rule covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// TCP only.
    Tcp,
    /// UDP only.
    Udp,
    /// TCP and UDP.
    Both,
}

impl Protocol {
    /// Configuration spelling.
    pub fn as_str(&self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Both => "both",
        }
    }

    /// True when this rule protocol covers the packet's transport protocol.
    pub fn covers(&self, proto: Transport) -> bool {
        matches!(
            (self, proto),
            (Protocol::Tcp | Protocol::Both, Transport::Tcp)
                | (Protocol::Udp | Protocol::Both, Transport::Udp)
        )
    }

    fn overlaps(&self, other: &Protocol) -> bool {
        *self == Protocol::Both || *other == Protocol::Both || self == other
    }
}

impl FromStr for Protocol {
    type Err = &'static str;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "tcp" => Ok(Protocol::Tcp),
            "udp" => Ok(Protocol::Udp),
            "both" => Ok(Protocol::Both),
            _ => Err("one of tcp, udp, both"),
        }
    }
}

/// The transport protocol of a packet being classified.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Transport {
    /// IP protocol 6.
    Tcp,
    /// IP protocol 17.
    Udp,
    /// Anything else (ICMP, GRE, ...): never covered by a port rule.
    Other(u8),
}

impl Transport {
    /// From the IP protocol number.
    pub fn from_ip_proto(p: u8) -> Self {
        match p {
            6 => Transport::Tcp,
            17 => Transport::Udp,
            other => Transport::Other(other),
        }
    }

    /// The IP protocol number.
    pub fn ip_proto(&self) -> u8 {
        match self {
            Transport::Tcp => 6,
            Transport::Udp => 17,
            Transport::Other(p) => *p,
        }
    }
}

/// How the hosts share the traffic of a rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Filtering {
    /// Every live host with a non-zero weight takes a share of the flows.
    Multiple,
    /// The live host with the lowest handling priority takes all flows.
    Single,
    /// The traffic is dropped by every host.
    Disabled,
}

impl Filtering {
    /// Configuration spelling.
    pub fn as_str(&self) -> &'static str {
        match self {
            Filtering::Multiple => "multiple",
            Filtering::Single => "single",
            Filtering::Disabled => "disabled",
        }
    }
}

impl FromStr for Filtering {
    type Err = &'static str;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "multiple" => Ok(Filtering::Multiple),
            "single" => Ok(Filtering::Single),
            "disabled" => Ok(Filtering::Disabled),
            _ => Err("one of multiple, single, disabled"),
        }
    }
}

/// Which part of the client address selects the owner of a flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Affinity {
    /// Client IP and port: each connection is placed on its own.
    None,
    /// Client IP: all connections of a client go to one host.
    Single,
    /// Client network (IPv4 /24, IPv6 /64): clients behind one proxy farm stay together.
    Network,
}

impl Affinity {
    /// Configuration spelling.
    pub fn as_str(&self) -> &'static str {
        match self {
            Affinity::None => "none",
            Affinity::Single => "single",
            Affinity::Network => "network",
        }
    }
}

impl FromStr for Affinity {
    type Err = &'static str;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "none" => Ok(Affinity::None),
            "single" => Ok(Affinity::Single),
            "network" | "class-c" => Ok(Affinity::Network),
            _ => Err("one of none, single, network"),
        }
    }
}

/// The VIP a rule applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RuleVip {
    /// Every VIP of the cluster. A rule naming a VIP takes precedence over it.
    All,
    /// One VIP.
    Addr(IpAddr),
}

impl fmt::Display for RuleVip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RuleVip::All => f.write_str("all"),
            RuleVip::Addr(a) => write!(f, "{a}"),
        }
    }
}

/// One port rule of the cluster.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PortRule {
    /// Name used by host parts to set per-rule weight and priority (default `rule<N>`).
    pub name: String,
    /// The VIP, or all VIPs.
    pub vip: RuleVip,
    /// First port covered.
    pub port_start: u16,
    /// Last port covered (inclusive).
    pub port_end: u16,
    /// Protocols covered.
    pub protocol: Protocol,
    /// How hosts share the traffic.
    pub filtering: Filtering,
    /// The hash input for multiple-host filtering.
    pub affinity: Affinity,
}

impl PortRule {
    /// Windows' default rule: all VIPs, ports 0..65535, both protocols, multiple hosts,
    /// single affinity.
    pub fn default_rule() -> Self {
        PortRule {
            name: "rule1".to_string(),
            vip: RuleVip::All,
            port_start: 0,
            port_end: 65535,
            protocol: Protocol::Both,
            filtering: Filtering::Multiple,
            affinity: Affinity::Single,
        }
    }

    /// True when the rule covers this VIP, transport and server port (ignoring precedence).
    pub fn covers(&self, vip: IpAddr, transport: Transport, port: u16) -> bool {
        let vip_ok = match self.vip {
            RuleVip::All => true,
            RuleVip::Addr(a) => a == vip,
        };
        vip_ok
            && self.protocol.covers(transport)
            && (self.port_start..=self.port_end).contains(&port)
    }

    /// True when both rules could claim one packet at the same precedence: same VIP scope,
    /// overlapping ports and protocols. Such a pair is a configuration error.
    pub fn overlaps(&self, other: &PortRule) -> bool {
        self.vip == other.vip
            && self.protocol.overlaps(&other.protocol)
            && self.port_start <= other.port_end
            && other.port_start <= self.port_end
    }

    /// A stable identity of what the rule covers, independent of its position and name,
    /// so that adding a rule does not reshuffle the tables of the others.
    pub fn identity(&self) -> u64 {
        let mut h = blake3::Hasher::new();
        h.update(b"nlb rule identity v1\0");
        match self.vip {
            RuleVip::All => h.update(&[0]),
            RuleVip::Addr(IpAddr::V4(a)) => h.update(&[4]).update(&a.octets()),
            RuleVip::Addr(IpAddr::V6(a)) => h.update(&[6]).update(&a.octets()),
        };
        h.update(&self.port_start.to_be_bytes());
        h.update(&self.port_end.to_be_bytes());
        h.update(self.protocol.as_str().as_bytes());
        let d = h.finalize();
        u64::from_le_bytes(d.as_bytes()[..8].try_into().expect("8 bytes"))
    }

    /// Ports as printed: `80` or `80-443`.
    pub fn ports_str(&self) -> String {
        if self.port_start == self.port_end {
            self.port_start.to_string()
        } else {
            format!("{}-{}", self.port_start, self.port_end)
        }
    }
}

impl fmt::Display for PortRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}:{}/{} {} affinity={}",
            self.name,
            self.vip,
            self.ports_str(),
            self.protocol.as_str(),
            self.filtering.as_str(),
            self.affinity.as_str()
        )
    }
}

/// Finds the rule covering a packet: a rule naming the VIP wins over an `all` rule.
/// Returns the rule's index, or `None` when no rule covers it (the default host's traffic).
pub fn find_rule(
    rules: &[PortRule],
    vip: IpAddr,
    transport: Transport,
    port: u16,
) -> Option<usize> {
    let mut fallback = None;
    for (i, r) in rules.iter().enumerate() {
        if r.covers(vip, transport, port) {
            match r.vip {
                RuleVip::Addr(_) => return Some(i),
                RuleVip::All => {
                    if fallback.is_none() {
                        fallback = Some(i)
                    }
                }
            }
        }
    }
    fallback
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(vip: RuleVip, a: u16, b: u16, p: Protocol) -> PortRule {
        PortRule {
            vip,
            port_start: a,
            port_end: b,
            protocol: p,
            ..PortRule::default_rule()
        }
    }

    #[test]
    fn specific_vip_wins_over_all() {
        let v: IpAddr = "198.51.100.10".parse().unwrap();
        let rules = vec![
            rule(RuleVip::All, 0, 65535, Protocol::Both),
            rule(RuleVip::Addr(v), 80, 80, Protocol::Tcp),
        ];
        assert_eq!(find_rule(&rules, v, Transport::Tcp, 80), Some(1));
        assert_eq!(find_rule(&rules, v, Transport::Udp, 80), Some(0));
        let other: IpAddr = "198.51.100.11".parse().unwrap();
        assert_eq!(find_rule(&rules, other, Transport::Tcp, 80), Some(0));
        assert_eq!(find_rule(&rules, v, Transport::Other(1), 0), None);
    }

    #[test]
    fn overlap_needs_same_scope_ports_and_protocol() {
        let v: IpAddr = "198.51.100.10".parse().unwrap();
        let a = rule(RuleVip::All, 80, 90, Protocol::Tcp);
        assert!(a.overlaps(&rule(RuleVip::All, 90, 100, Protocol::Both)));
        assert!(!a.overlaps(&rule(RuleVip::All, 91, 100, Protocol::Tcp)));
        assert!(!a.overlaps(&rule(RuleVip::All, 80, 90, Protocol::Udp)));
        assert!(!a.overlaps(&rule(RuleVip::Addr(v), 80, 90, Protocol::Tcp)));
    }

    #[test]
    fn identity_ignores_name_and_mode_but_not_coverage() {
        let a = rule(RuleVip::All, 80, 90, Protocol::Tcp);
        let mut b = a.clone();
        b.name = "web".into();
        b.affinity = Affinity::None;
        assert_eq!(a.identity(), b.identity());
        assert_ne!(
            a.identity(),
            rule(RuleVip::All, 80, 91, Protocol::Tcp).identity()
        );
    }
}
