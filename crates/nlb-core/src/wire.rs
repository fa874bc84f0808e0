//! The heartbeat wire format: raw Ethernet frames with the IEEE local experimental
//! EtherType 0x88B5, authenticated with keyed BLAKE3 over the whole frame.
//!
//! ```text
//! Ethernet: dst(6) src(6) ethertype(2) = 0x88b5
//! payload (big-endian):
//!   0  magic "NLB"            3   version (3)
//!   4  host id                5   host state      6  flags      7  rule count (<= 32)
//!   8  cluster digest (16)
//!  24  incarnation nonce (u64, random at every start)
//!  32  sequence (u64)
//!  40  proposed view digest (u64)                48  committed view digest (u64)
//!  56  connections held in released slots (u32)
//!  60  incarnation age in ms (u64: time since this incarnation started)
//!  68  VIP frames per second the sender's data path sees (u32, saturating)
//!  72  member bitmap (32 bytes, bit i = host id i)
//! 104  per rule: weight, priority, rule flags     (3 bytes each)
//!   .  per member, in id order: state (bit 7: fresh), settings digest (u8), ack (u24)
//!   .  held-slot filter: 0..=256 bytes, a multiple of 8 (see `convergence::HeldFilter`)
//!   .  tag: keyed BLAKE3 of everything before it, Ethernet header included (16 bytes)
//! ```
//!
//! At 255 members and 32 rules the payload is 1491 bytes before the filter, which then
//! gets the 8 bytes left of a 1500-byte frame. [`HeartbeatView`] reads a frame without
//! copying and checks every length before any access; [`Heartbeat::encode`] writes one;
//! both take their offsets from [`field`].

use crate::mac::MacAddr;

/// The EtherType of heartbeats: IEEE 802 local experimental EtherType 1.
pub const ETHERTYPE: u16 = 0x88b5;
/// Protocol version written and accepted.
pub const VERSION: u8 = 3;
/// Bytes of the Ethernet header.
pub const ETH_HEADER_LEN: usize = 14;
/// Bytes of the fixed part of the payload.
pub const FIXED_LEN: usize = field::RULES;
/// The largest payload a heartbeat fills (a standard 1500-byte MTU).
pub const MAX_PAYLOAD: usize = 1500;
/// Most bytes of the held-slot filter.
pub const MAX_HELD_FILTER: usize = 256;
/// Bytes per rule's settings.
pub const RULE_LEN: usize = 3;
/// Bytes per member entry.
pub const MEMBER_LEN: usize = 5;
/// Acknowledgements carry the low 24 bits of a sequence number.
pub const ACK_MASK: u64 = 0xff_ffff;
/// Bytes of the authentication tag.
pub const TAG_LEN: usize = 16;
/// Most rules a heartbeat carries.
pub const MAX_WIRE_RULES: usize = 32;
const MAGIC: &[u8; 3] = b"NLB";

/// Offsets of the payload's fields (after the Ethernet header), the one table that
/// parsing, the getters and encoding use.
pub mod field {
    /// Byte range of the magic.
    pub const MAGIC: std::ops::Range<usize> = 0..3;
    /// Protocol version.
    pub const VERSION: usize = 3;
    /// Sender's host id.
    pub const HOST_ID: usize = 4;
    /// Sender's state.
    pub const STATE: usize = 5;
    /// Flags (bit 0: a committed view digest follows).
    pub const FLAGS: usize = 6;
    /// Rule count.
    pub const RULE_COUNT: usize = 7;
    /// Cluster digest, 16 bytes.
    pub const CLUSTER_DIGEST: std::ops::Range<usize> = 8..24;
    /// Incarnation nonce, u64.
    pub const NONCE: usize = 24;
    /// Sequence number, u64.
    pub const SEQ: usize = 32;
    /// Proposed view digest, u64.
    pub const PROPOSED: usize = 40;
    /// Committed view digest, u64.
    pub const COMMITTED: usize = 48;
    /// Connections held in released slots, u32.
    pub const HELD: usize = 56;
    /// Incarnation age in ms, u64.
    pub const AGE: usize = 60;
    /// VIP frames per second the sender's data path sees, u32.
    pub const VIP_FRAMES: usize = 68;
    /// Member bitmap, 32 bytes.
    pub const MEMBERS: std::ops::Range<usize> = 72..104;
    /// Where the per-rule settings start.
    pub const RULES: usize = 104;
}

