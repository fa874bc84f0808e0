//! The address of an AF_PACKET socket (`struct sockaddr_ll`), which rustix has no type
//! for: with it nlbd's heartbeat socket and the lab's flood senders bind through
//! rustix's safe `bind`, and the one `unsafe` that hands the address to the kernel is
//! here.

use rustix::net::addr::{SocketAddrArg, SocketAddrLen, SocketAddrOpaque};

/// A packet socket's address: an interface and an EtherType (0: none, for a socket
/// that only sends).
pub struct LinkAddr(libc::sockaddr_ll);

impl LinkAddr {
    /// Interface `ifindex`, frames of EtherType `ethertype` (host order).
    pub fn new(ifindex: u32, ethertype: u16) -> Self {
        LinkAddr(libc::sockaddr_ll {
            sll_family: libc::AF_PACKET as u16,
            sll_protocol: ethertype.to_be(),
            sll_ifindex: ifindex as i32,
            sll_hatype: 0,
            sll_pkttype: 0,
            sll_halen: 0,
            sll_addr: [0; 8],
        })
    }
}

// SAFETY: `f` gets a pointer to the whole `sockaddr_ll` this value holds and that
// struct's size, valid for the duration of the call: a valid AF_PACKET address.
unsafe impl SocketAddrArg for LinkAddr {
    unsafe fn with_sockaddr<R>(
        &self,
        f: impl FnOnce(*const SocketAddrOpaque, SocketAddrLen) -> R,
    ) -> R {
        f(
            (&self.0 as *const libc::sockaddr_ll).cast(),
            size_of::<libc::sockaddr_ll>() as SocketAddrLen,
        )
    }
}

/// What a packet socket asks its interface to receive besides frames to its own MAC,
/// for as long as the socket lives.
#[derive(Clone, Copy, Debug)]
pub enum Membership {
    /// Frames to this group MAC (the interface's multicast filter).
    Multicast([u8; 6]),
    /// Every frame (promiscuous mode).
    Promiscuous,
}

/// Adds `what` to the packet socket `fd` on interface `ifindex` (PACKET_ADD_MEMBERSHIP,
/// which rustix has no call for).
pub fn add_membership(
    fd: std::os::fd::BorrowedFd<'_>,
    ifindex: u32,
    what: Membership,
) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: a packet_mreq zeroed and then filled in, passed with its size.
    let r = unsafe {
        let mut mr: libc::packet_mreq = std::mem::zeroed();
        mr.mr_ifindex = ifindex as i32;
        match what {
            Membership::Multicast(mac) => {
                mr.mr_type = libc::PACKET_MR_MULTICAST as u16;
                mr.mr_alen = 6;
                mr.mr_address[..6].copy_from_slice(&mac);
            }
            Membership::Promiscuous => mr.mr_type = libc::PACKET_MR_PROMISC as u16,
        }
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_PACKET,
            libc::PACKET_ADD_MEMBERSHIP,
            (&mr as *const libc::packet_mreq).cast(),
            std::mem::size_of::<libc::packet_mreq>() as u32,
        )
    };
    if r < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}
