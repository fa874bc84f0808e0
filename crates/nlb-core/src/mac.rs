//! Ethernet MAC addresses in the three notations operators meet: Windows
//! (`01-00-5e-7f-03-e8`), colon (`01:00:5e:7f:03:e8`) and Cisco dotted (`0100.5e7f.03e8`).

use std::fmt;
use std::str::FromStr;

/// A 48-bit Ethernet MAC address.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct MacAddr(pub [u8; 6]);

impl MacAddr {
    /// The broadcast address `ff-ff-ff-ff-ff-ff`.
    pub const BROADCAST: MacAddr = MacAddr([0xff; 6]);

    /// True for group (multicast or broadcast) addresses: the I/G bit of the first octet.
    pub fn is_multicast(&self) -> bool {
        self.0[0] & 0x01 != 0
    }

    /// True for locally administered addresses: the U/L bit of the first octet.
    pub fn is_local(&self) -> bool {
        self.0[0] & 0x02 != 0
    }

    /// Windows form, lower case: `01-00-5e-7f-03-e8`. This is also what `Display` prints.
    pub fn windows(&self) -> String {
        self.join('-')
    }

    /// Colon form, as Linux and most switches print it: `01:00:5e:7f:03:e8`.
    pub fn colon(&self) -> String {
        self.join(':')
    }

    /// Cisco IOS dotted form: `0100.5e7f.03e8`.
    pub fn cisco(&self) -> String {
        let b = &self.0;
        format!(
            "{:02x}{:02x}.{:02x}{:02x}.{:02x}{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        )
    }

    fn join(&self, sep: char) -> String {
        let mut s = String::with_capacity(17);
        for (i, b) in self.0.iter().enumerate() {
            if i > 0 {
                s.push(sep);
            }
            s.push_str(&format!("{b:02x}"));
        }
        s
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.windows())
    }
}

impl fmt::Debug for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MacAddr({})", self.windows())
    }
}

/// Why a MAC address did not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseMacError {
    input: String,
}

impl fmt::Display for ParseMacError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` is not a MAC address; expected 01-00-5e-7f-03-e8, 01:00:5e:7f:03:e8 or 0100.5e7f.03e8",
            self.input
        )
    }
}

impl std::error::Error for ParseMacError {}

impl FromStr for MacAddr {
    type Err = ParseMacError;

    /// Accepts the Windows, colon and Cisco forms, in either case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ParseMacError {
            input: s.to_string(),
        };
        let groups: Vec<&str> = if s.contains('.') {
            s.split('.').collect()
        } else if s.contains('-') {
            s.split('-').collect()
        } else {
            s.split(':').collect()
        };
        // Six groups of two hex digits, or three groups of four (Cisco).
        let width = match groups.len() {
            6 => 2,
            3 if s.contains('.') => 4,
            _ => return Err(err()),
        };
        let mut out = [0u8; 6];
        let mut i = 0;
        for g in groups {
            if g.len() != width || !g.bytes().all(|c| c.is_ascii_hexdigit()) {
                return Err(err());
            }
            for pair in g.as_bytes().chunks(2) {
                let text = std::str::from_utf8(pair).map_err(|_| err())?;
                out[i] = u8::from_str_radix(text, 16).map_err(|_| err())?;
                i += 1;
            }
        }
        Ok(MacAddr(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_three_forms() {
        let m = MacAddr([0x01, 0x00, 0x5e, 0x7f, 0x03, 0xe8]);
        assert_eq!(m.windows(), "01-00-5e-7f-03-e8");
        assert_eq!(m.colon(), "01:00:5e:7f:03:e8");
        assert_eq!(m.cisco(), "0100.5e7f.03e8");
        assert_eq!(m.to_string(), "01-00-5e-7f-03-e8");
    }

    #[test]
    fn parses_three_forms_and_both_cases() {
        let m = MacAddr([0x03, 0xbf, 0xac, 0x1f, 0x01, 0xe8]);
        for s in [
            "03-bf-ac-1f-01-e8",
            "03:BF:AC:1F:01:E8",
            "03bf.ac1f.01e8",
            "03BF.AC1F.01E8",
        ] {
            assert_eq!(s.parse::<MacAddr>().unwrap(), m, "{s}");
        }
    }

    #[test]
    fn rejects_malformed() {
        for s in [
            "",
            "03-bf-ac-1f-01",
            "03-bf-ac-1f-01-e8-00",
            "03bf.ac1f",
            "3-bf-ac-1f-01-e8",
            "03-bf-ac-1f-01-g8",
            "03bf-ac1f-01e8",
            "+3-bf-ac-1f-01-e8",
        ] {
            let e = s.parse::<MacAddr>().unwrap_err();
            assert!(e.to_string().contains(s), "{e}");
        }
    }

    #[test]
    fn flags() {
        assert!(MacAddr([0x01, 0, 0x5e, 0, 0, 1]).is_multicast());
        assert!(MacAddr([0x03, 0xbf, 0, 0, 0, 1]).is_multicast());
        assert!(!MacAddr([0x02, 0xbf, 0, 0, 0, 1]).is_multicast());
        assert!(MacAddr([0x02, 0xbf, 0, 0, 0, 1]).is_local());
    }
}
