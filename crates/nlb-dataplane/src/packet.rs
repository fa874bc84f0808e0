//! Builds the Ethernet frames the data path's tests and benchmarks feed to
//! BPF_PROG_RUN. Checksums are filled in, so captures of them read cleanly.

use std::net::{Ipv4Addr, Ipv6Addr};

/// TCP flag bits.
pub mod tcp_flags {
    /// FIN.
    pub const FIN: u8 = 0x01;
    /// SYN.
    pub const SYN: u8 = 0x02;
    /// RST.
    pub const RST: u8 = 0x04;
    /// ACK.
    pub const ACK: u8 = 0x10;
}

fn checksum(bytes: &[u8]) -> u16 {
    checksum_with(0, bytes)
}

/// The one's complement checksum of `bytes`, starting from the partial sum `sum`.
fn checksum_with(mut sum: u32, bytes: &[u8]) -> u16 {
    for pair in bytes.chunks(2) {
        let word = u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)]);
        sum += u32::from(word);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An Ethernet header.
pub fn ethernet(dst: [u8; 6], src: [u8; 6], ethertype: u16) -> Vec<u8> {
    let mut f = Vec::with_capacity(64);
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&ethertype.to_be_bytes());
    f
}

/// Fragment fields of an IPv4 header.
#[derive(Clone, Copy, Debug, Default)]
pub struct Fragment {
    /// The IP id.
    pub id: u16,
    /// Offset in 8-byte units (0: first fragment).
    pub offset: u16,
    /// More fragments follow.
    pub more: bool,
}

/// An IPv4 packet in an Ethernet frame.
pub fn ipv4(
    dst_mac: [u8; 6],
    src: Ipv4Addr,
    dst: Ipv4Addr,
    proto: u8,
    frag: Fragment,
    payload: &[u8],
) -> Vec<u8> {
    let mut f = ethernet(dst_mac, [2, 0, 0, 0, 0, 0xc1], 0x0800);
    let total = (20 + payload.len()) as u16;
    let frag_field = frag.offset & 0x1fff | if frag.more { 0x2000 } else { 0 };
    let mut ip = vec![0x45, 0];
    ip.extend_from_slice(&total.to_be_bytes());
    ip.extend_from_slice(&frag.id.to_be_bytes());
    ip.extend_from_slice(&frag_field.to_be_bytes());
    ip.extend_from_slice(&[64, proto, 0, 0]);
    ip.extend_from_slice(&src.octets());
    ip.extend_from_slice(&dst.octets());
    let c = checksum(&ip);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    f.extend_from_slice(&ip);
    f.extend_from_slice(payload);
    f
}