/// A host's state as advertised on the wire.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum WireState {
    /// Not taking part; still announces itself so peers can show it.
    Stopped = 0,
    /// Taking part.
    Started = 1,
    /// Releasing its slots for new flows, serving its existing connections.
    Draining = 2,
    /// Stopped and ignoring commands until resumed.
    Suspended = 3,
    /// Refusing to join (duplicate host id); peers forget this incarnation.
    Refused = 4,
}

impl WireState {
    fn from_u8(b: u8) -> Option<Self> {
        Some(match b {
            0 => WireState::Stopped,
            1 => WireState::Started,
            2 => WireState::Draining,
            3 => WireState::Suspended,
            4 => WireState::Refused,
            _ => return None,
        })
    }

    /// True for states that are members of the cluster's view.
    pub fn is_member(self) -> bool {
        matches!(self, WireState::Started | WireState::Draining)
    }
}

impl std::fmt::Display for WireState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(match self {
            WireState::Stopped => "Stopped",
            WireState::Started => "Started",
            WireState::Draining => "Draining",
            WireState::Suspended => "Suspended",
            WireState::Refused => "Refused",
        })
    }
}

/// A host's settings for one rule as advertised.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct WireRule {
    /// Effective load weight (0..=100).
    pub weight: u8,
    /// Handling priority (single-host rules).
    pub priority: u8,
    /// Bit 0: enabled; bit 1: draining (enabled but taking no new flows).
    pub flags: u8,
}

/// Rule flag: the rule is enabled on this host.
pub const RULE_ENABLED: u8 = 1;
/// Rule flag: the rule is draining on this host.
pub const RULE_DRAINING: u8 = 2;

/// One member of a sender's view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WireMember {
    /// The member's host id.
    pub id: u8,
    /// Its state as the sender sees it.
    pub state: WireState,
    /// The low 8 bits of its settings digest as the sender sees it (diagnostic).
    pub settings_digest: u8,
    /// The low 24 bits of the last sequence number the sender received from it.
    pub ack: u32,
    /// True when that acknowledged frame proved the member live to the sender (it
    /// acknowledged one of the sender's recent frames): only such acknowledgements
    /// renew the member's lease.
    pub fresh: bool,
}

/// Bit of a member entry's state byte that marks a fresh acknowledgement.
const FRESH_BIT: u8 = 0x80;

/// Why a frame was not accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DecodeError {
    /// Shorter than its own fields say.
    Truncated,
    /// Not an nlb heartbeat (EtherType or magic).
    NotHeartbeat,
    /// A version this build does not speak.
    UnsupportedVersion,
    /// A field holds an impossible value.
    Malformed,
    /// The tag does not match: forged, corrupted or another cluster's key.
    BadTag,
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DecodeError::Truncated => "truncated frame",
            DecodeError::NotHeartbeat => "not an nlb heartbeat",
            DecodeError::UnsupportedVersion => "unsupported heartbeat version",
            DecodeError::Malformed => "malformed heartbeat",
            DecodeError::BadTag => "authentication failed",
        })
    }
}

/// Bytes on the wire (Ethernet header included, FCS and preamble not) of a heartbeat
/// carrying `rules` rules, `members` view entries and a held-slot filter of
/// `filter` bytes.
pub fn frame_len(rules: usize, members: usize, filter: usize) -> usize {
    ETH_HEADER_LEN + FIXED_LEN + rules * RULE_LEN + members * MEMBER_LEN + filter + TAG_LEN
}

/// The bytes of held-slot filter a heartbeat with `rules` rules and `members` view
/// entries has room for within one 1500-byte payload (a multiple of 8, at most 256).
pub fn held_filter_room(rules: usize, members: usize) -> usize {
    let used = FIXED_LEN + rules * RULE_LEN + members * MEMBER_LEN + TAG_LEN;
    (MAX_PAYLOAD.saturating_sub(used) / 8 * 8).min(MAX_HELD_FILTER)
}

