//! The cluster key: the secret every host of a cluster shares (the file `key_file`
//! names), from which the key that authenticates heartbeats is derived.
//!
//! What nlbd accepts, and so what `nlb config check` accepts, is decided here once:
//! [`check_key`] judges a key file's bytes and mode bits (pure), [`read_key`] reads
//! them from the file system and asks it. A key file
//!
//! - must be a regular file nlbd can read;
//! - must hold at least [`MIN_SECRET_BYTES`] bytes of secret (leading and trailing
//!   ASCII whitespace is not part of it; `nlb keygen` writes 32 random bytes as 64
//!   hex digits);
//! - must not be readable or writable by group or others (mode bits `0o077`), as ssh
//!   refuses an unprotected private key: `chmod 600 FILE`.
//!
//! Hosts compare keys by a [`KeyFingerprint`]: a short digest derived from the secret
//! under its own context string, which reveals nothing about the secret or the
//! heartbeat key.

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

/// The least number of bytes of secret a key file must hold.
pub const MIN_SECRET_BYTES: usize = 16;

/// The mode bits a key file must not have: any access by group or others.
pub const FORBIDDEN_MODE_BITS: u32 = 0o077;

/// A cluster key that passed every check: the derived heartbeat key and the
/// fingerprint hosts compare. Its `Debug` shows the fingerprint only.
#[derive(Clone, PartialEq, Eq)]
pub struct ClusterKey {
    heartbeat: [u8; 32],
    fingerprint: KeyFingerprint,
}

impl ClusterKey {
    fn from_secret(secret: &[u8]) -> Self {
        let fp = blake3::derive_key("nlb key fingerprint v1", secret);
        ClusterKey {
            heartbeat: blake3::derive_key("nlb heartbeat key v1", secret),
            fingerprint: KeyFingerprint(fp[..8].try_into().expect("8 bytes")),
        }
    }

    /// The key that authenticates heartbeats.
    pub fn heartbeat_key(&self) -> [u8; 32] {
        self.heartbeat
    }

    /// The fingerprint: equal on two hosts exactly when their secrets are.
    pub fn fingerprint(&self) -> KeyFingerprint {
        self.fingerprint
    }
}

impl fmt::Debug for ClusterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ClusterKey(fingerprint {})", self.fingerprint)
    }
}

/// 64 bits of a digest of the secret under the context "nlb key fingerprint v1": safe
/// to print and to compare across hosts. Printed as 16 hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct KeyFingerprint(pub [u8; 8]);

impl fmt::Display for KeyFingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// Why nlbd refuses a key file. Each says what to do about it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The file cannot be opened or read.
    #[error("cannot read the key file {}: {reason}; make one with `nlb keygen {}` and copy it to every host", path.display(), path.display())]
    Unreadable {
        /// The key file.
        path: PathBuf,
        /// The operating system's reason.
        reason: String,
    },
    /// A directory, device or other non-regular file.
    #[error("the key file {} is not a regular file; `key_file` must name the file `nlb keygen` wrote", path.display())]
    NotAFile {
        /// The key file.
        path: PathBuf,
    },
    /// Fewer than [`MIN_SECRET_BYTES`] bytes of secret.
    #[error("the key file {} holds {len} byte(s) of secret; at least {MIN_SECRET_BYTES} are needed: make a new key with `nlb keygen --force {}` and copy it to every host", path.display(), path.display())]
    TooShort {
        /// The key file.
        path: PathBuf,
        /// Bytes of secret found (surrounding whitespace excluded).
        len: usize,
    },
    /// Group or others may read or write the file.
    #[error("the key file {} has mode {mode:04o}, so group or others may read or change the cluster key; nlbd refuses it, as ssh refuses an unprotected private key: run `chmod 600 {}`", path.display(), path.display())]
    TooOpen {
        /// The key file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
}

/// Judges a key file from its contents and its mode bits (`st_mode`; only the
/// permission bits count). Reports every problem, not just the first.
pub fn check_key(path: &Path, bytes: &[u8], mode: u32) -> Result<ClusterKey, Vec<KeyError>> {
    let mut problems = Vec::new();
    let mode = mode & 0o7777;
    if mode & FORBIDDEN_MODE_BITS != 0 {
        problems.push(KeyError::TooOpen {
            path: path.to_path_buf(),
            mode,
        });
    }
    let secret = bytes.trim_ascii();
    if secret.len() < MIN_SECRET_BYTES {
        problems.push(KeyError::TooShort {
            path: path.to_path_buf(),
            len: secret.len(),
        });
    }
    if problems.is_empty() {
        Ok(ClusterKey::from_secret(secret))
    } else {
        Err(problems)
    }
}

