//! `nlb keygen`: a new cluster key file.

use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::process::ExitCode;

pub fn run(path: &Path, force: bool) -> Result<ExitCode, String> {
    write_key(path, force)?;
    println!(
        "wrote a new cluster key to {} (mode 0600); copy it to every host of the cluster",
        path.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Writes 32 random bytes as hex to a new file of mode 0600.
pub fn write_key(path: &Path, force: bool) -> Result<(), String> {
    let mut secret = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut secret))
        .map_err(|e| format!("cannot read /dev/urandom: {e}"))?;
    let hex: String = secret.iter().map(|b| format!("{b:02x}")).collect();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).mode(0o600);
    if force {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    let mut f = options.open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => format!(
            "{} exists; every host of a cluster needs the same key, so copy it rather than make a new one (--force replaces it)",
            path.display()
        ),
        _ => format!("cannot create {}: {e}", path.display()),
    })?;
    f.write_all(format!("{hex}\n").as_bytes())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}