/// A checked, authenticated view over the bytes of one heartbeat frame.
#[derive(Clone, Copy, Debug)]
pub struct HeartbeatView<'a> {
    frame: &'a [u8],
    rules: usize,
    members: usize,
    filter: usize,
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

fn be64(b: &[u8], at: usize) -> u64 {
    u64::from_be_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

fn tag(key: &[u8; 32], authenticated: &[u8]) -> [u8; TAG_LEN] {
    let h = blake3::keyed_hash(key, authenticated);
    h.as_bytes()[..TAG_LEN].try_into().expect("16 bytes")
}

impl<'a> HeartbeatView<'a> {
    /// Checks structure and tag. Never panics, whatever the bytes.
    pub fn parse(frame: &'a [u8], key: &[u8; 32]) -> Result<Self, DecodeError> {
        let view = Self::parse_unauthenticated(frame)?;
        let body = &frame[..frame.len() - TAG_LEN];
        let want = tag(key, body);
        // Constant-time comparison: the tag is a secret-dependent value.
        let got: &[u8; TAG_LEN] = frame[frame.len() - TAG_LEN..]
            .try_into()
            .expect("parse checked the length");
        if !constant_time_eq::constant_time_eq_16(&want, got) {
            return Err(DecodeError::BadTag);
        }
        Ok(view)
    }

    /// Checks structure only (for tools that display frames of unknown clusters).
    pub fn parse_unauthenticated(frame: &'a [u8]) -> Result<Self, DecodeError> {
        if frame.len() < ETH_HEADER_LEN + 2 {
            return Err(DecodeError::Truncated);
        }
        if be16(frame, 12) != ETHERTYPE {
            return Err(DecodeError::NotHeartbeat);
        }
        let p = &frame[ETH_HEADER_LEN..];
        if p.len() < field::VERSION + 1 {
            return Err(DecodeError::Truncated);
        }
        if &p[field::MAGIC] != MAGIC {
            return Err(DecodeError::NotHeartbeat);
        }
        if p[field::VERSION] != VERSION {
            return Err(DecodeError::UnsupportedVersion);
        }
        if p.len() < FIXED_LEN {
            return Err(DecodeError::Truncated);
        }
        let rules = p[field::RULE_COUNT] as usize;
        if rules > MAX_WIRE_RULES
            || p[field::HOST_ID] == 0
            || WireState::from_u8(p[field::STATE]).is_none()
        {
            return Err(DecodeError::Malformed);
        }
        if p[field::MEMBERS.start] & 1 != 0 {
            return Err(DecodeError::Malformed); // host id 0 does not exist
        }
        let members: usize = p[field::MEMBERS]
            .iter()
            .map(|b| b.count_ones() as usize)
            .sum();
        let want = FIXED_LEN + rules * RULE_LEN + members * MEMBER_LEN + TAG_LEN;
        if p.len() < want {
            return Err(DecodeError::Truncated);
        }
        let filter = p.len() - want;
        if filter % 8 != 0 || filter > MAX_HELD_FILTER {
            return Err(DecodeError::Malformed);
        }
        let view = HeartbeatView {
            frame,
            rules,
            members,
            filter,
        };
        for (_, at) in view.members() {
            if WireState::from_u8(view.payload()[at] & !FRESH_BIT).is_none() {
                return Err(DecodeError::Malformed);
            }
        }
        Ok(view)
    }

    fn payload(&self) -> &'a [u8] {
        &self.frame[ETH_HEADER_LEN..]
    }

    /// Destination MAC.
    pub fn dst(&self) -> MacAddr {
        MacAddr(self.frame[0..6].try_into().expect("6 bytes"))
    }

    /// Source MAC.
    pub fn src(&self) -> MacAddr {
        MacAddr(self.frame[6..12].try_into().expect("6 bytes"))
    }

    /// Sender's host id (1..=255).
    pub fn host_id(&self) -> u8 {
        self.payload()[field::HOST_ID]
    }

    /// Sender's state.
    pub fn state(&self) -> WireState {
        WireState::from_u8(self.payload()[field::STATE]).expect("checked in parse")
    }

    /// Flags; bit 0: the sender has a committed view.
    pub fn flags(&self) -> u8 {
        self.payload()[field::FLAGS]
    }

    /// Sender's cluster digest.
    pub fn cluster_digest(&self) -> [u8; 16] {
        self.payload()[field::CLUSTER_DIGEST]
            .try_into()
            .expect("16 bytes")
    }

    /// Sender's incarnation nonce (random at every start of the host).
    pub fn boot_nonce(&self) -> u64 {
        be64(self.payload(), field::NONCE)
    }

    /// Sender's sequence number.
    pub fn seq(&self) -> u64 {
        be64(self.payload(), field::SEQ)
    }

    /// Digest of the view the sender proposes.
    pub fn proposed(&self) -> u64 {
        be64(self.payload(), field::PROPOSED)
    }

    /// Digest of the view the sender has committed (valid when flag bit 0 is set).
    pub fn committed(&self) -> Option<u64> {
        (self.flags() & 1 != 0).then(|| be64(self.payload(), field::COMMITTED))
    }

    /// Connections the sender still holds in slots it released.
    pub fn held(&self) -> u32 {
        be32(self.payload(), field::HELD)
    }

    /// Time since the sender's incarnation started.
    pub fn age(&self) -> std::time::Duration {
        std::time::Duration::from_millis(be64(self.payload(), field::AGE))
    }

    /// VIP frames per second the sender's data path sees.
    pub fn vip_frames(&self) -> u32 {
        be32(self.payload(), field::VIP_FRAMES)
    }

    /// The sender's held-slot filter (empty when it holds nothing, or had no room).
    pub fn held_filter(&self) -> &'a [u8] {
        let p = self.payload();
        let end = p.len() - TAG_LEN;
        &p[end - self.filter..end]
    }

    /// True when `id` is in the sender's view.
    pub fn has_member(&self, id: u8) -> bool {
        self.payload()[field::MEMBERS.start + id as usize / 8] & (1 << (id % 8)) != 0
    }

    /// Sender's settings for each rule.
    pub fn rules(&self) -> impl Iterator<Item = WireRule> + 'a {
        let p = self.payload();
        (0..self.rules).map(move |i| {
            let at = FIXED_LEN + i * RULE_LEN;
            WireRule {
                weight: p[at],
                priority: p[at + 1],
                flags: p[at + 2],
            }
        })
    }

    /// Number of rules carried.
    pub fn rule_count(&self) -> usize {
        self.rules
    }

    /// Each member's id and the offset of its entry in the payload.
    fn members(&self) -> impl Iterator<Item = (u8, usize)> + 'a {
        let p = self.payload();
        let base = FIXED_LEN + self.rules * RULE_LEN;
        (1..=255u8)
            .filter(move |&id| p[field::MEMBERS.start + id as usize / 8] & (1 << (id % 8)) != 0)
            .enumerate()
            .map(move |(i, id)| (id, base + i * MEMBER_LEN))
    }

    /// The sender's view, in host id order.
    pub fn view(&self) -> impl Iterator<Item = WireMember> + 'a {
        let p = self.payload();
        self.members().map(move |(id, at)| WireMember {
            id,
            state: WireState::from_u8(p[at] & !FRESH_BIT).expect("checked in parse"),
            fresh: p[at] & FRESH_BIT != 0,
            settings_digest: p[at + 1],
            ack: u32::from_be_bytes([0, p[at + 2], p[at + 3], p[at + 4]]),
        })
    }

    /// Number of members in the sender's view.
    pub fn member_count(&self) -> usize {
        self.members
    }

    /// The sender's entry for `id`, if `id` is in its view.
    pub fn member(&self, id: u8) -> Option<WireMember> {
        if !self.has_member(id) {
            return None;
        }
        self.view().find(|m| m.id == id)
    }
}

