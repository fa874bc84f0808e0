//! Classic pcap files (the libpcap format `tcpdump -w` writes), as bytes: [`parse`] and
//! [`encode`]. Pure: the `nlb` command reads and writes the files. Only Ethernet captures
//! (link type 1) are taken; pcapng (what Wireshark and dumpcap write by default) is
//! refused with the command that converts it.
//!
//! Hand-written rather than a crate: the format is a 24-byte header and a 16-byte
//! header per frame, both byte orders, microsecond or nanosecond times.

use std::time::Duration;

/// Link type of Ethernet captures (LINKTYPE_ETHERNET).
pub const LINKTYPE_ETHERNET: u32 = 1;
/// Frames longer than this are refused as corruption (the largest snap length tools use).
pub const MAX_FRAME: usize = 262_144;

const MAGIC_MICROS: u32 = 0xa1b2_c3d4;
const MAGIC_NANOS: u32 = 0xa1b2_3c4d;
const MAGIC_PCAPNG: u32 = 0x0a0d_0d0a;

/// Why bytes are not a pcap file nlb can read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PcapError {
    /// Shorter than the 24-byte file header.
    #[error("not a pcap file: {0} bytes, shorter than the 24-byte pcap header")]
    TooShort(usize),
    /// A pcapng file.
    #[error(
        "a pcapng file, not classic pcap: convert it with `editcap -F pcap IN OUT` or capture with \
         `tcpdump -w` (or `tshark -F pcap -w`)"
    )]
    Pcapng,
    /// Not a pcap magic number.
    #[error("not a pcap file: magic number {0:#010x}")]
    NotPcap(u32),
    /// A link type other than Ethernet.
    #[error(
        "link type {0}, not Ethernet (1): capture on the Ethernet interface itself (not `any`, \
         which gives Linux cooked headers) with `tcpdump -i IF -w FILE`"
    )]
    LinkType(u32),
    /// A frame header or its bytes run past the end of the file.
    #[error("frame {frame} at byte {offset} is cut short: the file ends inside it")]
    Truncated {
        /// 1-based frame number.
        frame: usize,
        /// Where its record starts.
        offset: usize,
    },
    /// A frame longer than [`MAX_FRAME`].
    #[error("frame {frame} at byte {offset} claims {len} bytes: the file is corrupt")]
    FrameTooLong {
        /// 1-based frame number.
        frame: usize,
        /// Where its record starts.
        offset: usize,
        /// The length it claims.
        len: usize,
    },
}

/// The frames of a classic pcap file, each with its capture time since the Unix epoch.
pub fn parse(bytes: &[u8]) -> Result<Vec<(Duration, Vec<u8>)>, PcapError> {
    let header: [u8; 24] = bytes
        .get(..24)
        .and_then(|h| h.try_into().ok())
        .ok_or(PcapError::TooShort(bytes.len()))?;
    let le = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
    let be = u32::from_be_bytes([header[0], header[1], header[2], header[3]]);
    let (little, nanos) = match (le, be) {
        (MAGIC_MICROS, _) => (true, false),
        (MAGIC_NANOS, _) => (true, true),
        (_, MAGIC_MICROS) => (false, false),
        (_, MAGIC_NANOS) => (false, true),
        (MAGIC_PCAPNG, _) => return Err(PcapError::Pcapng),
        _ => return Err(PcapError::NotPcap(be)),
    };
    let word = |b: &[u8], i: usize| -> Option<u32> {
        let w: [u8; 4] = b.get(i..i + 4)?.try_into().ok()?;
        Some(if little {
            u32::from_le_bytes(w)
        } else {
            u32::from_be_bytes(w)
        })
    };
    let link = word(&header, 20).unwrap_or(0);
    if link != LINKTYPE_ETHERNET {
        return Err(PcapError::LinkType(link));
    }
    let mut frames = Vec::new();
    let mut at = 24;
    while at < bytes.len() {
        let frame = frames.len() + 1;
        let truncated = PcapError::Truncated { frame, offset: at };
        let (Some(sec), Some(frac), Some(len)) =
            (word(bytes, at), word(bytes, at + 4), word(bytes, at + 8))
        else {
            return Err(truncated);
        };
        let len = len as usize;
        if len > MAX_FRAME {
            return Err(PcapError::FrameTooLong {
                frame,
                offset: at,
                len,
            });
        }
        let data = bytes.get(at + 16..at + 16 + len).ok_or(truncated)?;
        let sub = if nanos {
            Duration::from_nanos(u64::from(frac))
        } else {
            Duration::from_micros(u64::from(frac))
        };
        frames.push((Duration::from_secs(u64::from(sec)) + sub, data.to_vec()));
        at += 16 + len;
    }
    Ok(frames)
}

