//! Path MTU to the IPv4 default gateway: ICMP echo requests with don't-fragment set, of
//! growing size up to the interface's MTU, and a binary search for the largest that the
//! gateway answers. What an operator does by hand with `ping -M do -s SIZE`; a switch or
//! link with a smaller MTU on the way drops the larger ones without a word.

use anyhow::Context;
use rustix::net::{self, AddressFamily, RecvFlags, SendFlags, SocketFlags, SocketType};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

/// How long an echo reply is awaited.
const WAIT: Duration = Duration::from_millis(300);

/// The default gateway of the calling network namespace, and the interface to it.
pub fn default_gateway() -> Option<(Ipv4Addr, String)> {
    let out = std::process::Command::new("ip")
        .args(["-4", "-j", "route", "show", "default"])
        .output()
        .ok()?;
    let routes: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).ok()?;
    let r = routes.first()?;
    let gw = r.get("gateway")?.as_str()?.parse().ok()?;
    let dev = r.get("dev")?.as_str()?.to_string();
    Some((gw, dev))
}

fn checksum(bytes: &[u8]) -> u16 {
    let mut sum = 0u32;
    for pair in bytes.chunks(2) {
        sum += u32::from(u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// A raw ICMP socket that sends with don't-fragment set whatever the kernel's path MTU
/// cache says (IP_PMTUDISC_PROBE).
fn socket() -> anyhow::Result<OwnedFd> {
    let fd = net::socket_with(
        AddressFamily::INET,
        SocketType::RAW,
        SocketFlags::CLOEXEC,
        Some(net::ipproto::ICMP),
    )
    .context("a raw ICMP socket (run as root)")?;
    let probe: libc::c_int = libc::IP_PMTUDISC_PROBE;
    // libc: rustix has no IP_MTU_DISCOVER.
    // SAFETY: setsockopt with an int we own.
    let r = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::IPPROTO_IP,
            libc::IP_MTU_DISCOVER,
            (&probe as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as u32,
        )
    };
    if r < 0 {
        return Err(std::io::Error::last_os_error()).context("IP_MTU_DISCOVER");
    }
    net::sockopt::set_socket_timeout(&fd, net::sockopt::Timeout::Recv, Some(WAIT))?;
    Ok(fd)
}

/// Whether `gateway` answers an echo request of `size` bytes of IP packet.
fn answers(fd: &OwnedFd, gateway: Ipv4Addr, id: u16, seq: u16, size: usize) -> bool {
    let mut msg = vec![0u8; size.saturating_sub(20).max(8)];
    msg[0] = 8; // echo request
    msg[4..6].copy_from_slice(&id.to_be_bytes());
    msg[6..8].copy_from_slice(&seq.to_be_bytes());
    let c = checksum(&msg);
    msg[2..4].copy_from_slice(&c.to_be_bytes());
    if net::sendto(fd, &msg, SendFlags::empty(), &SocketAddrV4::new(gateway, 0)).is_err() {
        return false;
    }
    let deadline = Instant::now() + WAIT;
    let mut buf = [0u8; 128];
    while Instant::now() < deadline {
        let Ok((n, _)) = net::recv(fd, &mut buf[..], RecvFlags::TRUNC) else {
            return false;
        };
        let n = n.min(buf.len());
        // The IP header, then the ICMP echo reply with our id and sequence.
        let ihl = usize::from(buf[0] & 0x0f) * 4;
        if n >= ihl + 8
            && buf[12..16] == gateway.octets()
            && buf[ihl] == 0
            && buf[ihl + 4..ihl + 6] == id.to_be_bytes()
            && buf[ihl + 6..ihl + 8] == seq.to_be_bytes()
        {
            return true;
        }
    }
    false
}

/// The largest IP packet the gateway answers, searched between 576 and `mtu` bytes
/// (two tries a size); None when it answers not even the smallest.
pub fn largest_answered(gateway: Ipv4Addr, mtu: usize) -> anyhow::Result<Option<usize>> {
    let fd = socket()?;
    let id = std::process::id() as u16;
    let mut seq = 0u16;
    let mut ask = |size: usize| {
        (0..2).any(|_| {
            seq = seq.wrapping_add(1);
            answers(&fd, gateway, id, seq, size)
        })
    };
    let (mut lo, mut hi) = (576usize, mtu);
    if !ask(lo) {
        return Ok(None);
    }
    if ask(hi) {
        return Ok(Some(hi));
    }
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if ask(mid) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Ok(Some(lo))
}
