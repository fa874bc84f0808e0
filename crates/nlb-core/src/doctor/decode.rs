//! Bounds-checked decoding of the few things `nlb doctor` reads in a frame: Ethernet
//! (with up to two VLAN tags), ARP, IPv4, IPv6 (walking its extension headers), ICMP
//! "fragmentation needed", ICMPv6 "packet too big", neighbour advertisements, IGMP and
//! MLD. Every read goes through `slice::get`, so no input can panic; what the analyzer
//! does not need is not decoded.

use crate::mac::MacAddr;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// EtherTypes read here.
const ETH_ARP: u16 = 0x0806;
const ETH_IPV4: u16 = 0x0800;
const ETH_IPV6: u16 = 0x86dd;
const ETH_VLAN: u16 = 0x8100;
const ETH_QINQ: u16 = 0x88a8;

/// At most this many IPv6 extension headers are walked before giving up on the upper layer.
const MAX_EXT_HEADERS: usize = 8;

/// One frame, as far as the analyzer cares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Frame {
    pub dst: MacAddr,
    pub src: MacAddr,
    /// The frame's length in bytes, as captured.
    pub len: usize,
    pub body: Body,
}

/// What the frame carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Body {
    /// An EtherType the analyzer does not read (heartbeats, LLDP, ...).
    Other,
    Arp(Arp),
    Ip(Ip),
}

/// An Ethernet/IPv4 ARP packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Arp {
    pub op: u16,
    pub sender_mac: MacAddr,
    pub sender_ip: Ipv4Addr,
    pub target_ip: Ipv4Addr,
}

/// An IPv4 or IPv6 packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Ip {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub upper: Upper,
}

/// The upper-layer content the analyzer reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Upper {
    Other,
    /// ICMP fragmentation needed (type 3 code 4) or ICMPv6 packet too big (type 2).
    TooBig {
        mtu: u32,
        quoted: Option<Flow>,
    },
    /// A neighbour advertisement: its target and target link-layer address option.
    NeighborAdvert {
        target: Ipv6Addr,
        tlla: Option<MacAddr>,
    },
    /// An IGMP or MLD query; `group` is None for a general query.
    Query {
        group: Option<IpAddr>,
    },
    /// IGMP or MLD membership reports: groups joined and groups left.
    Report {
        joined: Vec<IpAddr>,
        left: Vec<IpAddr>,
    },
}

/// The flow an ICMP error quotes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Flow {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub protocol: u8,
    pub ports: Option<(u16, u16)>,
}

impl std::fmt::Display for Flow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let proto = match self.protocol {
            6 => "TCP".to_string(),
            17 => "UDP".to_string(),
            1 => "ICMP".to_string(),
            58 => "ICMPv6".to_string(),
            p => format!("protocol {p}"),
        };
        match (self.ports, self.src, self.dst) {
            (Some((sp, dp)), IpAddr::V6(s), IpAddr::V6(d)) => {
                write!(f, "{proto} [{s}]:{sp} -> [{d}]:{dp}")
            }
            (Some((sp, dp)), s, d) => write!(f, "{proto} {s}:{sp} -> {d}:{dp}"),
            (None, s, d) => write!(f, "{proto} {s} -> {d}"),
        }
    }
}

fn u16_at(b: &[u8], i: usize) -> Option<u16> {
    Some(u16::from_be_bytes(b.get(i..i + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], i: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(i..i + 4)?.try_into().ok()?))
}

fn mac_at(b: &[u8], i: usize) -> Option<MacAddr> {
    Some(MacAddr(b.get(i..i + 6)?.try_into().ok()?))
}

fn v4_at(b: &[u8], i: usize) -> Option<Ipv4Addr> {
    let o: [u8; 4] = b.get(i..i + 4)?.try_into().ok()?;
    Some(Ipv4Addr::from(o))
}

fn v6_at(b: &[u8], i: usize) -> Option<Ipv6Addr> {
    let o: [u8; 16] = b.get(i..i + 16)?.try_into().ok()?;
    Some(Ipv6Addr::from(o))
}

