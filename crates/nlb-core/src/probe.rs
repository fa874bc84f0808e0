//! Path MTU probes on the heartbeat channel: `nlb doctor` on a member sends frames of a
//! chosen size to the cluster, and every member's nlbd answers each with a frame of the
//! same size, so the doctor learns the largest frame that passes between it and each
//! peer, in both directions, whatever the IP configuration.
//!
//! ```text
//! Ethernet: dst(6) src(6) ethertype(2) = 0x88b5 (the heartbeats')
//! payload (big-endian):
//!   0  magic "NLP"          3  version (1)
//!   4  kind (1 request, 2 reply)     5  sender's host id     6  reserved (2)
//!   8  token (u64): the request's, echoed by its reply
//!  16  length (u32): the whole frame's, Ethernet header included
//!  20  sender's interface MTU (u32)
//!  24  tag: keyed BLAKE3 of the Ethernet header and payload bytes 0..24 (16 bytes)
//!  40  zeros up to `length`
//! ```
//!
//! The tag covers the header only, so a receiver whose buffer is shorter than a jumbo
//! frame can still check it; the length on the wire must equal the length field.
//! Unauthenticated frames are refused: nobody without the cluster key makes a member
//! send anything. Heartbeats start with "NLB", so neither side mistakes one for the other.

use crate::mac::MacAddr;
use crate::wire::{ETHERTYPE, ETH_HEADER_LEN, TAG_LEN};

/// The probes' magic.
pub const MAGIC: &[u8; 3] = b"NLP";
/// Protocol version written and accepted.
pub const VERSION: u8 = 1;
/// Bytes of a probe's payload before its padding.
pub const HEADER_LEN: usize = 40;
/// The smallest probe frame.
pub const MIN_FRAME: usize = ETH_HEADER_LEN + HEADER_LEN;
/// Keeps the probe's tag apart from every other use of the key.
const DOMAIN: &[u8] = b"nlb path MTU probe v1";

/// Offsets in the payload.
mod field {
    pub const MAGIC: std::ops::Range<usize> = 0..3;
    pub const VERSION: usize = 3;
    pub const KIND: usize = 4;
    pub const HOST_ID: usize = 5;
    pub const TOKEN: std::ops::Range<usize> = 8..16;
    pub const LENGTH: std::ops::Range<usize> = 16..20;
    pub const MTU: std::ops::Range<usize> = 20..24;
    pub const TAG: std::ops::Range<usize> = 24..40;
}

/// A request or its reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProbeKind {
    /// From `nlb doctor`: answer with a frame this long.
    Request,
    /// From a member's nlbd.
    Reply,
}

/// One probe frame's contents.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Probe {
    /// Request or reply.
    pub kind: ProbeKind,
    /// The sender's host id.
    pub host_id: u8,
    /// Pairs a reply with its request.
    pub token: u64,
    /// The frame's length, Ethernet header included.
    pub len: usize,
    /// The sender's interface MTU.
    pub mtu: u32,
}

/// Why a frame is not a probe to act on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProbeError {
    /// Not a probe at all (a heartbeat, or junk).
    #[error("not a probe")]
    NotProbe,
    /// A probe of another version, or with an unknown kind.
    #[error("an unknown probe version or kind")]
    Unknown,
    /// The tag does not verify: another key, or forged.
    #[error("the probe's tag does not verify")]
    BadTag,
    /// The frame's length on the wire is not the one it claims.
    #[error("the probe arrived {got} bytes long, not the {claimed} it says")]
    Length {
        /// Claimed.
        claimed: usize,
        /// Arrived.
        got: usize,
    },
}

/// Whether a heartbeat-channel frame is a probe (by its magic), before any check.
pub fn is_probe(frame: &[u8]) -> bool {
    frame.get(ETH_HEADER_LEN..ETH_HEADER_LEN + 3) == Some(&MAGIC[..])
}

fn tag(key: &[u8; 32], covered: &[u8]) -> [u8; TAG_LEN] {
    let mut h = blake3::Hasher::new_keyed(key);
    h.update(DOMAIN);
    h.update(covered);
    let mut out = [0u8; TAG_LEN];
    out.copy_from_slice(&h.finalize().as_bytes()[..TAG_LEN]);
    out
}

impl Probe {
    /// The frame from `src` to `dst`, `self.len` bytes long (at least [`MIN_FRAME`]).
    pub fn encode(&self, dst: MacAddr, src: MacAddr, key: &[u8; 32]) -> Vec<u8> {
        let len = self.len.max(MIN_FRAME);
        let mut f = vec![0u8; len];
        f[0..6].copy_from_slice(&dst.0);
        f[6..12].copy_from_slice(&src.0);
        f[12..14].copy_from_slice(&ETHERTYPE.to_be_bytes());
        let p = &mut f[ETH_HEADER_LEN..];
        p[field::MAGIC].copy_from_slice(MAGIC);
        p[field::VERSION] = VERSION;
        p[field::KIND] = match self.kind {
            ProbeKind::Request => 1,
            ProbeKind::Reply => 2,
        };
        p[field::HOST_ID] = self.host_id;
        p[field::TOKEN].copy_from_slice(&self.token.to_be_bytes());
        p[field::LENGTH].copy_from_slice(&(len as u32).to_be_bytes());
        p[field::MTU].copy_from_slice(&self.mtu.to_be_bytes());
        let t = tag(key, &f[..ETH_HEADER_LEN + field::TAG.start]);
        f[ETH_HEADER_LEN + field::TAG.start..ETH_HEADER_LEN + field::TAG.end].copy_from_slice(&t);
        f
    }