/// A heartbeat to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Heartbeat {
    /// Destination MAC (broadcast in unicast mode, else the cluster MAC).
    pub dst: MacAddr,
    /// Source MAC.
    pub src: MacAddr,
    /// Sender's host id.
    pub host_id: u8,
    /// Sender's state.
    pub state: WireState,
    /// Sender's cluster digest.
    pub cluster_digest: [u8; 16],
    /// Sender's incarnation nonce.
    pub boot_nonce: u64,
    /// Time since the sender's incarnation started (ms resolution on the wire).
    pub age: std::time::Duration,
    /// VIP frames per second the sender's data path sees.
    pub vip_frames: u32,
    /// Sequence number.
    pub seq: u64,
    /// Proposed view digest.
    pub proposed: u64,
    /// Committed view digest, if any.
    pub committed: Option<u64>,
    /// Connections held in released slots.
    pub held: u32,
    /// Per-rule settings.
    pub rules: Vec<WireRule>,
    /// The sender's view (any order; written in id order).
    pub view: Vec<WireMember>,
    /// The held-slot filter: a multiple of 8 bytes, at most [`held_filter_room`].
    pub held_filter: Vec<u8>,
}

impl Heartbeat {
    /// Encodes and authenticates the frame.
    ///
    /// # Panics
    /// With more than 32 rules, a member id of 0, two entries for one member, or a
    /// held-slot filter that is not a multiple of 8 bytes or does not fit: the state
    /// machine never builds such a heartbeat.
    pub fn encode(&self, key: &[u8; 32]) -> Vec<u8> {
        assert!(self.rules.len() <= MAX_WIRE_RULES && self.host_id != 0);
        let mut view = self.view.clone();
        view.sort_by_key(|m| m.id);
        assert!(view.windows(2).all(|w| w[0].id != w[1].id) && view.iter().all(|m| m.id != 0));
        assert!(
            self.held_filter.len() % 8 == 0
                && self.held_filter.len() <= held_filter_room(self.rules.len(), view.len())
        );
        let mut f = Vec::with_capacity(frame_len(
            self.rules.len(),
            view.len(),
            self.held_filter.len(),
        ));
        f.extend_from_slice(&self.dst.0);
        f.extend_from_slice(&self.src.0);
        f.extend_from_slice(&ETHERTYPE.to_be_bytes());
        f.extend_from_slice(MAGIC);
        f.push(VERSION);
        f.push(self.host_id);
        f.push(self.state as u8);
        f.push(u8::from(self.committed.is_some()));
        f.push(self.rules.len() as u8);
        f.extend_from_slice(&self.cluster_digest);
        f.extend_from_slice(&self.boot_nonce.to_be_bytes());
        f.extend_from_slice(&self.seq.to_be_bytes());
        f.extend_from_slice(&self.proposed.to_be_bytes());
        f.extend_from_slice(&self.committed.unwrap_or(0).to_be_bytes());
        f.extend_from_slice(&self.held.to_be_bytes());
        f.extend_from_slice(&(self.age.as_millis() as u64).to_be_bytes());
        f.extend_from_slice(&self.vip_frames.to_be_bytes());
        debug_assert_eq!(f.len(), ETH_HEADER_LEN + field::MEMBERS.start);
        let mut bitmap = [0u8; 32];
        for m in &view {
            bitmap[m.id as usize / 8] |= 1 << (m.id % 8);
        }
        f.extend_from_slice(&bitmap);
        for r in &self.rules {
            f.extend_from_slice(&[r.weight, r.priority, r.flags]);
        }
        for m in &view {
            f.push(m.state as u8 | if m.fresh { FRESH_BIT } else { 0 });
            f.push(m.settings_digest);
            f.extend_from_slice(&m.ack.to_be_bytes()[1..]);
        }
        f.extend_from_slice(&self.held_filter);
        let t = tag(key, &f);
        f.extend_from_slice(&t);
        f
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; 32] = [7; 32];