/// Decodes a frame. None: too short for Ethernet, or an ARP, IPv4 or IPv6 header that
/// is truncated or malformed (the analyzer counts those as undecodable).
pub(crate) fn frame(b: &[u8]) -> Option<Frame> {
    let dst = mac_at(b, 0)?;
    let src = mac_at(b, 6)?;
    let mut at = 12;
    let mut ethertype = u16_at(b, at)?;
    for _ in 0..2 {
        if ethertype == ETH_VLAN || ethertype == ETH_QINQ {
            at += 4;
            ethertype = u16_at(b, at)?;
        }
    }
    let payload = b.get(at + 2..)?;
    let body = match ethertype {
        ETH_ARP => Body::Arp(arp(payload)?),
        ETH_IPV4 => Body::Ip(ipv4(payload)?),
        ETH_IPV6 => Body::Ip(ipv6(payload)?),
        _ => Body::Other,
    };
    Some(Frame {
        dst,
        src,
        len: b.len(),
        body,
    })
}

fn arp(b: &[u8]) -> Option<Arp> {
    // Ethernet (1) and IPv4 (0x0800), 6- and 4-byte addresses: the only ARP there is here.
    if u16_at(b, 0)? != 1 || u16_at(b, 2)? != ETH_IPV4 || b.get(4..6)? != [6, 4] {
        return None;
    }
    Some(Arp {
        op: u16_at(b, 6)?,
        sender_mac: mac_at(b, 8)?,
        sender_ip: v4_at(b, 14)?,
        target_ip: v4_at(b, 24)?,
    })
}

fn ipv4(b: &[u8]) -> Option<Ip> {
    let first = *b.first()?;
    let ihl = usize::from(first & 0x0f) * 4;
    if first >> 4 != 4 || ihl < 20 {
        return None;
    }
    let total = usize::from(u16_at(b, 2)?);
    if total < ihl || b.len() < ihl {
        return None;
    }
    // A capture may cut the packet short (snap length); read what is there.
    let body = b.get(ihl..total.min(b.len()))?;
    let fragment_offset = u16_at(b, 6)? & 0x1fff;
    let protocol = *b.get(9)?;
    let src = v4_at(b, 12)?;
    let dst = v4_at(b, 16)?;
    let upper = if fragment_offset != 0 {
        Upper::Other
    } else {
        match protocol {
            1 => icmp4(body),
            2 => igmp(body),
            _ => None,
        }
        .unwrap_or(Upper::Other)
    };
    Some(Ip {
        src: src.into(),
        dst: dst.into(),
        upper,
    })
}

/// The upper-layer protocol number and its bytes after walking IPv6 extension headers;
/// None when the walk cannot reach it (a later fragment, too many headers, truncated).
fn ipv6_upper(b: &[u8]) -> Option<(u8, &[u8])> {
    let payload_len = usize::from(u16_at(b, 4)?);
    let mut next = *b.get(6)?;
    let end = (40 + payload_len).min(b.len());
    let mut rest = b.get(40..end)?;
    for _ in 0..MAX_EXT_HEADERS {
        match next {
            0 | 43 | 60 => {
                let len = (usize::from(*rest.get(1)?) + 1) * 8;
                next = *rest.first()?;
                rest = rest.get(len..)?;
            }
            44 => {
                if u16_at(rest, 2)? & 0xfff8 != 0 {
                    return None;
                }
                next = *rest.first()?;
                rest = rest.get(8..)?;
            }
            _ => return Some((next, rest)),
        }
    }
    None
}

fn ipv6(b: &[u8]) -> Option<Ip> {
    if *b.first()? >> 4 != 6 {
        return None;
    }
    let src = v6_at(b, 8)?;
    let dst = v6_at(b, 24)?;
    let upper = match ipv6_upper(b) {
        Some((58, icmp)) => icmp6(icmp).unwrap_or(Upper::Other),
        _ => Upper::Other,
    };
    Some(Ip {
        src: src.into(),
        dst: dst.into(),
        upper,
    })
}

/// The ports of a quoted TCP or UDP header, if quoted.
fn ports(protocol: u8, l4: &[u8]) -> Option<(u16, u16)> {
    if protocol == 6 || protocol == 17 {
        Some((u16_at(l4, 0)?, u16_at(l4, 2)?))
    } else {
        None
    }
}

fn icmp4(b: &[u8]) -> Option<Upper> {
    if b.get(0..2)? != [3, 4] {
        return None;
    }
    let mtu = u32::from(u16_at(b, 6)?);
    let quoted = b.get(8..).and_then(|q| {
        let ihl = usize::from(*q.first()? & 0x0f) * 4;
        if *q.first()? >> 4 != 4 || ihl < 20 {
            return None;
        }
        let protocol = *q.get(9)?;
        Some(Flow {
            src: v4_at(q, 12)?.into(),
            dst: v4_at(q, 16)?.into(),
            protocol,
            ports: q.get(ihl..).and_then(|l4| ports(protocol, l4)),
        })
    });
    Some(Upper::TooBig { mtu, quoted })
}