/// A TCP header (no options) with `flags`.
pub fn tcp_header(sport: u16, dport: u16, flags: u8) -> Vec<u8> {
    let mut t = Vec::with_capacity(20);
    t.extend_from_slice(&sport.to_be_bytes());
    t.extend_from_slice(&dport.to_be_bytes());
    t.extend_from_slice(&1u32.to_be_bytes());
    t.extend_from_slice(&0u32.to_be_bytes());
    t.extend_from_slice(&[0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
    t
}

/// A TCP segment from a client to a VIP.
pub fn tcp(
    dst_mac: [u8; 6],
    client: Ipv4Addr,
    vip: Ipv4Addr,
    sport: u16,
    dport: u16,
    flags: u8,
) -> Vec<u8> {
    ipv4(
        dst_mac,
        client,
        vip,
        6,
        Fragment::default(),
        &tcp_header(sport, dport, flags),
    )
}

/// A UDP datagram from a client to a VIP.
pub fn udp(
    dst_mac: [u8; 6],
    client: Ipv4Addr,
    vip: Ipv4Addr,
    sport: u16,
    dport: u16,
    frag: Fragment,
) -> Vec<u8> {
    let mut u = Vec::new();
    u.extend_from_slice(&sport.to_be_bytes());
    u.extend_from_slice(&dport.to_be_bytes());
    u.extend_from_slice(&16u16.to_be_bytes());
    u.extend_from_slice(&[0, 0]);
    u.extend_from_slice(b"nlb-test");
    ipv4(dst_mac, client, vip, 17, frag, &u)
}

/// ICMP "fragmentation needed" from a router about a TCP segment the VIP sent to a
/// client (the quoted header runs VIP -> client).
pub fn icmp_frag_needed(
    dst_mac: [u8; 6],
    router: Ipv4Addr,
    vip: Ipv4Addr,
    client: Ipv4Addr,
    client_port: u16,
    vip_port: u16,
) -> Vec<u8> {
    let quoted = ipv4(
        [0; 6],
        vip,
        client,
        6,
        Fragment::default(),
        &tcp_header(vip_port, client_port, tcp_flags::ACK),
    );
    let mut icmp = vec![3, 4, 0, 0, 0, 0, 0x05, 0xdc];
    icmp.extend_from_slice(&quoted[14..14 + 28]);
    let c = checksum(&icmp);
    icmp[2..4].copy_from_slice(&c.to_be_bytes());
    ipv4(dst_mac, router, vip, 1, Fragment::default(), &icmp)
}

/// An ICMP echo request.
pub fn icmp_echo(dst_mac: [u8; 6], client: Ipv4Addr, vip: Ipv4Addr) -> Vec<u8> {
    let mut icmp = vec![8, 0, 0, 0, 0, 1, 0, 1];
    icmp.extend_from_slice(b"nlb-ping");
    let c = checksum(&icmp);
    icmp[2..4].copy_from_slice(&c.to_be_bytes());
    ipv4(dst_mac, client, vip, 1, Fragment::default(), &icmp)
}

/// An ARP request, broadcast: who has `target`? tell `sender`.
pub fn arp_request(sender_mac: [u8; 6], sender: Ipv4Addr, target: Ipv4Addr) -> Vec<u8> {
    let mut f = ethernet([0xff; 6], sender_mac, 0x0806);
    f.extend_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1]);
    f.extend_from_slice(&sender_mac);
    f.extend_from_slice(&sender.octets());
    f.extend_from_slice(&[0; 6]);
    f.extend_from_slice(&target.octets());
    f
}

/// A gratuitous ARP announcing that `vip` is at `cluster_mac`, broadcast from
/// `source_mac` (the masked MAC in unicast mode): sender and target address are both
/// the VIP, so switches and neighbours with a stale entry update it.
pub fn gratuitous_arp(source_mac: [u8; 6], cluster_mac: [u8; 6], vip: Ipv4Addr) -> Vec<u8> {
    let mut f = ethernet([0xff; 6], source_mac, 0x0806);
    f.extend_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1]);
    f.extend_from_slice(&cluster_mac);
    f.extend_from_slice(&vip.octets());
    f.extend_from_slice(&[0; 6]);
    f.extend_from_slice(&vip.octets());
    f
}

/// Fragment fields of an IPv6 fragment header.
#[derive(Clone, Copy, Debug, Default)]
pub struct Fragment6 {
    /// The identification.
    pub id: u32,
    /// Offset in 8-byte units (0: first fragment).
    pub offset: u16,
    /// More fragments follow.
    pub more: bool,
}

/// The checksum of an upper-layer message over IPv6 (RFC 8200 §8.1).
fn checksum6(src: Ipv6Addr, dst: Ipv6Addr, next: u8, msg: &[u8]) -> u16 {
    let mut pseudo = Vec::with_capacity(40);
    pseudo.extend_from_slice(&src.octets());
    pseudo.extend_from_slice(&dst.octets());
    pseudo.extend_from_slice(&(msg.len() as u32).to_be_bytes());
    pseudo.extend_from_slice(&[0, 0, 0, next]);
    let mut sum = 0u32;
    for pair in pseudo.chunks(2) {
        sum += u32::from(u16::from_be_bytes([pair[0], pair[1]]));
    }
    checksum_with(sum, msg)
}

