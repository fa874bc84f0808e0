//! Views: the set of members a host believes the cluster has, with what each member
//! advertises, and the digest that hosts compare to agree on a view.

use crate::classify::{LiveHost, Participation};
use crate::host::HostId;
use crate::wire::{WireRule, WireState, RULE_DRAINING, RULE_ENABLED};

/// One member of a view.
#[derive(
    Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct Member {
    /// Host id.
    pub id: HostId,
    /// Boot nonce of the member's current incarnation.
    pub nonce: u64,
    /// Started or Draining.
    pub state: WireState,
    /// The member's advertised per-rule settings.
    pub rules: Vec<WireRule>,
    /// Digest of `rules`.
    settings: u64,
}

impl Member {
    /// A member with these settings.
    pub fn new(id: HostId, nonce: u64, state: WireState, rules: Vec<WireRule>) -> Self {
        let settings = settings_digest(&rules);
        Self::with_digest(id, nonce, state, rules, settings)
    }

    /// A member whose settings digest is already known (it must be that of `rules`).
    pub(crate) fn with_digest(
        id: HostId,
        nonce: u64,
        state: WireState,
        rules: Vec<WireRule>,
        settings: u64,
    ) -> Self {
        debug_assert_eq!(settings, settings_digest(&rules));
        Member {
            id,
            nonce,
            state,
            rules,
            settings,
        }
    }

    /// Digest of the member's settings.
    pub fn settings_digest(&self) -> u64 {
        self.settings
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

/// The digest of a view with these members, given in id order as (id, boot nonce,
/// state, settings digest): lets a host see whether its view changed without
/// building it.
pub fn view_digest(members: impl Iterator<Item = (HostId, u64, WireState, u64)>) -> u64 {
    // One buffer hashed at once: many small hasher updates cost more than the hashing.
    let mut buf = Vec::with_capacity(12 + 18 * 64);
    buf.extend_from_slice(b"nlb view v1\0");
    for (id, nonce, state, settings) in members {
        buf.extend_from_slice(&[id.0, state as u8]);
        buf.extend_from_slice(&nonce.to_le_bytes());
        buf.extend_from_slice(&settings.to_le_bytes());
    }
    u64::from_le_bytes(
        blake3::hash(&buf).as_bytes()[..8]
            .try_into()
            .expect("8 bytes"),
    )
}

/// A view: members sorted by id.
#[derive(Clone, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
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
        view_digest(
            self.members
                .iter()
                .map(|m| (m.id, m.nonce, m.state, m.settings)),
        )
    }

    /// The live hosts ownership is computed from.
    pub fn live_hosts(&self) -> Vec<LiveHost> {
        self.members.iter().map(Member::live_host).collect()
    }
}
