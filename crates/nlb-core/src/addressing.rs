//! Cluster addressing: the MAC and multicast group addresses a cluster uses, derived
//! from its primary VIP exactly as Windows NLB derives them.
//!
//! For an IPv4 VIP `W.X.Y.Z` (octets written in hex below):
//!
//! | mode | cluster MAC | group |
//! |---|---|---|
//! | unicast | `02-bf-WW-XX-YY-ZZ` | |
//! | multicast | `03-bf-WW-XX-YY-ZZ` | |
//! | IGMP multicast | `01-00-5e-7f-YY-ZZ` | `239.255.Y.Z` |
//!
//! In unicast mode each host masks the source MAC of its outgoing frames as
//! `02-<host id>-WW-XX-YY-ZZ`, so that switches never learn the cluster MAC on one port.
//!
//! **IPv6 (nlb's own derivation; Windows defines none).** Let `W.X.Y.Z` be the last
//! 32 bits of the IPv6 VIP. Unicast and multicast modes use `02-bf-…` and `03-bf-…`
//! exactly as for IPv4. The IGMP-multicast mode becomes MLD: hosts join the
//! site-local group `ff05::efff:YYZZ` (`ef.ff` echoing 239.255), whose Ethernet
//! address by RFC 2464 is `33-33-ef-ff-YY-ZZ`. The masked source MAC is
//! `02-<host id>-WW-XX-YY-ZZ` as for IPv4.

use crate::mac::MacAddr;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// How frames for the VIP reach every host of the cluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OperationMode {
    /// The cluster MAC replaces each host NIC's MAC; the switch floods (Windows' default).
    Unicast,
    /// A multicast cluster MAC beside each NIC's own; flooded unless the switch is told ports.
    Multicast,
    /// A multicast cluster MAC plus an IGMP group the hosts join, for snooping switches.
    IgmpMulticast,
}

impl OperationMode {
    /// Every mode, in the order they are printed.
    pub const ALL: [OperationMode; 3] = [
        OperationMode::Unicast,
        OperationMode::Multicast,
        OperationMode::IgmpMulticast,
    ];

    /// The configuration and CLI spelling: `unicast`, `multicast`, `igmp-multicast`.
    pub fn as_str(&self) -> &'static str {
        match self {
            OperationMode::Unicast => "unicast",
            OperationMode::Multicast => "multicast",
            OperationMode::IgmpMulticast => "igmp-multicast",
        }
    }
}

impl fmt::Display for OperationMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for OperationMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "unicast" => Ok(OperationMode::Unicast),
            "multicast" => Ok(OperationMode::Multicast),
            "igmp-multicast" | "igmp" => Ok(OperationMode::IgmpMulticast),
            _ => Err("one of unicast, multicast, igmp-multicast".to_string()),
        }
    }
}

/// Why an address cannot be a cluster VIP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VipError {
    /// 0.0.0.0 or `::`.
    Unspecified,
    /// A multicast address.
    Multicast,
    /// 255.255.255.255.
    Broadcast,
    /// 127/8 or `::1`.
    Loopback,
}

impl fmt::Display for VipError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            VipError::Unspecified => "the unspecified address (all zeros) cannot be a VIP",
            VipError::Multicast => "a multicast address cannot be a VIP",
            VipError::Broadcast => "the broadcast address cannot be a VIP",
            VipError::Loopback => "a loopback address cannot be a VIP",
        })
    }
}

impl std::error::Error for VipError {}

/// Checks that `ip` can serve as a unicast virtual IP.
pub fn validate_vip(ip: IpAddr) -> Result<(), VipError> {
    if ip.is_unspecified() {
        return Err(VipError::Unspecified);
    }
    if ip.is_multicast() {
        return Err(VipError::Multicast);
    }
    if ip.is_loopback() {
        return Err(VipError::Loopback);
    }
    if let IpAddr::V4(v4) = ip {
        if v4.is_broadcast() {
            return Err(VipError::Broadcast);
        }
    }
    Ok(())
}

/// The four octets a VIP contributes to the cluster MACs: the IPv4 address, or
/// the last 32 bits of an IPv6 address.
fn vip_octets(vip: IpAddr) -> [u8; 4] {
    match vip {
        IpAddr::V4(v4) => v4.octets(),
        IpAddr::V6(v6) => {
            let o = v6.octets();
            [o[12], o[13], o[14], o[15]]
        }
    }
}

/// Every address a cluster derives from its primary VIP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClusterAddressing {
    /// The primary VIP the addresses derive from.
    pub vip: IpAddr,
}

impl ClusterAddressing {
    /// Derives the addressing of the cluster whose primary VIP is `vip`.
    pub fn new(vip: IpAddr) -> Result<Self, VipError> {
        validate_vip(vip)?;
        Ok(ClusterAddressing { vip })
    }