/// An IPv6 packet in an Ethernet frame carrying `next` (with a fragment header before
/// it when `frag` is given), hop limit `hops`.
pub fn ipv6(
    dst_mac: [u8; 6],
    src: Ipv6Addr,
    dst: Ipv6Addr,
    next: u8,
    frag: Option<Fragment6>,
    payload: &[u8],
) -> Vec<u8> {
    ipv6_hops(
        dst_mac,
        [2, 0, 0, 0, 0, 0xc1],
        src,
        dst,
        next,
        frag,
        64,
        payload,
    )
}

#[allow(clippy::too_many_arguments)]
fn ipv6_hops(
    dst_mac: [u8; 6],
    src_mac: [u8; 6],
    src: Ipv6Addr,
    dst: Ipv6Addr,
    next: u8,
    frag: Option<Fragment6>,
    hops: u8,
    payload: &[u8],
) -> Vec<u8> {
    let mut f = ethernet(dst_mac, src_mac, 0x86dd);
    let ext = if frag.is_some() { 8 } else { 0 };
    f.extend_from_slice(&[0x60, 0, 0, 0]);
    f.extend_from_slice(&((ext + payload.len()) as u16).to_be_bytes());
    f.push(if frag.is_some() { 44 } else { next });
    f.push(hops);
    f.extend_from_slice(&src.octets());
    f.extend_from_slice(&dst.octets());
    if let Some(fr) = frag {
        f.extend_from_slice(&[next, 0]);
        f.extend_from_slice(&(fr.offset << 3 | u16::from(fr.more)).to_be_bytes());
        f.extend_from_slice(&fr.id.to_be_bytes());
    }
    f.extend_from_slice(payload);
    f
}

/// A TCP segment from an IPv6 client to a VIP.
pub fn tcp6(
    dst_mac: [u8; 6],
    client: Ipv6Addr,
    vip: Ipv6Addr,
    sport: u16,
    dport: u16,
    flags: u8,
) -> Vec<u8> {
    let mut t = tcp_header(sport, dport, flags);
    let c = checksum6(client, vip, 6, &t);
    t[16..18].copy_from_slice(&c.to_be_bytes());
    ipv6(dst_mac, client, vip, 6, None, &t)
}

/// A UDP datagram from an IPv6 client to a VIP (a first fragment when `frag` says so).
pub fn udp6(
    dst_mac: [u8; 6],
    client: Ipv6Addr,
    vip: Ipv6Addr,
    sport: u16,
    dport: u16,
    frag: Option<Fragment6>,
) -> Vec<u8> {
    let mut u = Vec::new();
    u.extend_from_slice(&sport.to_be_bytes());
    u.extend_from_slice(&dport.to_be_bytes());
    u.extend_from_slice(&16u16.to_be_bytes());
    u.extend_from_slice(&[0, 0]);
    u.extend_from_slice(b"nlb-test");
    let c = checksum6(client, vip, 17, &u);
    u[6..8].copy_from_slice(&c.to_be_bytes());
    ipv6(dst_mac, client, vip, 17, frag, &u)
}

/// An ICMPv6 message of `icmp_type` (checksum filled in) from `src` to `dst`.
fn icmp6(dst_mac: [u8; 6], src: Ipv6Addr, dst: Ipv6Addr, mut msg: Vec<u8>) -> Vec<u8> {
    let c = checksum6(src, dst, 58, &msg);
    msg[2..4].copy_from_slice(&c.to_be_bytes());
    ipv6(dst_mac, src, dst, 58, None, &msg)
}

