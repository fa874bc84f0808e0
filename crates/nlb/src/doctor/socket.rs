//! A packet socket on one interface: the doctor's capture (every frame, promiscuous)
//! and its probes (the heartbeat channel's EtherType only).

use anyhow::Context;
use nlb_dataplane::link_addr::{add_membership, LinkAddr, Membership};
use rustix::io::Errno;
use rustix::net::{self, sockopt, AddressFamily, RecvFlags, SendFlags, SocketFlags, SocketType};
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

/// Every EtherType (`ETH_P_ALL`).
pub const ALL: u16 = 0x0003;

/// An AF_PACKET socket bound to one interface and EtherType.
pub struct PacketSocket {
    fd: OwnedFd,
}

/// The interface's index, asked of the kernel through a socket (so it answers for the
/// calling thread's network namespace, which sysfs need not show).
pub fn ifindex(iface: &str) -> anyhow::Result<u32> {
    let fd = net::socket_with(
        AddressFamily::INET,
        SocketType::DGRAM,
        SocketFlags::CLOEXEC,
        None,
    )?;
    net::netdevice::name_to_index(&fd, iface)
        .with_context(|| format!("no interface {iface} in this network namespace"))
}

/// The interface's MTU.
pub fn mtu(iface: &str) -> anyhow::Result<usize> {
    let path = format!("/sys/class/net/{iface}/mtu");
    std::fs::read_to_string(&path)
        .with_context(|| path.clone())?
        .trim()
        .parse()
        .with_context(|| path)
}

impl PacketSocket {
    /// Opens and binds it (`ethertype` [`ALL`] for every frame).
    pub fn open(ifindex: u32, ethertype: u16) -> anyhow::Result<Self> {
        let fd = net::socket_with(
            AddressFamily::PACKET,
            SocketType::RAW,
            SocketFlags::CLOEXEC,
            Some(net::Protocol::from_raw(
                std::num::NonZeroU32::new(u32::from(ethertype.to_be())).expect("non-zero"),
            )),
        )
        .context("an AF_PACKET socket (run as root)")?;
        net::bind(&fd, &LinkAddr::new(ifindex, ethertype)).context("binding the packet socket")?;
        sockopt::set_socket_recv_buffer_size(&fd, 4 << 20).ok();
        Ok(PacketSocket { fd })
    }

    /// Receives frames sent to any address, not only this host's, while the socket lives.
    pub fn promiscuous(&self, ifindex: u32) -> anyhow::Result<()> {
        use std::os::fd::AsFd;
        add_membership(self.fd.as_fd(), ifindex, Membership::Promiscuous)
            .context("promiscuous mode")
    }

    /// Sends one frame.
    pub fn send(&self, frame: &[u8]) -> std::io::Result<()> {
        net::send(&self.fd, frame, SendFlags::empty())?;
        Ok(())
    }

    /// Every frame for `span`, with its time since the Unix epoch (as pcap files keep it).
    pub fn capture(&self, span: Duration) -> anyhow::Result<Vec<(Duration, Vec<u8>)>> {
        let mut frames = Vec::new();
        let mut buf = vec![0u8; 16384];
        let deadline = Instant::now() + span;
        while let Some((n, _wire)) = self.recv_until(&mut buf, deadline)? {
            let at = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default();
            frames.push((at, buf[..n].to_vec()));
        }
        Ok(frames)
    }

    /// The next frame before `deadline`: its first `buf.len()` bytes' count and its
    /// length on the wire; None when the deadline passes first.
    pub fn recv_until(
        &self,
        buf: &mut [u8],
        deadline: Instant,
    ) -> anyhow::Result<Option<(usize, usize)>> {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            sockopt::set_socket_timeout(
                &self.fd,
                sockopt::Timeout::Recv,
                Some(left.max(Duration::from_millis(1))),
            )?;
            let room = buf.len();
            match net::recv(&self.fd, &mut *buf, RecvFlags::TRUNC) {
                Ok((n, wire)) => return Ok(Some((n.min(room), wire))),
                Err(Errno::AGAIN | Errno::INTR) => continue,
                Err(e) => return Err(e).context("reading the packet socket"),
            }
        }
    }
}

/// The interface's MAC address.
pub fn mac_of(iface: &str) -> anyhow::Result<nlb_core::mac::MacAddr> {
    let path = format!("/sys/class/net/{iface}/address");
    std::fs::read_to_string(&path)
        .with_context(|| path.clone())?
        .trim()
        .parse()
        .map_err(|e| anyhow::anyhow!("{path}: {e}"))
}

fn ip_json(args: &[&str]) -> Vec<serde_json::Value> {
    std::process::Command::new("ip")
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| serde_json::from_slice(&o.stdout).ok())
        .unwrap_or_default()
}

/// The XDP mode of the program attached to the interface (`generic`, `native`,
/// `offload`), if any (from `ip -d -j link`).
pub fn xdp_mode(iface: &str) -> Option<String> {
    let links = ip_json(&["-d", "-j", "link", "show", "dev", iface]);
    let mode = links.first()?.get("xdp")?.get("mode")?.as_u64()?;
    // XDP_ATTACHED_DRV, _SKB, _HW (linux/if_link.h).
    Some(
        match mode {
            1 => "native",
            2 => "generic",
            3 => "offload",
            _ => "other",
        }
        .to_string(),
    )
}

/// The interfaces (other than `except`) that carry address `addr` (from `ip -j addr`).
pub fn interfaces_with(addr: std::net::IpAddr, except: &str) -> Vec<String> {
    let mut out: Vec<String> = ip_json(&["-j", "addr", "show"])
        .iter()
        .filter(|l| l.get("ifname").and_then(|n| n.as_str()) != Some(except))
        .filter(|l| {
            l.get("addr_info")
                .and_then(|a| a.as_array())
                .is_some_and(|infos| {
                    infos.iter().any(|i| {
                        i.get("local")
                            .and_then(|v| v.as_str())
                            .and_then(|v| v.parse::<std::net::IpAddr>().ok())
                            == Some(addr)
                    })
                })
        })
        .filter_map(|l| l.get("ifname").and_then(|n| n.as_str()).map(str::to_string))
        .collect();
    out.dedup();
    out
}
