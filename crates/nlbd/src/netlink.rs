//! The rtnetlink requests this daemon makes, through netlink-packet-route and
//! netlink-sys: an IPv4 address on an interface, the XDP program of an interface, its
//! hardware address, and removing the clsact qdisc. Each request carries its own
//! sequence number, and only the acknowledgement that echoes it is taken as the answer.

use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL,
    NLM_F_REPLACE, NLM_F_REQUEST,
};
use netlink_packet_route::address::{
    AddressAttribute, AddressFlags, AddressHeaderFlags, AddressMessage, AddressScope,
};
use netlink_packet_route::link::{InfoKind, LinkAttribute, LinkInfo, LinkMessage, LinkXdp};
use netlink_packet_route::neighbour::{
    NeighbourAttribute, NeighbourFlags, NeighbourMessage, NeighbourState,
};
use netlink_packet_route::tc::{TcAttribute, TcHandle, TcMessage};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};
use rustix::io::Errno;
use std::io;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU32, Ordering};

/// XDP_FLAGS_SKB_MODE: generic XDP.
pub const XDP_FLAGS_SKB_MODE: u32 = 1 << 1;
/// XDP_FLAGS_DRV_MODE: native XDP.
pub const XDP_FLAGS_DRV_MODE: u32 = 1 << 2;

/// Sequence numbers of this process's requests.
static SEQUENCE: AtomicU32 = AtomicU32::new(1);

/// Sends one request and waits for the acknowledgement that echoes its sequence
/// number; an error the kernel reports is returned unless `benign` accepts its errno.
fn transact(
    message: RouteNetlinkMessage,
    flags: u16,
    benign: impl Fn(i32) -> bool,
) -> io::Result<()> {
    exchange(message, flags, benign).map(drop)
}

/// Sends one request and returns the messages answering it (those echoing its
/// sequence number) up to its acknowledgement.
fn exchange(
    message: RouteNetlinkMessage,
    flags: u16,
    benign: impl Fn(i32) -> bool,
) -> io::Result<Vec<RouteNetlinkMessage>> {
    let mut socket = Socket::new(NETLINK_ROUTE)?;
    socket.bind_auto()?;
    socket.connect(&SocketAddr::new(0, 0))?;
    let sequence = SEQUENCE.fetch_add(1, Ordering::Relaxed);
    let mut header = NetlinkHeader::default();
    header.flags = NLM_F_REQUEST | NLM_F_ACK | flags;
    header.sequence_number = sequence;
    let mut request = NetlinkMessage::new(header, NetlinkPayload::from(message));
    request.finalize();
    let mut buf = vec![0; request.buffer_len()];
    request.serialize(&mut buf);
    socket.send(&buf, 0)?;
    let mut answer = vec![0u8; 16384];
    let mut answers = Vec::new();
    loop {
        let n = socket.recv(&mut &mut answer[..], 0)?;
        let mut at = 0;
        while at < n {
            let reply = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&answer[at..n])
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
            let len = reply.header.length as usize;
            if reply.header.sequence_number == sequence {
                match reply.payload {
                    NetlinkPayload::Error(e) => {
                        return match e.code {
                            None => Ok(answers),
                            Some(code) if benign(-code.get()) => Ok(answers),
                            Some(_) => Err(e.to_io()),
                        };
                    }
                    NetlinkPayload::InnerMessage(m) => answers.push(m),
                    _ => {}
                }
            }
            if len == 0 {
                break;
            }
            at += len;
        }
    }
}

/// The kind of link `ifindex` is (veth, bridge, ...), or None for a plain device (a
/// NIC's driver gives none).
pub fn link_kind(ifindex: u32) -> io::Result<Option<InfoKind>> {
    let mut message = LinkMessage::default();
    message.header.index = ifindex;
    let answers = exchange(RouteNetlinkMessage::GetLink(message), 0, |_| false)?;
    Ok(answers.into_iter().find_map(|m| match m {
        RouteNetlinkMessage::NewLink(link) => link.attributes.into_iter().find_map(|a| match a {
            LinkAttribute::LinkInfo(info) => info.into_iter().find_map(|i| match i {
                LinkInfo::Kind(kind) => Some(kind),
                _ => None,
            }),
            _ => None,
        }),
        _ => None,
    }))
}

