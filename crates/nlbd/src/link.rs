//! The cluster interface: its index and MAC, the heartbeat socket, multicast filter
//! membership and group membership (IGMP, MLD).
//!
//! rustix makes the system calls, except those it has no call for: PACKET_STATISTICS
//! and getifaddrs through libc here, PACKET_ADD_MEMBERSHIP in nlb-dataplane's
//! `link_addr`.

use nlb_core::mac::MacAddr;
use nlb_core::wire::ETHERTYPE;
use nlb_dataplane::link_addr::{add_membership, LinkAddr, Membership};
use rustix::io::Errno;
use rustix::net::{
    self, sockopt, AddressFamily, Protocol, RecvFlags, SendFlags, SocketFlags, SocketType,
};
use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::num::NonZeroU32;
use std::os::fd::{AsRawFd, OwnedFd};

/// The interface's index, or a precise error.
pub fn ifindex(name: &str) -> io::Result<u32> {
    if name.contains('\0') {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "interface name",
        ));
    }
    // The ioctl that names the interface needs a socket, any socket.
    let probe = net::socket_with(
        AddressFamily::UNIX,
        SocketType::DGRAM,
        SocketFlags::CLOEXEC,
        None,
    )?;
    match net::netdevice::name_to_index(&probe, name) {
        Ok(i) => Ok(i),
        Err(Errno::NODEV) => Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("no interface named `{name}`"),
        )),
        Err(e) => Err(e.into()),
    }
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
        // A packet socket's protocol is the EtherType in network order.
        let proto = NonZeroU32::new(u32::from(ETHERTYPE.to_be())).expect("a nonzero EtherType");
        let fd = net::socket_with(
            AddressFamily::PACKET,
            SocketType::RAW,
            SocketFlags::CLOEXEC | SocketFlags::NONBLOCK,
            Some(Protocol::from_raw(proto)),
        )?;
        net::bind(&fd, &LinkAddr::new(ifindex, ETHERTYPE))?;
        Ok(HeartbeatSocket { fd, ifindex })
    }

    /// Sets the receive buffer to at least `bytes` (SO_RCVBUFFORCE: root may exceed
    /// net.core.rmem_max), and returns what the kernel granted.
    pub fn set_receive_buffer(&self, bytes: usize) -> io::Result<usize> {
        sockopt::set_socket_recv_buffer_size_force(&self.fd, bytes.min(i32::MAX as usize))?;
        Ok(sockopt::socket_recv_buffer_size(&self.fd)?)
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
        // libc: rustix has no PACKET_STATISTICS.
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
        use std::os::fd::AsFd;
        add_membership(self.fd.as_fd(), self.ifindex, Membership::Multicast(mac.0))
    }

    /// Sends one frame.
    pub fn send(&self, frame: &[u8]) -> io::Result<()> {
        net::send(&self.fd, frame, SendFlags::empty())?;
        Ok(())
    }

    /// Takes a frame already queued, if any (one system call: the socket does not
    /// block; the daemon's one wait says when frames are there): the bytes received
    /// into `buf` (a longer frame is cut to its length) and the frame's length on the
    /// wire.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<Option<(usize, usize)>> {
        let room = buf.len();
        match net::recv(&self.fd, buf, RecvFlags::TRUNC) {
            Ok((n, wire)) => Ok(Some((n.min(room), wire))),
            Err(Errno::WOULDBLOCK) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}

/// Multicast groups joined on the cluster interface: the IGMP-multicast mode's groups
/// (IGMP for IPv4, MLD for IPv6) and each IPv6 VIP's solicited-node group, without
/// which neither the NIC's filter nor an MLD-snooping switch passes the neighbour
/// solicitations for it. Leaving and re-joining makes the kernel send unsolicited
/// reports, so a switch that lost a membership (a live migration, say) relearns it.
pub struct GroupMemberships {
    v4: OwnedFd,
    v6: OwnedFd,
    groups: Vec<IpAddr>,
    ifindex: u32,
}

impl GroupMemberships {
    /// Joins `groups` on `ifindex`.
    pub fn join(groups: Vec<IpAddr>, ifindex: u32) -> io::Result<Self> {
        let socket =
            |family| net::socket_with(family, SocketType::DGRAM, SocketFlags::CLOEXEC, None);
        let v4 = socket(AddressFamily::INET)?;
        let v6 = socket(AddressFamily::INET6)?;
        let m = GroupMemberships {
            v4,
            v6,
            groups,
            ifindex,
        };
        for g in &m.groups {
            m.add(*g)?;
        }
        Ok(m)
    }

    /// The groups.
    pub fn groups(&self) -> &[IpAddr] {
        &self.groups
    }

    fn add(&self, group: IpAddr) -> io::Result<()> {
        match group {
            IpAddr::V4(g) => Ok(sockopt::set_ip_add_membership_with_ifindex(
                &self.v4,
                &g,
                &Ipv4Addr::UNSPECIFIED,
                self.ifindex,
            )?),
            IpAddr::V6(g) => Ok(sockopt::set_ipv6_add_membership(
                &self.v6,
                &g,
                self.ifindex,
            )?),
        }
    }

    fn drop_one(&self, group: IpAddr) -> io::Result<()> {
        match group {
            IpAddr::V4(g) => Ok(sockopt::set_ip_drop_membership_with_ifindex(
                &self.v4,
                &g,
                &Ipv4Addr::UNSPECIFIED,
                self.ifindex,
            )?),
            IpAddr::V6(g) => Ok(sockopt::set_ipv6_drop_membership(
                &self.v6,
                &g,
                self.ifindex,
            )?),
        }
    }

    /// Re-announces every membership (unsolicited reports).
    pub fn refresh(&self) -> io::Result<()> {
        for g in &self.groups {
            self.drop_one(*g)?;
            self.add(*g)?;
        }
        Ok(())
    }
}

/// The interfaces (other than `except`) that carry address `addr`.
pub fn interfaces_with(addr: IpAddr, except: &str) -> Vec<String> {
    let mut out = Vec::new();
    // libc: rustix has no getifaddrs.
    // SAFETY: getifaddrs fills a list we walk read-only and free once.
    unsafe {
        let mut list: *mut libc::ifaddrs = std::ptr::null_mut();
        if libc::getifaddrs(&mut list) != 0 {
            return out;
        }
        let mut cur = list;
        while !cur.is_null() {
            let ifa = &*cur;
            let family = if ifa.ifa_addr.is_null() {
                0
            } else {
                i32::from((*ifa.ifa_addr).sa_family)
            };
            let found = match family {
                libc::AF_INET => {
                    let sin = &*(ifa.ifa_addr as *const libc::sockaddr_in);
                    Some(IpAddr::from(
                        u32::from_be(sin.sin_addr.s_addr).to_be_bytes(),
                    ))
                }
                libc::AF_INET6 => {
                    let sin6 = &*(ifa.ifa_addr as *const libc::sockaddr_in6);
                    Some(IpAddr::from(sin6.sin6_addr.s6_addr))
                }
                _ => None,
            };
            if let Some(found) = found {
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
