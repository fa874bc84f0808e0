//! Builds the Ethernet frames the data path's tests and benchmarks feed to
//! BPF_PROG_RUN. Checksums are filled in, so captures of them read cleanly.

use std::net::Ipv4Addr;

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
    let mut sum = 0u32;
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
