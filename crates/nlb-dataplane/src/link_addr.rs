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
