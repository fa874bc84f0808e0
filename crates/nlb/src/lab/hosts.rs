//! The processes of a lab's hosts: each host's nlbd (at a real-time priority, or off
//! the wall clock under libfaketime) and service, started in the background with a pid
//! file and a log in the lab's directory, found again by their pid files, and killed
//! as a crash would.

use super::{netns, Failure, Lab};
use anyhow::{bail, Context};
use rustix::process::{kill_process, Pid, Signal};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// nlbd's real-time priority (SCHED_RR), as in `dist/nlbd@.service`.
const NLBD_RT_PRIORITY: &str = "10";

/// The libfaketime library Debian's `faketime` package installs.
const LIBFAKETIME: &str = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";

impl Lab {
    /// nlbd's arguments for host `n`: its configuration, and the lab's XDP mode
    /// (nlbd's default is native).
    fn nlbd_args(&self, n: u8) -> Vec<String> {
        let config = self.dir().join(format!("h{n}.toml"));
        let mut args = vec!["--config".into(), config.to_string_lossy().into_owned()];
        if !self.native_xdp {
            args.push("--generic-xdp".into());
        }
        args
    }

    /// Where the pid of the lab's process `what` (`h1-nlbd`, `switch`...) is kept.
    fn pid_file(&self, what: &str) -> PathBuf {
        self.dir().join(format!("{what}.pid"))
    }

    /// Starts a background process in a namespace, logging to `<what>.log`.
    pub(super) fn spawn(
        &self,
        ns: &str,
        what: &str,
        program: &str,
        args: &[&str],
    ) -> anyhow::Result<u32> {
        let log = std::fs::File::create(self.dir().join(format!("{what}.log")))
            .with_context(|| format!("{what}.log"))?;
        let err = log.try_clone().with_context(|| format!("{what}.log"))?;
        let child = Command::new("ip")
            .args(["netns", "exec", ns, program])
            .args(args)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            // Its own process group: a Ctrl-C of `nlb lab up` must not reach it.
            .process_group(0)
            .spawn()
            .with_context(|| format!("starting {what}"))?;
        let pid = child.id();
        let pid_file = self.pid_file(what);
        std::fs::write(&pid_file, pid.to_string())
            .with_context(|| pid_file.display().to_string())?;
        // Reaped by init once we exit; the lab outlives this process.
        std::mem::forget(child);
        Ok(pid)
    }

    /// The pid of the lab's process `what`, while it runs.
    pub(super) fn pid(&self, what: &str) -> Option<i32> {
        let pid: i32 = std::fs::read_to_string(self.pid_file(what))
            .ok()?
            .trim()
            .parse()
            .ok()?;
        // A zombie child of ours counts as gone, once every thread of it has exited: a
        // killed process's first thread turns zombie while the others still exit, and
        // its sockets stay open until the last one is done.
        let alive = |stat: &str| {
            stat.rsplit(')')
                .next()
                .and_then(|rest| rest.split_whitespace().next())
                .is_some_and(|state| state != "Z" && state != "X")
        };
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let threads_alive = std::fs::read_dir(format!("/proc/{pid}/task"))
            .map(|tasks| {
                tasks.flatten().any(|t| {
                    std::fs::read_to_string(t.path().join("stat")).is_ok_and(|s| alive(&s))
                })
            })
            .unwrap_or(false);
        (alive(&stat) || threads_alive).then_some(pid)
    }

