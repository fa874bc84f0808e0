//! Views: the set of members a host believes the cluster has, with what each member
//! advertises, and the digest that hosts compare to agree on a view.

use crate::classify::{LiveHost, Participation};
use crate::host::HostId;
use crate::wire::{WireRule, WireState, RULE_DRAINING, RULE_ENABLED};

/// One member of a view.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Member {
    /// Host id.
    pub id: HostId,
    /// Boot nonce of the member's current incarnation.
    pub nonce: u64,
    /// Started or Draining.
    pub state: WireState,
    /// The member's advertised per-rule settings.
    pub rules: Vec<WireRule>,
}

impl Member {
    /// Digest of the member's settings, as advertised in view entries.
    pub fn settings_digest(&self) -> u64 {
        settings_digest(&self.rules)
    }

    /// How this member takes part in ownership.
    pub fn live_host(&self) -> LiveHost {
        let started = self.state == WireState::Started;
        LiveHost {
            id: self.id,
            rules: self
                .rules
                .iter()
                .map(|r| {
                    let active =
                        started && r.flags & RULE_ENABLED != 0 && r.flags & RULE_DRAINING == 0;
                    Participation {
                        weight: if active { r.weight } else { 0 },
                        priority: r.priority,
                        eligible: active,
                    }
                })
                .collect(),
            default_eligible: started,
        }
    }
}

/// Digest of per-rule settings.
pub fn settings_digest(rules: &[WireRule]) -> u64 {
    let mut h = blake3::Hasher::new();
    h.update(b"nlb settings v1\0");
    for r in rules {
        h.update(&[r.weight, r.priority, r.flags]);
    }
    u64::from_le_bytes(h.finalize().as_bytes()[..8].try_into().expect("8 bytes"))
}

/// A view: members sorted by id.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct View {
    members: Vec<Member>,
}

impl View {
    /// A view of these members (any order).
    pub fn new(mut members: Vec<Member>) -> Self {
        members.sort();
        members.dedup_by_key(|m| m.id);
        View { members }
    }

    /// The members, in id order.
    pub fn members(&self) -> &[Member] {
        &self.members
    }

    /// The member with this id.
    pub fn get(&self, id: HostId) -> Option<&Member> {
        self.members.iter().find(|m| m.id == id)
    }

    /// True when `id` (of this incarnation) is a member.
    pub fn contains(&self, id: HostId, nonce: u64) -> bool {
        self.get(id).is_some_and(|m| m.nonce == nonce)
    }

    /// Member ids.
    pub fn ids(&self) -> Vec<HostId> {
        self.members.iter().map(|m| m.id).collect()
    }

    /// The digest hosts compare to agree: covers ids, incarnations, states and settings.
    pub fn digest(&self) -> u64 {
        let mut h = blake3::Hasher::new();
        h.update(b"nlb view v1\0");
        for m in &self.members {
            h.update(&[m.id.0, m.state as u8]);
            h.update(&m.nonce.to_le_bytes());
            h.update(&m.settings_digest().to_le_bytes());
        }
        u64::from_le_bytes(h.finalize().as_bytes()[..8].try_into().expect("8 bytes"))
    }

    /// The live hosts ownership is computed from.
    pub fn live_hosts(&self) -> Vec<LiveHost> {
        self.members.iter().map(Member::live_host).collect()
    }
}
