//! The attacker: forged frames, bit flips, noise, and replays of captured frames.

use super::{ms, Ev, Fault, World};
use nlb_core::mac::MacAddr;
use nlb_core::wire::{Heartbeat, HeartbeatView, WireState};
use std::rc::Rc;
use std::time::Duration;

/// The same heartbeat with another sequence number, signed again.
fn reissue(frame: &[u8], key: &[u8; 32], seq: u64) -> Option<Vec<u8>> {
    let v = HeartbeatView::parse(frame, key).ok()?;
    Some(
        Heartbeat {
            dst: v.dst(),
            src: v.src(),
            host_id: v.host_id(),
            state: v.state(),
            cluster_digest: v.cluster_digest(),
            boot_nonce: v.boot_nonce(),
            age: v.age(),
            vip_frames: 0,
            seq,
            proposed: v.proposed(),
            committed: v.committed(),
            held: v.held(),
            rules: v.rules().collect(),
            view: v.view().collect(),
            held_filter: v.held_filter().to_vec(),
        }
        .encode(key),
    )
}

impl World {
    pub(super) fn attack(&mut self) {
        let now = self.now;
        let to = self.attack_rng.below(self.hosts.len() as u64) as usize;
        let kind = self.attack_rng.below(5);
        let replay = kind <= 1;
        let frame: Vec<u8> = match kind {
            // Replay a frame captured at least three periods ago (a fresher "replay" is
            // just a slow network, and carries true news).
            0 | 1 => {
                let old: Vec<&(Duration, Rc<Vec<u8>>)> = self
                    .captured
                    .iter()
                    .filter(|(t, _)| now.saturating_sub(*t) >= ms(300))
                    .collect();
                if old.is_empty() {
                    return;
                }
                let i = self.attack_rng.below(old.len() as u64) as usize;
                let frame = old[i].1.as_ref().clone();
                if self.fault == Some(Fault::AcceptReplays) {
                    let seq = (1 << 63) + self.report.attacker_frames;
                    reissue(&frame, &self.key, seq).unwrap_or(frame)
                } else {
                    frame
                }
            }
            // A captured frame with bits flipped.
            2 => {
                let Some((_, f)) = self.captured.last() else {
                    return;
                };
                let mut g = f.as_ref().clone();
                let i = self.attack_rng.below(g.len() as u64) as usize;
                g[i] ^= 1 << self.attack_rng.below(8);
                g
            }
            // A well-formed heartbeat under a guessed key, claiming a member's id.
            3 => {
                let victim = self.hosts[self.attack_rng.below(self.hosts.len() as u64) as usize]
                    .config
                    .host
                    .id;
                let mut key = [0u8; 32];
                for b in &mut key {
                    *b = self.attack_rng.next_u64() as u8;
                }
                Heartbeat {
                    dst: MacAddr::BROADCAST,
                    src: MacAddr([2, 0xde, 0xad, 0, 0, victim.0]),
                    host_id: victim.0,
                    state: WireState::Started,
                    cluster_digest: self.hosts[0].config.cluster.digest().0,
                    boot_nonce: u64::MAX,
                    age: Duration::from_secs(3600),
                    vip_frames: 0,
                    seq: u64::MAX,
                    proposed: 1,
                    committed: Some(1),
                    held: 0,
                    rules: vec![],
                    view: vec![],
                    held_filter: vec![],
                }
                .encode(&key)
            }
            // Noise.
            _ => {
                let n = self.attack_rng.range(0, 200) as usize;
                (0..n).map(|_| self.attack_rng.next_u64() as u8).collect()
            }
        };
        if replay && !self.replays {
            return;
        }
        self.push(
            now,
            Ev::Deliver {
                to,
                frame: Rc::new(frame),
                attacker: Some(replay),
            },
        );
    }
}