/// ICMPv6 Packet Too Big (MTU 1280) from a router about a TCP segment the VIP sent to a
/// client (the quoted header runs VIP -> client).
pub fn icmp6_packet_too_big(
    dst_mac: [u8; 6],
    router: Ipv6Addr,
    vip: Ipv6Addr,
    client: Ipv6Addr,
    client_port: u16,
    vip_port: u16,
) -> Vec<u8> {
    let quoted = tcp6([0; 6], vip, client, vip_port, client_port, tcp_flags::ACK);
    let mut msg = vec![2, 0, 0, 0];
    msg.extend_from_slice(&1280u32.to_be_bytes());
    msg.extend_from_slice(&quoted[14..]);
    icmp6(dst_mac, router, vip, msg)
}

/// An ICMPv6 echo request.
pub fn icmp6_echo(dst_mac: [u8; 6], client: Ipv6Addr, vip: Ipv6Addr) -> Vec<u8> {
    let mut msg = vec![128, 0, 0, 0, 0, 1, 0, 1];
    msg.extend_from_slice(b"nlb-ping");
    icmp6(dst_mac, client, vip, msg)
}

/// The solicited-node multicast group of `addr` (RFC 4291 §2.7.1) and its MAC.
pub fn solicited_node(addr: Ipv6Addr) -> (Ipv6Addr, [u8; 6]) {
    let o = addr.octets();
    let group = Ipv6Addr::new(
        0xff02,
        0,
        0,
        0,
        0,
        1,
        0xff00 | u16::from(o[13]),
        u16::from_be_bytes([o[14], o[15]]),
    );
    let g = group.octets();
    (group, [0x33, 0x33, g[12], g[13], g[14], g[15]])
}

/// A Neighbor Solicitation for `target` from `sender` (with its link-layer address
/// option), to the target's solicited-node group; from `::` (duplicate address
/// detection) it carries no option.
pub fn neighbour_solicitation(sender_mac: [u8; 6], sender: Ipv6Addr, target: Ipv6Addr) -> Vec<u8> {
    let (group, group_mac) = solicited_node(target);
    let mut msg = vec![135, 0, 0, 0, 0, 0, 0, 0];
    msg.extend_from_slice(&target.octets());
    if !sender.is_unspecified() {
        msg.extend_from_slice(&[1, 1]);
        msg.extend_from_slice(&sender_mac);
    }
    let c = checksum6(sender, group, 58, &msg);
    msg[2..4].copy_from_slice(&c.to_be_bytes());
    ipv6_hops(group_mac, sender_mac, sender, group, 58, None, 255, &msg)
}

/// An unsolicited Neighbor Advertisement (RFC 4861 §7.2.6) to all nodes, from
/// `source_mac`: `vip` is at `cluster_mac`, override what you had. IPv6's gratuitous ARP.
pub fn unsolicited_advertisement(
    source_mac: [u8; 6],
    cluster_mac: [u8; 6],
    vip: Ipv6Addr,
) -> Vec<u8> {
    let all_nodes = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
    let mut msg = vec![136, 0, 0, 0, 0x20, 0, 0, 0];
    msg.extend_from_slice(&vip.octets());
    msg.extend_from_slice(&[2, 1]);
    msg.extend_from_slice(&cluster_mac);
    let c = checksum6(vip, all_nodes, 58, &msg);
    msg[2..4].copy_from_slice(&c.to_be_bytes());
    ipv6_hops(
        [0x33, 0x33, 0, 0, 0, 1],
        source_mac,
        vip,
        all_nodes,
        58,
        None,
        255,
        &msg,
    )
}

/// Whether an ICMPv6 message in an IPv6 frame has a correct checksum.
pub fn icmp6_checksum_ok(frame: &[u8]) -> bool {
    if frame.len() < 54 {
        return false;
    }
    let src = Ipv6Addr::from(<[u8; 16]>::try_from(&frame[22..38]).expect("16 bytes"));
    let dst = Ipv6Addr::from(<[u8; 16]>::try_from(&frame[38..54]).expect("16 bytes"));
    checksum6(src, dst, 58, &frame[54..]) == 0
}