    fn sample(members: u8, rules: usize) -> Heartbeat {
        Heartbeat {
            dst: MacAddr::BROADCAST,
            src: MacAddr([2, 0xbf, 1, 2, 3, 4]),
            host_id: 3,
            state: WireState::Started,
            cluster_digest: [9; 16],
            boot_nonce: 0x0102_0304_0506_0708,
            age: std::time::Duration::from_millis(123_456),
            vip_frames: 98_765,
            seq: 42,
            proposed: 0xdead_beef,
            committed: Some(0xfeed),
            held: 17,
            rules: (0..rules)
                .map(|i| WireRule {
                    weight: i as u8,
                    priority: 1,
                    flags: RULE_ENABLED,
                })
                .collect(),
            view: (1..=members)
                .rev()
                .map(|id| WireMember {
                    id,
                    state: WireState::Started,
                    settings_digest: id.wrapping_mul(3),
                    ack: u32::from(id) << 16 | 0xabcd,
                    fresh: id % 2 == 0,
                })
                .collect(),
            held_filter: vec![],
        }
    }

    #[test]
    fn round_trip() {
        let h = sample(5, 3);
        let f = h.encode(&KEY);
        let v = HeartbeatView::parse(&f, &KEY).unwrap();
        assert_eq!(
            (v.host_id(), v.state(), v.seq(), v.boot_nonce()),
            (3, WireState::Started, 42, h.boot_nonce)
        );
        assert_eq!(
            (v.proposed(), v.committed(), v.held()),
            (0xdead_beef, Some(0xfeed), 17)
        );
        assert_eq!(v.cluster_digest(), [9; 16]);
        assert_eq!(v.rules().collect::<Vec<_>>(), h.rules);
        let ids: Vec<u8> = v.view().map(|m| m.id).collect();
        assert_eq!(ids, [1, 2, 3, 4, 5]);
        assert_eq!(v.member(4).unwrap().settings_digest, 12);
        assert_eq!(v.member(4).unwrap().ack, 0x04abcd);
        assert!(v.member(4).unwrap().fresh && !v.member(3).unwrap().fresh);
        assert_eq!(v.member(3).unwrap().state, WireState::Started);
        assert!(v.member(6).is_none());
        assert_eq!(v.src(), h.src);
        assert_eq!(v.age(), h.age);
        assert_eq!(v.vip_frames(), 98_765);
        assert!(v.held_filter().is_empty());
    }