/// A classic pcap file (little-endian, nanosecond times, Ethernet) holding `frames`,
/// each with its time since the Unix epoch. Frames longer than [`MAX_FRAME`] are cut
/// to it (their original length is kept in the record); times past 2106 wrap.
pub fn encode<'a>(frames: impl IntoIterator<Item = (Duration, &'a [u8])>) -> Vec<u8> {
    let mut out = Vec::new();
    for w in [
        MAGIC_NANOS,
        0x0004_0002,
        0,
        0,
        MAX_FRAME as u32,
        LINKTYPE_ETHERNET,
    ] {
        out.extend_from_slice(&w.to_le_bytes());
    }
    // The second word above is version 2.4 as two little-endian u16s.
    for (at, data) in frames {
        let kept = &data[..data.len().min(MAX_FRAME)];
        for w in [
            at.as_secs() as u32,
            at.subsec_nanos(),
            kept.len() as u32,
            data.len() as u32,
        ] {
            out.extend_from_slice(&w.to_le_bytes());
        }
        out.extend_from_slice(kept);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_frames_and_nanosecond_times() {
        let frames: Vec<(Duration, Vec<u8>)> = vec![
            (Duration::new(1_700_000_000, 123_456_789), vec![1, 2, 3]),
            (Duration::new(1_700_000_001, 0), vec![]),
            (Duration::new(1_700_000_002, 999_999_999), vec![0xab; 1514]),
        ];
        let bytes = encode(frames.iter().map(|(t, f)| (*t, f.as_slice())));
        assert_eq!(&bytes[..4], &[0x4d, 0x3c, 0xb2, 0xa1]);
        assert_eq!(&bytes[4..8], &[2, 0, 4, 0], "version 2.4");
        assert_eq!(parse(&bytes).unwrap(), frames);
    }

    #[test]
    fn reads_big_endian_microsecond_files() {
        let mut b = Vec::new();
        for w in [MAGIC_MICROS, 0x0002_0004, 0, 0, 65535, 1] {
            b.extend_from_slice(&w.to_be_bytes());
        }
        for w in [10u32, 500_000, 2, 60] {
            b.extend_from_slice(&w.to_be_bytes());
        }
        b.extend_from_slice(&[7, 8]);
        assert_eq!(
            parse(&b).unwrap(),
            vec![(Duration::from_millis(10_500), vec![7, 8])]
        );
    }

    #[test]
    fn refuses_what_it_cannot_read() {
        assert_eq!(parse(&[0; 10]), Err(PcapError::TooShort(10)));
        let mut ng = vec![0x0a, 0x0d, 0x0d, 0x0a];
        ng.resize(32, 0);
        assert_eq!(parse(&ng), Err(PcapError::Pcapng));
        assert!(parse(&ng)
            .unwrap_err()
            .to_string()
            .contains("editcap -F pcap"));
        assert_eq!(parse(&[0x55; 24]), Err(PcapError::NotPcap(0x5555_5555)));
        let mut sll = encode([]);
        sll[20] = 113; // LINKTYPE_LINUX_SLL (`tcpdump -i any`)
        assert_eq!(parse(&sll), Err(PcapError::LinkType(113)));
        assert!(parse(&sll).unwrap_err().to_string().contains("not `any`"));
        let whole = encode([(Duration::ZERO, &[1u8, 2, 3][..])]);
        for cut in 25..whole.len() {
            assert_eq!(
                parse(&whole[..cut]),
                Err(PcapError::Truncated {
                    frame: 1,
                    offset: 24
                }),
                "{cut}"
            );
        }
        let mut long = encode([(Duration::ZERO, &[1u8][..])]);
        long[32..36].copy_from_slice(&(MAX_FRAME as u32 + 1).to_le_bytes());
        assert!(matches!(
            parse(&long),
            Err(PcapError::FrameTooLong { frame: 1, .. })
        ));
    }
}