    /// The cluster MAC of `mode`: what ARP (or neighbour discovery) answers for every VIP.
    pub fn cluster_mac(&self, mode: OperationMode) -> MacAddr {
        let [w, x, y, z] = vip_octets(self.vip);
        match mode {
            OperationMode::Unicast => MacAddr([0x02, 0xbf, w, x, y, z]),
            OperationMode::Multicast => MacAddr([0x03, 0xbf, w, x, y, z]),
            OperationMode::IgmpMulticast => match self.vip {
                IpAddr::V4(_) => MacAddr([0x01, 0x00, 0x5e, 0x7f, y, z]),
                IpAddr::V6(_) => MacAddr([0x33, 0x33, 0xef, 0xff, y, z]),
            },
        }
    }

    /// The multicast group hosts join in IGMP-multicast mode: `239.255.Y.Z`, or
    /// `ff05::efff:YYZZ` for an IPv6 VIP (MLD).
    pub fn igmp_group(&self) -> IpAddr {
        let [_, _, y, z] = vip_octets(self.vip);
        match self.vip {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::new(239, 255, y, z)),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::new(
                0xff05,
                0,
                0,
                0,
                0,
                0,
                0xefff,
                u16::from_be_bytes([y, z]),
            )),
        }
    }

    /// The source MAC a host puts on its outgoing frames in unicast mode
    /// (Windows' MaskSourceMAC): `02-<host id>-WW-XX-YY-ZZ`.
    pub fn masked_source_mac(&self, host_id: u8) -> MacAddr {
        let [w, x, y, z] = vip_octets(self.vip);
        MacAddr([0x02, host_id, w, x, y, z])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> ClusterAddressing {
        ClusterAddressing::new(s.parse().unwrap()).unwrap()
    }

    #[test]
    fn domain_worked_example_172_31_3_232() {
        let a = addr("172.31.3.232");
        assert_eq!(
            a.cluster_mac(OperationMode::Unicast).windows(),
            "02-bf-ac-1f-03-e8"
        );
        assert_eq!(
            a.cluster_mac(OperationMode::Multicast).windows(),
            "03-bf-ac-1f-03-e8"
        );
        assert_eq!(
            a.cluster_mac(OperationMode::IgmpMulticast).windows(),
            "01-00-5e-7f-03-e8"
        );
        assert_eq!(a.igmp_group().to_string(), "239.255.3.232");
        assert_eq!(
            a.cluster_mac(OperationMode::IgmpMulticast).colon(),
            "01:00:5e:7f:03:e8"
        );
    }

    #[test]
    fn domain_worked_examples_other_vips() {
        assert_eq!(
            addr("199.99.20.70")
                .cluster_mac(OperationMode::Multicast)
                .windows(),
            "03-bf-c7-63-14-46"
        );
        assert_eq!(addr("10.0.0.1").igmp_group().to_string(), "239.255.0.1");
        // The Cisco static ARP example of the domain brief.
        assert_eq!(
            addr("172.31.1.232")
                .cluster_mac(OperationMode::Multicast)
                .cisco(),
            "03bf.ac1f.01e8"
        );
    }

    #[test]
    fn masked_source_mac_carries_host_id() {
        assert_eq!(
            addr("172.31.3.232").masked_source_mac(3).windows(),
            "02-03-ac-1f-03-e8"
        );
    }

    #[test]
    fn ipv6_derivation() {
        let a = addr("2001:db8::ac1f:3e8");
        assert_eq!(
            a.cluster_mac(OperationMode::Unicast).windows(),
            "02-bf-ac-1f-03-e8"
        );
        assert_eq!(
            a.cluster_mac(OperationMode::Multicast).windows(),
            "03-bf-ac-1f-03-e8"
        );
        assert_eq!(a.igmp_group().to_string(), "ff05::efff:3e8");
        // RFC 2464: 33-33 followed by the group's last 32 bits.
        assert_eq!(
            a.cluster_mac(OperationMode::IgmpMulticast).windows(),
            "33-33-ef-ff-03-e8"
        );
        assert_eq!(a.masked_source_mac(7).windows(), "02-07-ac-1f-03-e8");
    }

    #[test]
    fn multicast_modes_give_group_macs_and_unicast_does_not() {
        let a = addr("198.51.100.10");
        assert!(!a.cluster_mac(OperationMode::Unicast).is_multicast());
        assert!(a.cluster_mac(OperationMode::Multicast).is_multicast());
        assert!(a.cluster_mac(OperationMode::IgmpMulticast).is_multicast());
    }

    #[test]
    fn rejects_unusable_vips() {
        for (s, e) in [
            ("0.0.0.0", VipError::Unspecified),
            ("224.0.0.1", VipError::Multicast),
            ("239.255.3.232", VipError::Multicast),
            ("255.255.255.255", VipError::Broadcast),
            ("127.0.0.1", VipError::Loopback),
            ("::", VipError::Unspecified),
            ("ff02::1", VipError::Multicast),
            ("::1", VipError::Loopback),
        ] {
            assert_eq!(validate_vip(s.parse().unwrap()), Err(e), "{s}");
        }
    }

    #[test]
    fn mode_names_round_trip() {
        for m in OperationMode::ALL {
            assert_eq!(m.as_str().parse::<OperationMode>().unwrap(), m);
        }
        assert!("broadcast".parse::<OperationMode>().is_err());
    }
}