    /// Starts nlbd and the service of host `n` (and brings its link up).
    pub fn start_host(&self, n: u8) -> anyhow::Result<()> {
        let ns = self.ns(&format!("h{n}"));
        netns::ip(&["-n", &ns, "link", "set", "eth0", "up"])?;
        let exe = std::env::current_exe().context("finding nlb's own executable")?;
        if self.pid(&format!("h{n}-nlbd")).is_none() {
            chrt_present()?;
            // At a real-time priority, as dist/nlbd@.service runs it: above the service
            // and anything else (a flood's senders) that keeps the CPUs busy.
            let mut args = vec!["--rr".to_string(), NLBD_RT_PRIORITY.into(), nlbd_path()?];
            args.extend(self.nlbd_args(n));
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            self.spawn(&ns, &format!("h{n}-nlbd"), "chrt", &args)?;
        }
        if self.pid(&format!("h{n}-service")).is_none() {
            let id = n.to_string();
            self.spawn(
                &ns,
                &format!("h{n}-service"),
                &exe.to_string_lossy(),
                &["lab", "serve", "--id", &id],
            )?;
        }
        Ok(())
    }

    /// Starts host `n`'s nlbd with its wall clock `offset` off (libfaketime's syntax:
    /// `-1h`, `+30m`); its monotonic clock, like the kernel's, is left alone.
    pub(super) fn start_nlbd_off_clock(&self, n: u8, offset: &str) -> anyhow::Result<()> {
        if !std::path::Path::new(LIBFAKETIME).exists() {
            bail!(
                "{LIBFAKETIME} is missing: install Debian's faketime package (scripts/setup.sh does)"
            );
        }
        let ns = self.ns(&format!("h{n}"));
        netns::ip(&["-n", &ns, "link", "set", "eth0", "up"])?;
        // env execs nlbd in place: the pid recorded is nlbd's.
        let mut args = vec![
            format!("LD_PRELOAD={LIBFAKETIME}"),
            format!("FAKETIME={offset}"),
            "FAKETIME_DONT_FAKE_MONOTONIC=1".into(),
            nlbd_path()?,
        ];
        args.extend(self.nlbd_args(n));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.spawn(&ns, &format!("h{n}-nlbd"), "env", &args)?;
        Ok(())
    }

    /// Fails host `n`: kills its nlbd with SIGKILL (a crash: nothing is cleaned up),
    /// and unless `how` is [`Failure::Nlbd`] its service; [`Failure::LinkDown`] also
    /// takes its link down.
    pub fn fail_host(&self, n: u8, how: Failure) -> anyhow::Result<()> {
        if how == Failure::LinkDown {
            netns::ip(&[
                "-n",
                &self.ns(&format!("h{n}")),
                "link",
                "set",
                "eth0",
                "down",
            ])?;
        }
        let what: &[&str] = match how {
            Failure::Nlbd => &["nlbd"],
            _ => &["nlbd", "service"],
        };
        for what in what {
            if let Some(pid) = self.pid(&format!("h{n}-{what}")) {
                signal(pid, Signal::KILL);
            }
        }
        let deadline = Instant::now() + Duration::from_secs(2);
        while self.pid(&format!("h{n}-nlbd")).is_some() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(())
    }
}

/// Sends `sig` to process `pid`; one already gone is no error (what is wanted is that
/// it ends).
pub(super) fn signal(pid: i32, sig: Signal) {
    if let Some(pid) = Pid::from_raw(pid) {
        let _ = kill_process(pid, sig);
    }
}

/// nlbd: `$NLBD`, else next to this executable.
pub(super) fn nlbd_path() -> anyhow::Result<String> {
    if let Ok(p) = std::env::var("NLBD") {
        return Ok(p);
    }
    let exe = std::env::current_exe().context("finding nlb's own executable")?;
    let p = exe.with_file_name("nlbd");
    if p.exists() {
        Ok(p.to_string_lossy().into_owned())
    } else {
        bail!(
            "nlbd not found at {} (build the workspace: cargo build --release; or set NLBD)",
            p.display()
        )
    }
}

/// chrt (util-linux), which starts nlbd at its real-time priority.
fn chrt_present() -> anyhow::Result<()> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    if std::env::split_paths(&path).any(|d| d.join("chrt").is_file()) {
        Ok(())
    } else {
        bail!(
            "chrt not found in PATH (util-linux; scripts/setup.sh installs it): the lab \
             starts nlbd with it at a real-time priority, as dist/nlbd@.service does"
        )
    }
}
