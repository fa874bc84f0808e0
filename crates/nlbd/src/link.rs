//! The cluster interface: its index and MAC, the heartbeat socket, multicast filter
//! membership and IGMP group membership.

use nlb_core::mac::MacAddr;
use nlb_core::wire::ETHERTYPE;
use std::ffi::CString;
use std::io;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// The interface's index, or a precise error.
pub fn ifindex(name: &str) -> io::Result<u32> {
    let c = CString::new(name)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "interface name"))?;
    // SAFETY: if_nametoindex reads a NUL-terminated string.
    let i = unsafe { libc::if_nametoindex(c.as_ptr()) };
    if i == 0 {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("no interface named `{name}`"),
        ));
    }
    Ok(i)
}

/// The interface's MAC.
pub fn mac(name: &str) -> io::Result<MacAddr> {
    let text = std::fs::read_to_string(format!("/sys/class/net/{name}/address"))?;
    text.trim()
        .parse()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("{e}")))
}

/// An AF_PACKET socket on the cluster interface for heartbeats.
pub struct HeartbeatSocket {
    fd: OwnedFd,
    ifindex: u32,
}

impl std::os::fd::AsFd for HeartbeatSocket {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl HeartbeatSocket {
    /// Opens it, bound to `ifindex` and the heartbeat EtherType.
    pub fn open(ifindex: u32) -> io::Result<Self> {
        let proto = (ETHERTYPE).to_be() as i32;
        // SAFETY: socket/bind with a sockaddr_ll we fill in fully.
        unsafe {
            let fd = libc::socket(
                libc::AF_PACKET,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
                proto,
            );
            if fd < 0 {
                return Err(io::Error::last_os_error());
            }
            let fd = OwnedFd::from_raw_fd(fd);
            let mut sll: libc::sockaddr_ll = std::mem::zeroed();
            sll.sll_family = libc::AF_PACKET as u16;
            sll.sll_protocol = ETHERTYPE.to_be();
            sll.sll_ifindex = ifindex as i32;
            if libc::bind(
                fd.as_raw_fd(),
                (&sll as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as u32,
            ) < 0
            {
                return Err(io::Error::last_os_error());
            }
            Ok(HeartbeatSocket { fd, ifindex })
        }
    }

    /// Sets the receive buffer to at least `bytes` (SO_RCVBUFFORCE: root may exceed
    /// net.core.rmem_max), and returns what the kernel granted.
    pub fn set_receive_buffer(&self, bytes: usize) -> io::Result<usize> {
        let want = bytes.min(i32::MAX as usize) as libc::c_int;
        let size = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: setsockopt and getsockopt of an int on our socket.
        unsafe {
            if libc::setsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVBUFFORCE,
                (&want as *const libc::c_int).cast(),
                size,
            ) < 0
            {
                return Err(io::Error::last_os_error());
            }
            let mut got: libc::c_int = 0;
            let mut len = size;
            if libc::getsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVBUF,
                (&mut got as *mut libc::c_int).cast(),
                &mut len,
            ) < 0
            {
                return Err(io::Error::last_os_error());
            }
            Ok(got.max(0) as usize)
        }
    }

