//! Network namespaces for the lab: `ip` for building them (a lab tool may shell out;
//! nlbd itself uses netlink), and threads switched into a namespace for talking to
//! the processes inside without spawning any.

use anyhow::{anyhow, bail, Context};
use rustix::thread::{move_into_link_name_space, LinkNameSpaceType};
use std::fs::File;
use std::os::fd::AsFd;
use std::path::Path;
use std::process::{Command, Stdio};

/// Runs `ip ARGS`; an error carries ip's message.
pub fn ip(args: &[&str]) -> anyhow::Result<()> {
    run("ip", args)
}

/// Runs a program to completion; an error carries its stderr.
pub fn run(program: &str, args: &[&str]) -> anyhow::Result<()> {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .with_context(|| {
            format!("cannot run {program} (iproute2; scripts/setup.sh installs it)")
        })?;
    if out.status.success() {
        Ok(())
    } else {
        bail!(
            "{program} {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )
    }
}

/// Output of a program, or its error.
pub fn output(program: &str, args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot run {program}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        bail!(
            "{program} {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )
    }
}

/// The names of the entries of a directory (none when it cannot be read).
pub fn names_in(dir: impl AsRef<Path>) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// The named network namespaces (`ip netns list`).
pub fn list() -> Vec<String> {
    names_in("/run/netns")
}

/// Whether a named namespace exists.
pub fn exists(ns: &str) -> bool {
    Path::new("/run/netns").join(ns).exists()
}

/// The pids of the processes in a namespace.
pub fn pids(ns: &str) -> Vec<i32> {
    output("ip", &["netns", "pids", ns])
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// Runs `f` on a thread switched into namespace `ns` (setns affects only that thread).
pub fn run_in<T: Send + 'static>(
    ns: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> anyhow::Result<T> {
    let path = Path::new("/run/netns").join(ns);
    let file = File::open(&path).with_context(|| path.display().to_string())?;
    let ns = ns.to_string();
    std::thread::spawn(move || {
        // setns changes this thread only.
        move_into_link_name_space(file.as_fd(), Some(LinkNameSpaceType::Network))
            .map_err(std::io::Error::from)
            .with_context(|| format!("entering namespace {ns}"))?;
        Ok(f())
    })
    .join()
    .map_err(|_| anyhow!("a lab thread panicked"))?
}