/// Reads a key file and judges it with [`check_key`]: what nlbd does at start and
/// `nlb config check` does for every file it checks.
pub fn read_key(path: &Path) -> Result<ClusterKey, Vec<KeyError>> {
    use std::os::unix::fs::PermissionsExt;
    let unreadable = |e: std::io::Error| {
        vec![KeyError::Unreadable {
            path: path.to_path_buf(),
            reason: e.to_string(),
        }]
    };
    let mut file = std::fs::File::open(path).map_err(unreadable)?;
    // The mode of the file opened, not of whatever the path names a moment later.
    let meta = file.metadata().map_err(unreadable)?;
    if !meta.is_file() {
        return Err(vec![KeyError::NotAFile {
            path: path.to_path_buf(),
        }]);
    }
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).map_err(unreadable)?;
    check_key(path, &bytes, meta.permissions().mode())
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEYGEN: &[u8] = b"6f1b0c2a9e8d7c6b5a49382716050f1e2d3c4b5a69788796a5b4c3d2e1f00112\n";

    fn p() -> &'static Path {
        Path::new("/etc/nlb/web.key")
    }

    #[test]
    fn a_keygen_key_of_mode_0600_passes() {
        let k = check_key(p(), KEYGEN, 0o100600).unwrap();
        // The heartbeat key is what nlbd has always derived: the derivation is wire format.
        assert_eq!(
            k.heartbeat_key(),
            blake3::derive_key("nlb heartbeat key v1", KEYGEN.trim_ascii())
        );
        assert_eq!(check_key(p(), KEYGEN, 0o400).unwrap(), k);
    }

    #[test]
    fn group_or_other_access_is_refused_with_the_fix() {
        for mode in [0o644, 0o640, 0o604, 0o620, 0o602, 0o660, 0o666, 0o100644] {
            let e = check_key(p(), KEYGEN, mode).unwrap_err();
            assert_eq!(
                e,
                [KeyError::TooOpen {
                    path: p().into(),
                    mode: mode & 0o7777
                }],
                "{mode:o}"
            );
            assert!(
                e[0].to_string().contains("chmod 600 /etc/nlb/web.key"),
                "{}",
                e[0]
            );
        }
    }

    #[test]
    fn short_and_empty_secrets_are_refused() {
        for (bytes, len) in [
            (&b"secret"[..], 6),
            (b"", 0),
            (b"  \n", 0),
            (b"0123456789abcde\n", 15),
        ] {
            let e = check_key(p(), bytes, 0o600).unwrap_err();
            assert_eq!(
                e,
                [KeyError::TooShort {
                    path: p().into(),
                    len
                }]
            );
            assert!(e[0].to_string().contains("at least 16"), "{}", e[0]);
        }
        assert!(check_key(p(), b"0123456789abcdef", 0o600).is_ok());
    }

    #[test]
    fn every_problem_of_a_key_is_reported() {
        let e = check_key(p(), b"short", 0o644).unwrap_err();
        assert!(
            matches!(
                &e[..],
                [KeyError::TooOpen { .. }, KeyError::TooShort { len: 5, .. }]
            ),
            "{e:?}"
        );
    }

    #[test]
    fn fingerprints_tell_keys_apart_and_reveal_neither_secret_nor_heartbeat_key() {
        let a = check_key(p(), KEYGEN, 0o600).unwrap();
        // Whitespace around the secret is not part of it.
        let b = check_key(p(), KEYGEN.trim_ascii(), 0o600).unwrap();
        assert_eq!(a.fingerprint(), b.fingerprint());
        let mut other = KEYGEN.to_vec();
        other[0] = b'7';
        let c = check_key(p(), &other, 0o600).unwrap();
        assert_ne!(a.fingerprint(), c.fingerprint());
        let fp = a.fingerprint().to_string();
        assert_eq!(fp.len(), 16);
        let secret = std::str::from_utf8(KEYGEN.trim_ascii()).unwrap();
        assert!(!secret.contains(&fp));
        let hb: String = a
            .heartbeat_key()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert!(!hb.contains(&fp));
        // Debug shows the fingerprint only.
        let dbg = format!("{a:?}");
        assert!(dbg.contains(&fp) && !dbg.contains(&hb[..16]), "{dbg}");
    }

    #[test]
    fn read_key_uses_the_files_mode_and_refuses_directories() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("nlb-key-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("k");
        std::fs::write(&f, KEYGEN).unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            &read_key(&f).unwrap_err()[..],
            [KeyError::TooOpen { mode: 0o644, .. }]
        ));
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(read_key(&f).is_ok());
        assert!(matches!(
            &read_key(&dir).unwrap_err()[..],
            [KeyError::NotAFile { .. }]
        ));
        assert!(matches!(
            &read_key(&dir.join("missing")).unwrap_err()[..],
            [KeyError::Unreadable { .. }]
        ));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
