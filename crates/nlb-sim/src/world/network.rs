//! The simulated network: loss, duplication and delay drawn from the seed, groups that
//! partitions cut apart, and delivery to each host's state machine.

use super::{Ev, World};
use crate::rng::Rng;
use std::rc::Rc;
use std::time::Duration;

/// The network's behaviour.
#[derive(Clone, Copy)]
pub(super) struct Net {
    pub(super) loss: f64,
    pub(super) dup: f64,
    pub(super) delay_min_us: u64,
    pub(super) delay_jitter_us: u64,
}

impl Net {
    /// A calm network: no loss, sub-millisecond delay.
    pub(super) fn calm(rng: &mut Rng) -> Net {
        Net {
            loss: 0.0,
            dup: 0.0,
            delay_min_us: rng.range(20, 100),
            delay_jitter_us: rng.range(100, 1000),
        }
    }

    /// A flaky one: loss, duplicates, and delays that reorder frames.
    pub(super) fn flaky(rng: &mut Rng) -> Net {
        Net {
            loss: rng.range(3, 15) as f64 / 100.0,
            dup: rng.range(0, 10) as f64 / 100.0,
            delay_min_us: rng.range(50, 500),
            delay_jitter_us: rng.range(5_000, 40_000),
        }
    }
}

impl World {
    pub(super) fn broadcast(&mut self, from: usize, frame: Vec<u8>) {
        let frame = Rc::new(frame);
        self.report.frames_sent += 1;
        if self.attacker {
            self.captured.push((self.now, frame.clone()));
            if self.captured.len() > 4096 {
                self.captured.drain(..2048);
            }
        }
        for to in 0..self.hosts.len() {
            if to == from || self.hosts[to].group != self.hosts[from].group {
                continue;
            }
            if self.net_rng.chance(self.net.loss) {
                continue;
            }
            let copies = if self.net_rng.chance(self.net.dup) {
                2
            } else {
                1
            };
            for _ in 0..copies {
                let d = self.net.delay_min_us + self.net_rng.below(self.net.delay_jitter_us + 1);
                let at = self.now + Duration::from_micros(d);
                self.push(
                    at,
                    Ev::Deliver {
                        to,
                        frame: frame.clone(),
                        attacker: None,
                    },
                );
            }
        }
    }

    pub(super) fn deliver(&mut self, to: usize, frame: &[u8], attacker: Option<bool>) {
        let now = self.now;
        let local = self.local(to);
        if self.hosts[to].paused {
            return;
        }
        let Some(node) = self.hosts[to].node.as_mut() else {
            return;
        };
        let result = node.handle_frame(local, frame);
        if let Some(replay) = attacker {
            self.report.attacker_frames += 1;
            // A forged frame must never pass. A replayed genuine frame may be recorded by
            // a host that has heard nothing newer from its sender (it cannot know it is
            // old); the trace comparison checks that it changes nothing.
            if result.is_ok() && !replay {
                self.report.violation(
                    now,
                    format!(
                        "I4: host {} accepted a forged frame",
                        self.hosts[to].config.host.id
                    ),
                );
            }
            if result.is_ok() && replay {
                self.report.replays_recorded += 1;
            }
        } else {
            self.report.frames_delivered += 1;
        }
        self.after(to);
    }
}