/// Adds (`add`) or removes a host address (/32 or /128) on interface `ifindex`.
/// Adding an existing address, or removing a missing one, is not an error.
pub fn address(ifindex: u32, addr: IpAddr, add: bool) -> io::Result<()> {
    let mut message = AddressMessage::default();
    message.header.scope = AddressScope::Universe;
    message.header.index = ifindex;
    message.attributes = vec![
        AddressAttribute::Local(addr),
        AddressAttribute::Address(addr),
    ];
    match addr {
        IpAddr::V4(_) => {
            message.header.family = AddressFamily::Inet;
            message.header.prefix_len = 32;
        }
        IpAddr::V6(_) => {
            message.header.family = AddressFamily::Inet6;
            message.header.prefix_len = 128;
            // No duplicate address detection: every member holds the VIP, and DAD
            // would find it "duplicate" and disable it.
            message.header.flags = AddressHeaderFlags::Nodad;
            message
                .attributes
                .push(AddressAttribute::Flags(AddressFlags::Nodad));
        }
    }
    if add {
        transact(
            RouteNetlinkMessage::NewAddress(message),
            NLM_F_CREATE | NLM_F_REPLACE,
            |errno| errno == Errno::EXIST.raw_os_error(),
        )
    } else {
        transact(RouteNetlinkMessage::DelAddress(message), 0, |errno| {
            errno == Errno::ADDRNOTAVAIL.raw_os_error()
        })
    }
}

/// A link message for `ifindex` with `attributes`.
fn link(ifindex: u32, attributes: Vec<LinkAttribute>) -> RouteNetlinkMessage {
    let mut message = LinkMessage::default();
    message.header.index = ifindex;
    message.attributes = attributes;
    RouteNetlinkMessage::SetLink(message)
}

/// Attaches the XDP program `prog_fd` to `ifindex` through rtnetlink (-1 detaches).
///
/// Unlike a BPF link, an attachment made this way belongs to the device and outlives
/// this process: if nlbd dies, the program keeps running, its lease deadline passes and
/// the host stops admitting new flows by itself (fail closed).
pub fn set_xdp(ifindex: u32, prog_fd: i32, flags: u32) -> io::Result<()> {
    let xdp = vec![LinkXdp::Fd(prog_fd), LinkXdp::Flags(flags)];
    transact(link(ifindex, vec![LinkAttribute::Xdp(xdp)]), 0, |_| false)
}

/// Sets the hardware address of `ifindex` (unicast mode: the cluster MAC).
pub fn set_mac(ifindex: u32, mac: [u8; 6]) -> io::Result<()> {
    transact(
        link(ifindex, vec![LinkAttribute::Address(mac.to_vec())]),
        0,
        |_| false,
    )
}

/// Removes the clsact qdisc of `ifindex` and every filter on it; a missing one is not
/// an error.
pub fn delete_clsact(ifindex: u32) -> io::Result<()> {
    let mut message = TcMessage::with_index(ifindex as i32);
    message.header.handle = TcHandle {
        major: 0xffff,
        minor: 0,
    };
    message.header.parent = TcHandle::CLSACT;
    message.attributes = vec![TcAttribute::Kind("clsact".into())];
    transact(
        RouteNetlinkMessage::DelQueueDiscipline(message),
        0,
        |errno| errno == Errno::NOENT.raw_os_error() || errno == Errno::INVAL.raw_os_error(),
    )
}

/// Adds (`add`) or removes `mac` among the unicast addresses `ifindex` receives besides
/// its own (`bridge fdb add MAC dev IF self permanent`): a NIC with a unicast filter
/// takes it into the filter, one without (veth) turns promiscuous. An address already
/// there, or already gone, is not an error.
pub fn unicast_filter(ifindex: u32, mac: [u8; 6], add: bool) -> io::Result<()> {
    let mut message = NeighbourMessage::default();
    message.header.family = AddressFamily::Bridge;
    message.header.ifindex = ifindex;
    message.header.state = NeighbourState::Permanent;
    message.header.flags = NeighbourFlags::Own;
    message.attributes = vec![NeighbourAttribute::LinkLayerAddress(mac.to_vec())];
    if add {
        transact(
            RouteNetlinkMessage::NewNeighbour(message),
            NLM_F_CREATE | NLM_F_EXCL,
            |errno| errno == Errno::EXIST.raw_os_error(),
        )
    } else {
        transact(RouteNetlinkMessage::DelNeighbour(message), 0, |errno| {
            errno == Errno::NOENT.raw_os_error() || errno == Errno::ADDRNOTAVAIL.raw_os_error()
        })
    }
}
