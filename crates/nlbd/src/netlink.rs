//! The little rtnetlink this daemon needs, spoken directly: add and remove an IPv4
//! address on an interface (RTM_NEWADDR / RTM_DELADDR).

use std::io;
use std::net::Ipv4Addr;

const NLMSG_HDRLEN: usize = 16;
const IFA_LOCAL: u16 = 2;
const IFA_ADDRESS: u16 = 1;

fn nla(buf: &mut Vec<u8>, kind: u16, payload: &[u8]) {
    let len = 4 + payload.len();
    buf.extend_from_slice(&(len as u16).to_ne_bytes());
    buf.extend_from_slice(&kind.to_ne_bytes());
    buf.extend_from_slice(payload);
    while buf.len() % 4 != 0 {
        buf.push(0);
    }
}

/// Sends one rtnetlink request and waits for its acknowledgement; an error the kernel
/// reports is returned unless `benign` accepts its errno.
fn transact(mut msg: Vec<u8>, benign: impl Fn(i32) -> bool) -> io::Result<()> {
    let len = msg.len() as u32;
    msg[0..4].copy_from_slice(&len.to_ne_bytes());
    // SAFETY: plain socket syscalls on a descriptor we own and close, with buffers we own.
    unsafe {
        let fd = libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            libc::NETLINK_ROUTE,
        );
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        let result = (|| {
            if libc::send(fd, msg.as_ptr().cast(), msg.len(), 0) < 0 {
                return Err(io::Error::last_os_error());
            }
            let mut buf = [0u8; 512];
            let n = libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), 0);
            if n < (NLMSG_HDRLEN + 4) as isize {
                return Err(io::Error::last_os_error());
            }
            if u16::from_ne_bytes([buf[4], buf[5]]) == libc::NLMSG_ERROR as u16 {
                let errno = -i32::from_ne_bytes(buf[16..20].try_into().expect("4 bytes"));
                if errno != 0 && !benign(errno) {
                    return Err(io::Error::from_raw_os_error(errno));
                }
            }
            Ok(())
        })();
        libc::close(fd);
        result
    }
}

/// A netlink header (length filled in by `transact`).
fn header(kind: u16, flags: i32) -> Vec<u8> {
    let mut msg = Vec::with_capacity(64);
    msg.extend_from_slice(&0u32.to_ne_bytes());
    msg.extend_from_slice(&kind.to_ne_bytes());
    msg.extend_from_slice(&((flags | libc::NLM_F_REQUEST | libc::NLM_F_ACK) as u16).to_ne_bytes());
    msg.extend_from_slice(&1u32.to_ne_bytes()); // sequence
    msg.extend_from_slice(&0u32.to_ne_bytes()); // port id
    msg
}

/// Adds (`add`) or removes an address with prefix `prefix` on interface `ifindex`.
/// Adding an existing address, or removing a missing one, is not an error.
pub fn address(ifindex: u32, addr: Ipv4Addr, prefix: u8, add: bool) -> io::Result<()> {
    let mut msg = if add {
        header(libc::RTM_NEWADDR, libc::NLM_F_CREATE | libc::NLM_F_REPLACE)
    } else {
        header(libc::RTM_DELADDR, 0)
    };
    // struct ifaddrmsg
    msg.extend_from_slice(&[libc::AF_INET as u8, prefix, 0, libc::RT_SCOPE_UNIVERSE]);
    msg.extend_from_slice(&ifindex.to_ne_bytes());
    nla(&mut msg, IFA_LOCAL, &addr.octets());
    nla(&mut msg, IFA_ADDRESS, &addr.octets());
    transact(msg, |errno| {
        (add && errno == libc::EEXIST) || (!add && errno == libc::EADDRNOTAVAIL)
    })
}

const IFLA_XDP: u16 = 43;
const IFLA_XDP_FD: u16 = 1;
const IFLA_XDP_FLAGS: u16 = 3;
const NLA_F_NESTED: u16 = 0x8000;
/// XDP_FLAGS_SKB_MODE: generic XDP.
pub const XDP_FLAGS_SKB_MODE: u32 = 1 << 1;
/// XDP_FLAGS_DRV_MODE: native XDP.
pub const XDP_FLAGS_DRV_MODE: u32 = 1 << 2;

/// Attaches the XDP program `prog_fd` to `ifindex` through rtnetlink (-1 detaches).
///
/// Unlike a BPF link, an attachment made this way belongs to the device and outlives
/// this process: if nlbd dies, the program keeps running, its lease deadline passes and
/// the host stops admitting new flows by itself (fail closed).
pub fn set_xdp(ifindex: u32, prog_fd: i32, flags: u32) -> io::Result<()> {
    let mut msg = header(libc::RTM_SETLINK, 0);
    // struct ifinfomsg
    msg.extend_from_slice(&[libc::AF_UNSPEC as u8, 0, 0, 0]);
    msg.extend_from_slice(&(ifindex as i32).to_ne_bytes());
    msg.extend_from_slice(&0u32.to_ne_bytes());
    msg.extend_from_slice(&0u32.to_ne_bytes());
    let mut inner = Vec::new();
    nla(&mut inner, IFLA_XDP_FD, &prog_fd.to_ne_bytes());
    nla(&mut inner, IFLA_XDP_FLAGS, &flags.to_ne_bytes());
    nla(&mut msg, IFLA_XDP | NLA_F_NESTED, &inner);
    transact(msg, |_| false)
}

const IFLA_ADDRESS: u16 = 1;

/// Sets the hardware address of `ifindex` (unicast mode: the cluster MAC).
pub fn set_mac(ifindex: u32, mac: [u8; 6]) -> io::Result<()> {
    let mut msg = header(libc::RTM_SETLINK, 0);
    // struct ifinfomsg
    msg.extend_from_slice(&[libc::AF_UNSPEC as u8, 0, 0, 0]);
    msg.extend_from_slice(&(ifindex as i32).to_ne_bytes());
    msg.extend_from_slice(&0u32.to_ne_bytes());
    msg.extend_from_slice(&0u32.to_ne_bytes());
    nla(&mut msg, IFLA_ADDRESS, &mac);
    transact(msg, |_| false)
}

/// Removes the clsact qdisc of `ifindex` and every filter on it; a missing one is not
/// an error.
pub fn delete_clsact(ifindex: u32) -> io::Result<()> {
    let mut msg = header(libc::RTM_DELQDISC, 0);
    // struct tcmsg: family, padding, ifindex, handle, parent, info
    msg.extend_from_slice(&[libc::AF_UNSPEC as u8, 0, 0, 0]);
    msg.extend_from_slice(&(ifindex as i32).to_ne_bytes());
    msg.extend_from_slice(&0xffff_0000u32.to_ne_bytes());
    msg.extend_from_slice(&0xffff_fff1u32.to_ne_bytes());
    msg.extend_from_slice(&0u32.to_ne_bytes());
    nla(&mut msg, 1 /* TCA_KIND */, b"clsact\0");
    transact(msg, |errno| errno == libc::ENOENT || errno == libc::EINVAL)
}
