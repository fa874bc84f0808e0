//! Whether every member receives the cluster's VIP frames. In every mode the switch must
//! deliver each frame to the cluster MAC to every host; each host's heartbeats say how
//! many VIP frames a second its data path sees, and members that see far fewer than the
//! others show a switch that delivers to some ports only: one that learned the cluster
//! MAC on a port (unicast mode: a hypervisor's announcement, a NIC team rewriting a
//! source, a static entry), or lost a port's group membership (IGMP mode: a moved VM, no
//! querier), or has static entries missing a port.

use super::Node;
use crate::convergence::api::{Event, Reception};
use crate::host::HostId;
use crate::time::Time;

/// Below this many VIP frames a second at the busiest member there is too little
/// traffic to tell anything.
const MIN_FRAMES: u32 = 20;
/// A member sees "far fewer" frames below the busiest member's count divided by this.
const STARVED_RATIO: u32 = 4;
/// How long the same members must look starved before it is said (a joining host's
/// first count, a burst on one host, are no switch problem).
const HOLD: std::time::Duration = std::time::Duration::from_secs(2);

impl Node {
    /// The data path's count of VIP frames a second, which heartbeats carry.
    pub fn note_vip_frames(&mut self, per_second: u32) {
        self.vip_frames = per_second;
    }

    /// Every member's VIP frames a second (this host's own included), as last heard.
    pub(super) fn vip_frames_by_member(&self, now: Time) -> Vec<(HostId, u32)> {
        let Some(c) = &self.committed else {
            return Vec::new();
        };
        c.view
            .members()
            .iter()
            .filter_map(|m| {
                if m.id == self.id {
                    return Some((m.id, self.vip_frames));
                }
                let p = self.peers.get(&m.id.0)?;
                self.heard(p, now).then_some((m.id, p.vip_frames))
            })
            .collect()
    }

    /// What the members' counts say, when they say something is wrong.
    pub(super) fn reception(&self, now: Time) -> Option<Reception> {
        let counts = self.vip_frames_by_member(now);
        let most = counts.iter().map(|(_, n)| *n).max()?;
        if counts.len() < 2 || most < MIN_FRAMES {
            return None;
        }
        let (starved, seeing): (Vec<_>, Vec<_>) = counts
            .iter()
            .partition(|(_, n)| n.saturating_mul(STARVED_RATIO) < most);
        (!starved.is_empty()).then(|| Reception {
            starved: starved.iter().map(|(h, _)| *h).collect(),
            seeing: seeing.iter().map(|(h, _)| *h).collect(),
            most,
        })
    }

    /// What the counts say once it has held for a while, as last reported.
    pub fn reception_reported(&self) -> Option<&Reception> {
        self.reception_reported.as_ref()
    }

    /// Reports a change in what the counts say, once it has held for [`HOLD`].
    pub(super) fn update_reception(&mut self, now: Time) {
        let now_seen = self.reception(now);
        // Counts move with the traffic: only who is starved makes a change worth a line.
        let key = |r: &Option<Reception>| r.as_ref().map(|r| r.starved.clone());
        if key(&now_seen) == key(&self.reception_reported) {
            self.reception_since = None;
            return;
        }
        match &self.reception_since {
            Some((starved, since)) if *starved == key(&now_seen) => {
                if now.saturating_duration_since(*since) < HOLD {
                    return;
                }
            }
            _ => {
                self.reception_since = Some((key(&now_seen), now));
                return;
            }
        }
        self.reception_since = None;
        match &now_seen {
            Some(r) => self.events.push_back(Event::VipFramesUneven(r.clone())),
            None => self.events.push_back(Event::VipFramesEven),
        }
        self.reception_reported = now_seen;
    }
}
