//! What nlbd changed on the host, kept in a file while it runs so that a start after a
//! crash can undo what the crashed process left (`/run/nlb/<netns cookie>-<interface>.json`;
//! the network namespace is part of the name because /run is shared between them).

use crate::netlink;
use anyhow::Context;
use nlb_dataplane::pkt_type::PacketTypeFix;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use tracing::warn;

/// The changes, in the order they are made.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Changed {
    /// Sysctl files and their values before.
    pub sysctls: Vec<(String, String)>,
    /// VIPs added to lo (by index of lo).
    pub vips: Vec<IpAddr>,
    /// The interface's MAC before unicast mode set the cluster MAC.
    pub original_mac: Option<[u8; 6]>,
    /// A masking program is attached at the interface's egress (nlbd before 0.2 in
    /// unicast mode; undone when an older nlbd's record is found).
    #[serde(default)]
    pub mask: bool,
    /// Unicast mode: the cluster MAC added to the interface's unicast filter.
    #[serde(default)]
    pub unicast_filter: Option<[u8; 6]>,
    /// The packet type fix is attached at the interface's ingress (veth, native XDP).
    #[serde(default)]
    pub pkt_type_fix: bool,
    /// nlbd added the clsact qdisc (and so removes it).
    pub clsact_added: bool,
    /// XDP is attached, with these flags.
    pub xdp_flags: Option<u32>,
    /// Set by a hand-off exit: the data path runs on for a successor to adopt.
    #[serde(default)]
    pub handoff: Option<HandOffRecord>,
}

/// What a hand-off exit leaves for the successor.
#[derive(Clone, Serialize, Deserialize)]
pub struct HandOffRecord {
    /// The attached XDP program's id.
    pub program_id: u32,
    /// When, on the monotonic clock.
    pub at: std::time::Duration,
    /// The state machine.
    pub node: nlb_core::convergence::HandOff,
}

impl std::fmt::Debug for HandOffRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "hand-off of program {} at {:?}",
            self.program_id, self.at
        )
    }
}

/// The state file of `interface` in this network namespace. The namespace is named
/// by its cookie, which the kernel never reuses until reboot (/run is emptied then);
/// an inode number could come back for a new namespace and make a stranger's record
/// look like ours.
pub fn path(interface: &str) -> PathBuf {
    PathBuf::from("/run/nlb").join(format!("{}-{interface}.json", netns_cookie()))
}

fn netns_cookie() -> u64 {
    use rustix::net::{socket_with, AddressFamily, SocketFlags, SocketType};
    use std::os::fd::AsRawFd;
    let mut cookie = 0u64;
    let mut len = std::mem::size_of::<u64>() as libc::socklen_t;
    // Any socket names its namespace; this one is closed on return.
    let ok = socket_with(
        AddressFamily::UNIX,
        SocketType::DGRAM,
        SocketFlags::CLOEXEC,
        None,
    )
    .is_ok_and(|fd| {
        // libc: rustix has no SO_NETNS_COOKIE.
        // SAFETY: getsockopt on a socket we hold; SO_NETNS_COOKIE writes a u64 into
        // the buffer we pass, of the size we pass.
        unsafe {
            libc::getsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_NETNS_COOKIE,
                (&mut cookie as *mut u64).cast(),
                &mut len,
            ) == 0
        }
    });
    if ok {
        cookie
    } else {
        // Kernels before 5.14: the namespace's inode.
        std::fs::metadata("/proc/self/ns/net")
            .map(|m| m.ino())
            .unwrap_or(0)
    }
}

/// Reads a state file left by an nlbd that did not stop cleanly.
pub fn leftover(interface: &str) -> Option<Changed> {
    let text = std::fs::read_to_string(path(interface)).ok()?;
    serde_json::from_str(&text).ok()
}

/// Records the changes (before each is made, so a crash in between leaves a record).
pub fn save(interface: &str, changed: &Changed) -> anyhow::Result<()> {
    let p = path(interface);
    std::fs::create_dir_all("/run/nlb").context("/run/nlb")?;
    let tmp = p.with_extension("tmp");
    std::fs::write(&tmp, serde_json::to_vec(changed).expect("plain data"))
        .and_then(|()| std::fs::rename(&tmp, &p))
        .with_context(|| p.display().to_string())
}

/// Removes the record once everything is undone.
pub fn remove(interface: &str) {
    let _ = std::fs::remove_file(path(interface));
}

/// What this process changed on the host: recorded in the state file as it goes,
/// undone on the way out.
pub struct Changes {
    pub interface: String,
    pub ifindex: u32,
    pub lo_index: u32,
    pub changed: Changed,
}

impl Changes {
    /// Records a change before it is made.
    pub fn record(&mut self, f: impl FnOnce(&mut Changed)) -> anyhow::Result<()> {
        f(&mut self.changed);
        save(&self.interface, &self.changed)
    }

    pub fn set_sysctl(&mut self, path: String, value: &str) -> anyhow::Result<()> {
        let old = std::fs::read_to_string(&path).with_context(|| path.clone())?;
        let old = old.trim().to_string();
        self.record(|c| c.sysctls.push((path.clone(), old)))?;
        std::fs::write(&path, value).with_context(|| path.clone())
    }
}

impl Drop for Changes {
    fn drop(&mut self) {
        undo(&self.interface, self.ifindex, self.lo_index, &self.changed);
        remove(&self.interface);
    }
}

/// Undoes recorded changes, last first; logs what cannot be undone.
pub fn undo(interface: &str, ifindex: u32, lo_index: u32, changed: &Changed) {
    if let Some(flags) = changed.xdp_flags {
        if let Err(e) = netlink::set_xdp(ifindex, -1, flags) {
            warn!("could not detach XDP from {interface}: {e}");
        }
    }
    if changed.mask {
        if let Err(e) = nlb_dataplane::tc::detach_egress(interface, "nlb_mask") {
            warn!("could not remove the source masking program: {e}");
        }
    }
    if let Some(mac) = changed.unicast_filter {
        if let Err(e) = netlink::unicast_filter(ifindex, mac, false) {
            warn!("could not remove the cluster MAC from {interface}'s unicast filter: {e}");
        }
    }
    if changed.pkt_type_fix {
        if let Err(e) = PacketTypeFix::detach_all(interface) {
            warn!("could not remove the packet type fix: {e}");
        }
    }
    if changed.clsact_added {
        if let Err(e) = netlink::delete_clsact(ifindex) {
            warn!("could not remove the clsact qdisc of {interface}: {e}");
        }
    }
    if let Some(mac) = changed.original_mac {
        if let Err(e) = netlink::set_mac(ifindex, mac) {
            warn!("could not restore the MAC of {interface}: {e}");
        }
    }
    for v in &changed.vips {
        if let Err(e) = netlink::address(lo_index, *v, false) {
            warn!("could not remove {v} from lo: {e}");
        }
    }
    for (path, old) in changed.sysctls.iter().rev() {
        if let Err(e) = std::fs::write(path, old) {
            warn!("could not restore {path}: {e}");
        }
    }
}
