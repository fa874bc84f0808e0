//! Answers the path MTU probes `nlb doctor` sends on the heartbeat channel
//! (`nlb_core::probe`): each authenticated request gets a reply of the same size, so
//! the doctor learns the largest frame that passes to this host and back. At most
//! [`REPLIES_PER_SECOND`] replies a second: a member never turns into an amplifier, and
//! nobody without the cluster key gets a reply at all.

use crate::events::EventLog;
use crate::link::HeartbeatSocket;
use nlb_core::config::Config;
use nlb_core::mac::MacAddr;
use nlb_core::probe::{Probe, ProbeKind};
use nlb_dataplane::ktime_now;
use std::time::Duration;

/// Replies a second, at most.
pub const REPLIES_PER_SECOND: u32 = 100;

/// The responder: the key and a one-second reply budget.
pub struct ProbeResponder {
    key: [u8; 32],
    window: Duration,
    replies: u32,
}

impl ProbeResponder {
    /// A responder checking requests with the cluster's heartbeat key.
    pub fn new(key: [u8; 32]) -> Self {
        ProbeResponder {
            key,
            window: Duration::ZERO,
            replies: 0,
        }
    }

    /// Answers `frame` (cut to the receive buffer; `wire_len` long on the wire) if it is
    /// an authenticated request within the budget; replies and refused frames are
    /// dropped (the doctor's own socket takes the replies).
    pub fn answer(
        &mut self,
        frame: &[u8],
        wire_len: usize,
        socket: &HeartbeatSocket,
        config: &Config,
        tx_mac: MacAddr,
        log: &mut EventLog,
    ) {
        let Ok(request) = Probe::parse(frame, wire_len, &self.key) else {
            return;
        };
        if request.kind != ProbeKind::Request {
            return;
        }
        let now = ktime_now();
        if now.saturating_sub(self.window) >= Duration::from_secs(1) {
            self.window = now;
            self.replies = 0;
        }
        if self.replies >= REPLIES_PER_SECOND {
            return;
        }
        self.replies += 1;
        let iface = &config.host.interface;
        let mtu = std::fs::read_to_string(format!("/sys/class/net/{iface}/mtu"))
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0);
        let src = MacAddr(frame[6..12].try_into().expect("a probe has a header"));
        let reply = request
            .reply(config.host.id.get(), mtu)
            .encode(src, tx_mac, &self.key);
        if let Err(e) = socket.send(&reply) {
            // A reply larger than this interface's MTU cannot leave: the doctor sees
            // no answer at that size, which is what it measures.
            if e.raw_os_error() != Some(rustix::io::Errno::MSGSIZE.raw_os_error()) {
                log.warn(now, format!("answering a path MTU probe from {src}: {e}"));
            }
        }
    }
}