fn icmp6(b: &[u8]) -> Option<Upper> {
    match *b.first()? {
        2 => {
            let mtu = u32_at(b, 4)?;
            let quoted = b.get(8..).and_then(|q| {
                if *q.first()? >> 4 != 6 {
                    return None;
                }
                let (protocol, l4) = ipv6_upper(q)
                    .map(|(p, l4)| (p, Some(l4)))
                    .or_else(|| Some((*q.get(6)?, None)))?;
                Some(Flow {
                    src: v6_at(q, 8)?.into(),
                    dst: v6_at(q, 24)?.into(),
                    protocol,
                    ports: l4.and_then(|l4| ports(protocol, l4)),
                })
            });
            Some(Upper::TooBig { mtu, quoted })
        }
        136 => {
            let target = v6_at(b, 8)?;
            let mut tlla = None;
            let mut opts = b.get(24..)?;
            while opts.len() >= 8 {
                let (kind, len) = (opts[0], usize::from(opts[1]) * 8);
                if len == 0 {
                    break;
                }
                if kind == 2 {
                    tlla = mac_at(opts, 2);
                }
                opts = opts.get(len..).unwrap_or(&[]);
            }
            Some(Upper::NeighborAdvert { target, tlla })
        }
        130 => {
            let group = v6_at(b, 8)?;
            Some(Upper::Query {
                group: (!group.is_unspecified()).then_some(group.into()),
            })
        }
        131 => Some(Upper::Report {
            joined: vec![v6_at(b, 8)?.into()],
            left: vec![],
        }),
        132 => Some(Upper::Report {
            joined: vec![],
            left: vec![v6_at(b, 8)?.into()],
        }),
        143 => {
            let n = usize::from(u16_at(b, 6)?);
            let (joined, left) = records(b.get(8..)?, n, 16, |r| v6_at(r, 4).map(IpAddr::V6));
            Some(Upper::Report { joined, left })
        }
        _ => None,
    }
}

fn igmp(b: &[u8]) -> Option<Upper> {
    match *b.first()? {
        0x11 => {
            let group = v4_at(b, 4)?;
            Some(Upper::Query {
                group: (!group.is_unspecified()).then_some(group.into()),
            })
        }
        0x12 | 0x16 => Some(Upper::Report {
            joined: vec![v4_at(b, 4)?.into()],
            left: vec![],
        }),
        0x17 => Some(Upper::Report {
            joined: vec![],
            left: vec![v4_at(b, 4)?.into()],
        }),
        0x22 => {
            let n = usize::from(u16_at(b, 6)?);
            let (joined, left) = records(b.get(8..)?, n, 4, |r| v4_at(r, 4).map(IpAddr::V4));
            Some(Upper::Report { joined, left })
        }
        _ => None,
    }
}

/// IGMPv3 / MLDv2 group records: each is type, aux length (32-bit words), source count,
/// the group, the sources and the aux data. A record that excludes nothing or changes
/// to exclude is a join; one that includes no source is a leave. Stops at truncation.
fn records(
    mut b: &[u8],
    n: usize,
    addr_len: usize,
    group: impl Fn(&[u8]) -> Option<IpAddr>,
) -> (Vec<IpAddr>, Vec<IpAddr>) {
    let (mut joined, mut left) = (Vec::new(), Vec::new());
    for _ in 0..n {
        let (Some(&kind), Some(&aux), Some(sources)) = (b.first(), b.get(1), u16_at(b, 2)) else {
            break;
        };
        let Some(g) = group(b) else { break };
        let len = 4 + addr_len + usize::from(sources) * addr_len + usize::from(aux) * 4;
        match kind {
            // MODE_IS_EXCLUDE, CHANGE_TO_EXCLUDE: receive from every source.
            2 | 4 => joined.push(g),
            // MODE_IS_INCLUDE, CHANGE_TO_INCLUDE, ALLOW: a join when sources are named.
            1 | 3 | 5 if sources > 0 => joined.push(g),
            3 => left.push(g),
            _ => {}
        }
        let Some(rest) = b.get(len..) else { break };
        b = rest;
    }
    (joined, left)
}
