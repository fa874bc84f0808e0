//! What nlbd changed on the host, kept in a file while it runs so that a start after a
//! crash can undo what the crashed process left (`/run/nlb/<netns>-<interface>.json`;
//! the network namespace is part of the name because /run is shared between them).

use serde::{Deserialize, Serialize};
use std::net::Ipv4Addr;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

/// The changes, in the order they are made.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Changed {
    /// Sysctl files and their values before.
    pub sysctls: Vec<(String, String)>,
    /// VIPs added to lo (by index of lo).
    pub vips: Vec<Ipv4Addr>,
    /// The interface's MAC before unicast mode set the cluster MAC.
    pub original_mac: Option<[u8; 6]>,
    /// A masking program is attached at the interface's egress.
    pub mask: bool,
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

/// The state file of `interface` in this network namespace.
pub fn path(interface: &str) -> PathBuf {
    let netns = std::fs::metadata("/proc/self/ns/net")
        .map(|m| m.ino())
        .unwrap_or(0);
    PathBuf::from("/run/nlb").join(format!("{netns}-{interface}.json"))
}

/// Reads a state file left by an nlbd that did not stop cleanly.
pub fn leftover(interface: &str) -> Option<Changed> {
    let text = std::fs::read_to_string(path(interface)).ok()?;
    serde_json::from_str(&text).ok()
}

/// Records the changes (before each is made, so a crash in between leaves a record).
pub fn save(interface: &str, changed: &Changed) -> Result<(), String> {
    let p = path(interface);
    std::fs::create_dir_all("/run/nlb").map_err(|e| format!("/run/nlb: {e}"))?;
    let tmp = p.with_extension("tmp");
    std::fs::write(&tmp, serde_json::to_vec(changed).expect("plain data"))
        .and_then(|()| std::fs::rename(&tmp, &p))
        .map_err(|e| format!("{}: {e}", p.display()))
}

/// Removes the record once everything is undone.
pub fn remove(interface: &str) {
    let _ = std::fs::remove_file(path(interface));
}