    /// Reads a probe from the first bytes of a frame (`frame`, perhaps cut to a buffer's
    /// size) that was `wire_len` bytes long on the wire.
    pub fn parse(frame: &[u8], wire_len: usize, key: &[u8; 32]) -> Result<Probe, ProbeError> {
        if !is_probe(frame) || frame.len() < MIN_FRAME {
            return Err(ProbeError::NotProbe);
        }
        let p = &frame[ETH_HEADER_LEN..];
        let kind = match (p[field::VERSION], p[field::KIND]) {
            (VERSION, 1) => ProbeKind::Request,
            (VERSION, 2) => ProbeKind::Reply,
            _ => return Err(ProbeError::Unknown),
        };
        let expected = tag(key, &frame[..ETH_HEADER_LEN + field::TAG.start]);
        let got: &[u8; TAG_LEN] = p[field::TAG].try_into().expect("16 bytes");
        if !constant_time_eq::constant_time_eq_16(&expected, got) {
            return Err(ProbeError::BadTag);
        }
        let be32 =
            |r: std::ops::Range<usize>| u32::from_be_bytes(p[r].try_into().expect("4 bytes"));
        let claimed = be32(field::LENGTH) as usize;
        if claimed != wire_len {
            return Err(ProbeError::Length {
                claimed,
                got: wire_len,
            });
        }
        Ok(Probe {
            kind,
            host_id: p[field::HOST_ID],
            token: u64::from_be_bytes(p[field::TOKEN].try_into().expect("8 bytes")),
            len: claimed,
            mtu: be32(field::MTU),
        })
    }

    /// The reply to this request from host `host_id` with interface MTU `mtu`.
    pub fn reply(&self, host_id: u8, mtu: u32) -> Probe {
        Probe {
            kind: ProbeKind::Reply,
            host_id,
            token: self.token,
            len: self.len,
            mtu,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; 32] = [7; 32];
    const A: MacAddr = MacAddr([2, 0, 0, 0, 0, 1]);
    const B: MacAddr = MacAddr([2, 0, 0, 0, 0, 2]);

    fn request(len: usize) -> Probe {
        Probe {
            kind: ProbeKind::Request,
            host_id: 1,
            token: 0x0123_4567_89ab_cdef,
            len,
            mtu: 9000,
        }
    }

    #[test]
    fn a_probe_round_trips_even_when_cut_to_a_small_buffer() {
        let f = request(9014).encode(MacAddr([0xff; 6]), A, &KEY);
        assert_eq!(f.len(), 9014);
        assert!(is_probe(&f));
        assert_eq!(Probe::parse(&f, f.len(), &KEY), Ok(request(9014)));
        assert_eq!(Probe::parse(&f[..2048], 9014, &KEY), Ok(request(9014)));
        let r = request(9014).reply(2, 1500);
        let g = r.encode(A, B, &KEY);
        assert_eq!(Probe::parse(&g, g.len(), &KEY), Ok(r));
    }

    #[test]
    fn forged_cut_short_and_foreign_frames_are_refused() {
        let f = request(1514).encode(B, A, &KEY);
        assert_eq!(Probe::parse(&f, f.len(), &[8; 32]), Err(ProbeError::BadTag));
        let mut moved = f.clone();
        moved[6] ^= 1; // another sender: the header is covered
        assert_eq!(
            Probe::parse(&moved, moved.len(), &KEY),
            Err(ProbeError::BadTag)
        );
        assert_eq!(
            Probe::parse(&f, 1500, &KEY),
            Err(ProbeError::Length {
                claimed: 1514,
                got: 1500
            })
        );
        let mut hb = f.clone();
        hb[ETH_HEADER_LEN + 2] = b'B';
        assert!(!is_probe(&hb));
        assert_eq!(Probe::parse(&hb, hb.len(), &KEY), Err(ProbeError::NotProbe));
        assert_eq!(
            Probe::parse(&f[..20], 1514, &KEY),
            Err(ProbeError::NotProbe)
        );
        let mut v2 = f;
        v2[ETH_HEADER_LEN + 3] = 2;
        assert_eq!(Probe::parse(&v2, v2.len(), &KEY), Err(ProbeError::Unknown));
        for junk_len in 0..64 {
            let junk = vec![0x4e; junk_len];
            let _ = Probe::parse(&junk, junk_len, &KEY);
        }
    }
}
