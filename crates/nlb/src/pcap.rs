//! pcap files for `nlb doctor`: read a capture taken anywhere (`tcpdump -i IF -w FILE`,
//! a switch's mirror port) to analyse it offline, and write frames captured live so
//! they can be analysed again or opened in Wireshark. Classic pcap with Ethernet
//! frames only; the format itself is `nlb_core::doctor::pcap` (pure, tested there).

use anyhow::{Context, Result};
use nlb_core::doctor::pcap;
use std::path::Path;
use std::time::Duration;

/// The frames of the classic pcap file at `path`, each with its capture time since
/// the Unix epoch. Refuses pcapng and link types other than Ethernet, saying how to
/// convert or capture again.
pub fn read_pcap(path: &Path) -> Result<Vec<(Duration, Vec<u8>)>> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    pcap::parse(&bytes).with_context(|| format!("{}", path.display()))
}

/// Writes `frames` (times since the Unix epoch) to `path` as a classic pcap file with
/// nanosecond times, replacing any file there.
pub fn write_pcap(path: &Path, frames: &[(Duration, Vec<u8>)]) -> Result<()> {
    let bytes = pcap::encode(frames.iter().map(|(t, f)| (*t, f.as_slice())));
    std::fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_through_a_file() {
        let dir = std::env::temp_dir().join(format!("nlb-pcap-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("capture.pcap");
        let frames = vec![
            (Duration::new(1_700_000_000, 5), vec![0xff; 60]),
            (Duration::new(1_700_000_000, 250_000_000), vec![1, 2, 3, 4]),
        ];
        write_pcap(&path, &frames).unwrap();
        assert_eq!(read_pcap(&path).unwrap(), frames);
        // A file that is not pcap names itself and what it is.
        std::fs::write(&path, b"\x0a\x0d\x0d\x0a and the rest of a pcapng file").unwrap();
        let e = format!("{:#}", read_pcap(&path).unwrap_err());
        assert!(e.contains("capture.pcap") && e.contains("pcapng"), "{e}");
        let e = format!("{:#}", read_pcap(&dir.join("missing.pcap")).unwrap_err());
        assert!(
            e.contains("cannot read") && e.contains("missing.pcap"),
            "{e}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