    /// Frames the kernel dropped because the receive buffer was full, since the last
    /// call (reading PACKET_STATISTICS resets it).
    pub fn take_drops(&self) -> io::Result<u32> {
        /// struct tpacket_stats of linux/if_packet.h.
        #[repr(C)]
        struct TpacketStats {
            packets: u32,
            drops: u32,
        }
        const PACKET_STATISTICS: libc::c_int = 6;
        let mut stats = TpacketStats {
            packets: 0,
            drops: 0,
        };
        let mut len = std::mem::size_of::<TpacketStats>() as libc::socklen_t;
        // SAFETY: getsockopt into a struct of the size we pass.
        let r = unsafe {
            libc::getsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_PACKET,
                PACKET_STATISTICS,
                (&mut stats as *mut TpacketStats).cast(),
                &mut len,
            )
        };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(stats.drops)
    }

    /// Adds a group MAC to the interface's multicast filter for as long as the socket lives.
    pub fn add_multicast(&self, mac: MacAddr) -> io::Result<()> {
        // SAFETY: setsockopt with a packet_mreq we fill in fully.
        unsafe {
            let mut mr: libc::packet_mreq = std::mem::zeroed();
            mr.mr_ifindex = self.ifindex as i32;
            mr.mr_type = libc::PACKET_MR_MULTICAST as u16;
            mr.mr_alen = 6;
            mr.mr_address[..6].copy_from_slice(&mac.0);
            let r = libc::setsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_PACKET,
                libc::PACKET_ADD_MEMBERSHIP,
                (&mr as *const libc::packet_mreq).cast(),
                std::mem::size_of::<libc::packet_mreq>() as u32,
            );
            if r < 0 {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(())
    }

    /// Sends one frame.
    pub fn send(&self, frame: &[u8]) -> io::Result<()> {
        // SAFETY: send on our socket from a valid buffer.
        let n = unsafe { libc::send(self.fd.as_raw_fd(), frame.as_ptr().cast(), frame.len(), 0) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Takes a frame already queued, if any (one system call: the socket does not
    /// block; the daemon's one wait says when frames are there).
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        // SAFETY: recv on our socket into a valid buffer of its length.
        let n = unsafe { libc::recv(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n < 0 {
            let e = io::Error::last_os_error();
            return if e.kind() == io::ErrorKind::WouldBlock {
                Ok(None)
            } else {
                Err(e)
            };
        }
        Ok(Some(n as usize))
    }
}

/// Membership of the IGMP-mode group (239.255.Y.Z) on the cluster interface. Leaving
/// and re-joining makes the kernel send unsolicited membership reports, so a switch
/// that lost the membership (a live migration, say) relearns it within a period.
pub struct IgmpMembership {
    fd: OwnedFd,
    group: Ipv4Addr,
    ifindex: u32,
}

impl IgmpMembership {
    /// Joins `group` on `ifindex`.
    pub fn join(group: Ipv4Addr, ifindex: u32) -> io::Result<Self> {
        // SAFETY: a UDP socket we own.
        let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a fresh descriptor we own.
        let m = IgmpMembership {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
            group,
            ifindex,
        };
        m.set(libc::IP_ADD_MEMBERSHIP)?;
        Ok(m)
    }

    fn set(&self, op: i32) -> io::Result<()> {
        let mreq = libc::ip_mreqn {
            imr_multiaddr: libc::in_addr {
                s_addr: u32::from_ne_bytes(self.group.octets()),
            },
            imr_address: libc::in_addr { s_addr: 0 },
            imr_ifindex: self.ifindex as i32,
        };
        // SAFETY: setsockopt with a fully initialised ip_mreqn.
        let r = unsafe {
            libc::setsockopt(
                self.fd.as_raw_fd(),
                libc::IPPROTO_IP,
                op,
                (&mreq as *const libc::ip_mreqn).cast(),
                std::mem::size_of::<libc::ip_mreqn>() as u32,
            )
        };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Re-announces the membership (unsolicited reports).
    pub fn refresh(&self) -> io::Result<()> {
        self.set(libc::IP_DROP_MEMBERSHIP)?;
        self.set(libc::IP_ADD_MEMBERSHIP)
    }
}

/// The interfaces (other than `except`) that carry IPv4 address `addr`.
pub fn interfaces_with(addr: std::net::Ipv4Addr, except: &str) -> Vec<String> {
    let mut out = Vec::new();
    // SAFETY: getifaddrs fills a list we walk read-only and free once.
    unsafe {
        let mut list: *mut libc::ifaddrs = std::ptr::null_mut();
        if libc::getifaddrs(&mut list) != 0 {
            return out;
        }
        let mut cur = list;
        while !cur.is_null() {
            let ifa = &*cur;
            if !ifa.ifa_addr.is_null() && i32::from((*ifa.ifa_addr).sa_family) == libc::AF_INET {
                let sin = &*(ifa.ifa_addr as *const libc::sockaddr_in);
                let found = std::net::Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr));
                let name = std::ffi::CStr::from_ptr(ifa.ifa_name)
                    .to_string_lossy()
                    .into_owned();
                if found == addr && name != except && !out.contains(&name) {
                    out.push(name);
                }
            }
            cur = ifa.ifa_next;
        }
        libc::freeifaddrs(list);
    }
    out
}