    #[test]
    fn carries_a_held_filter_in_the_room_left() {
        for (m, r) in [(0u8, 0usize), (7, 1), (64, 32), (255, 32)] {
            let mut h = sample(m, r);
            let room = held_filter_room(r, m as usize);
            h.held_filter = (0..room).map(|i| i as u8 ^ 0x5a).collect();
            let f = h.encode(&KEY);
            assert!(
                f.len() - ETH_HEADER_LEN <= MAX_PAYLOAD,
                "{m} members, {r} rules"
            );
            assert_eq!(f.len(), frame_len(r, m as usize, room));
            let v = HeartbeatView::parse(&f, &KEY).unwrap();
            assert_eq!(v.held_filter(), &h.held_filter[..]);
            assert_eq!(v.member_count(), m as usize);
        }
        assert_eq!(held_filter_room(32, 64), MAX_HELD_FILTER);
        assert_eq!(held_filter_room(32, 255), 8);
    }

    #[test]
    fn frame_len_matches_encoding() {
        for (m, r) in [(0u8, 0usize), (7, 1), (63, 3), (255, 32)] {
            assert_eq!(sample(m, r).encode(&KEY).len(), frame_len(r, m as usize, 0));
        }
    }

    #[test]
    fn fits_one_frame_at_255_hosts_and_32_rules() {
        let f = sample(255, 32).encode(&KEY);
        assert_eq!(f.len() - ETH_HEADER_LEN, 1491);
        assert!(f.len() - ETH_HEADER_LEN <= 1500);
        assert_eq!(HeartbeatView::parse(&f, &KEY).unwrap().member_count(), 255);
    }

    #[test]
    fn any_bit_flip_fails_authentication_or_structure() {
        let f = sample(4, 2).encode(&KEY);
        for i in 0..f.len() {
            for bit in 0..8 {
                let mut g = f.clone();
                g[i] ^= 1 << bit;
                assert!(
                    HeartbeatView::parse(&g, &KEY).is_err(),
                    "byte {i} bit {bit}"
                );
            }
        }
        assert_eq!(
            HeartbeatView::parse(&f, &[8; 32]).unwrap_err(),
            DecodeError::BadTag
        );
    }

    #[test]
    fn every_truncation_is_rejected() {
        let f = sample(4, 2).encode(&KEY);
        for n in 0..f.len() {
            assert!(HeartbeatView::parse(&f[..n], &KEY).is_err(), "{n}");
        }
        let mut longer = f.clone();
        longer.push(0);
        assert!(HeartbeatView::parse(&longer, &KEY).is_err());
    }
}
