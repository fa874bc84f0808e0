//! `nlb keygen`: a new cluster key file.

use anyhow::{anyhow, Context};
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::process::ExitCode;

pub fn run(path: &Path, force: bool) -> anyhow::Result<ExitCode> {
    write_key(path, force)?;
    println!(
        "wrote a new cluster key to {} (mode 0600); copy it to every host of the cluster",
        path.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Writes 32 random bytes as hex to a new file of mode 0600. With `force`, an existing
/// file is replaced by a new one (written beside it, then renamed over it), so the new
/// key is never in a file with the old one's permissions, nor readable through a
/// descriptor someone opened on the old file.
pub fn write_key(path: &Path, force: bool) -> anyhow::Result<()> {
    let mut secret = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut secret))
        .context("cannot read /dev/urandom")?;
    let hex: String = secret.iter().map(|b| format!("{b:02x}")).collect();
    let target = if force {
        let name = path
            .file_name()
            .with_context(|| format!("{} names no file", path.display()))?;
        let mut tmp = name.to_os_string();
        tmp.push(format!(".new-{}", std::process::id()));
        path.with_file_name(tmp)
    } else {
        path.to_path_buf()
    };
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&target)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists if !force => anyhow!(
                "{} exists; every host of a cluster needs the same key, so copy it rather than make a new one (--force replaces it)",
                path.display()
            ),
            _ => anyhow::Error::new(e).context(format!("cannot create {}", target.display())),
        })?;
    let written = f
        .write_all(format!("{hex}\n").as_bytes())
        .and_then(|_| f.sync_all())
        .with_context(|| format!("cannot write {}", target.display()));
    if force {
        let renamed = written.and_then(|_| {
            std::fs::rename(&target, path)
                .with_context(|| format!("cannot replace {}", path.display()))
        });
        if renamed.is_err() {
            let _ = std::fs::remove_file(&target);
        }
        renamed
    } else {
        written
    }
}
