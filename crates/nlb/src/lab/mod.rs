//! `nlb lab`: a whole cluster in network namespaces on this machine, for demos,
//! teaching and tests.
//!
//! A lab named NAME is: namespace `nlb-NAME-sw` with bridge `br0` (IGMP snooping, a
//! querier, and in IGMP multicast mode the MAC-based snooping agent), host namespaces
//! `nlb-NAME-h1`... each running nlbd and the built-in service on TCP 80, and a client
//! namespace `nlb-NAME-c`. Its files (configurations, key, logs, pids) live in
//! `/run/nlb-lab/NAME`. Everything is found again from the name, so `nlb lab down`
//! also cleans up after a lab whose creator crashed.

pub mod bench;
pub mod demo;
pub mod failover;
pub mod flood;
pub mod netns;
pub mod service;
pub mod switch;

use crate::client;
use crate::output::print_json;
use anyhow::{anyhow, bail, Context};
use nlb_core::addressing::OperationMode;
use nlb_core::control::{Reply, Request, Status};
use nlb_core::convergence::QueryState;
use rustix::process::{kill_process, Pid, Signal};
use serde::{Deserialize, Serialize};
use service::Tally;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

/// The VIP of every lab.
pub const VIP: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 10);
/// The service's port.
pub const PORT: u16 = 80;
/// nlbd's real-time priority (SCHED_RR), as in `dist/nlbd@.service`.
const NLBD_RT_PRIORITY: &str = "10";

/// What `nlb lab up` built, saved in the lab's directory.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Lab {
    /// The lab's name.
    pub name: String,
    /// Number of hosts.
    pub hosts: u8,
    /// The operation mode.
    pub mode: String,
    /// Heartbeat period and loss tolerance, when not the defaults.
    #[serde(default)]
    pub timers: Option<(u32, u32)>,
    /// nlbd attaches XDP in native (driver) mode rather than generic mode.
    #[serde(default)]
    pub native_xdp: bool,
}

/// The libfaketime library Debian's `faketime` package installs.
const LIBFAKETIME: &str = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";

fn state_dir(name: &str) -> PathBuf {
    PathBuf::from("/run/nlb-lab").join(name)
}

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

    /// The XDP mode, as `nlb lab bench` and `status` say it.
    pub fn xdp_mode(&self) -> &'static str {
        if self.native_xdp {
            "native XDP"
        } else {
            "generic XDP"
        }
    }

    /// Attaches an XDP_PASS program in native mode to `port`, the switch's end of a
    /// host's veth pair. A veth delivers frames a program transmits (XDP_TX: nlb's ARP
    /// replies) only to a peer that runs XDP itself; and with programs on both ends
    /// the pair runs nlb's program natively, before any skb exists, as a NIC does.
    fn pass_xdp_on(&self, ns: &str, port: &str) -> anyhow::Result<()> {
        let object = self.dir().join("pass.o");
        if !object.exists() {
            std::fs::write(&object, nlb_dataplane::PASS_OBJECT)
                .with_context(|| object.display().to_string())?;
        }
        netns::ip(&[
            "-n",
            ns,
            "link",
            "set",
            "dev",
            port,
            "xdpdrv",
            "obj",
            &object.to_string_lossy(),
            "sec",
            "xdp",
        ])
    }

    /// The namespace of a role: `sw`, `c`, or `h<N>`.
    pub fn ns(&self, role: &str) -> String {
        format!("nlb-{}-{role}", self.name)
    }

    /// The lab's directory.
    pub fn dir(&self) -> PathBuf {
        state_dir(&self.name)
    }

    /// Loads the description of a lab that is up.
    pub fn open(name: &str) -> anyhow::Result<Lab> {
        let path = state_dir(name).join("lab.json");
        // Whatever stops the read, the message says what to do.
        let text = std::fs::read_to_string(&path).map_err(|_| {
            anyhow!(
                "no lab `{name}` is up (no {}); start one with `nlb lab up`",
                path.display()
            )
        })?;
        serde_json::from_str(&text).with_context(|| path.display().to_string())
    }

    /// Host number from `h2`, `2` or `host2`.
    pub fn host(&self, name: &str) -> anyhow::Result<u8> {
        let n = name
            .trim_start_matches("host")
            .trim_start_matches('h')
            .parse::<u8>()
            .map_err(|_| anyhow!("`{name}` is not a host; use h1..h{}", self.hosts))?;
        if (1..=self.hosts).contains(&n) {
            Ok(n)
        } else {
            bail!("lab `{}` has hosts h1..h{}", self.name, self.hosts)
        }
    }

    /// The namespace of a host, the client (`c`, `client`) or the switch (`sw`).
    pub fn role_ns(&self, name: &str) -> anyhow::Result<String> {
        match name {
            "c" | "client" => Ok(self.ns("c")),
            "sw" | "switch" => Ok(self.ns("sw")),
            _ => Ok(self.ns(&format!("h{}", self.host(name)?))),
        }
    }

    fn pid_file(&self, what: &str) -> PathBuf {
        self.dir().join(format!("{what}.pid"))
    }

    /// Starts a background process in a namespace, logging to `<what>.log`.
    fn spawn(&self, ns: &str, what: &str, program: &str, args: &[&str]) -> anyhow::Result<u32> {
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

    fn pid(&self, what: &str) -> Option<i32> {
        let pid: i32 = std::fs::read_to_string(self.pid_file(what))
            .ok()?
            .trim()
            .parse()
            .ok()?;
        // A zombie child of ours counts as gone.
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let state = stat.rsplit(')').next()?.split_whitespace().next()?;
        (state != "Z").then_some(pid)
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

    /// Asks host `n`'s nlbd.
    pub fn request(&self, n: u8, request: Request) -> anyhow::Result<Reply> {
        netns::run_in(&self.ns(&format!("h{n}")), move || {
            client::request("eth0", &request)
        })?
    }

    /// Host `n`'s status, if its nlbd answers.
    pub fn status(&self, n: u8) -> Option<Status> {
        match self.request(n, Request::Query) {
            Ok(Reply::Status { status, .. }) => Some(*status),
            _ => None,
        }
    }

    /// Waits until every running host is converged with all the others.
    pub fn wait_converged(&self, running: &[u8], timeout: Duration) -> anyhow::Result<Duration> {
        let start = Instant::now();
        loop {
            let ok = running.iter().all(|&n| {
                self.status(n).is_some_and(|s| {
                    matches!(
                        s.state,
                        QueryState::Converged | QueryState::ConvergedAsDefault
                    ) && s.members == running
                })
            });
            if ok {
                return Ok(start.elapsed());
            }
            if start.elapsed() > timeout {
                let states: Vec<String> = running
                    .iter()
                    .map(|&n| match self.status(n) {
                        Some(s) => format!("h{n}: {} with {:?}", s.state, s.members),
                        None => format!(
                            "h{n}: nlbd not answering (see {}/h{n}-nlbd.log)",
                            self.dir().display()
                        ),
                    })
                    .collect();
                bail!(
                    "the cluster did not converge within {timeout:?}: {}",
                    states.join("; ")
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `connections` connections from the client, one after another. Each may take
    /// 1.5 s: a SYN sent while a slot changes hands is dropped (neither host admits
    /// new flows for the few heartbeat periods of the handover) and retransmitted
    /// after 1 s, as from any client.
    pub fn traffic(&self, connections: usize) -> anyhow::Result<Tally> {
        let addr = SocketAddr::new(IpAddr::V4(VIP), PORT);
        let attempts = netns::run_in(&self.ns("c"), move || {
            service::burst(addr, connections, Duration::from_millis(1500))
        })?;
        Ok(Tally::of(&attempts))
    }
}

/// Sends `sig` to process `pid`; one already gone is no error (what is wanted is that
/// it ends).
fn signal(pid: i32, sig: Signal) {
    if let Some(pid) = Pid::from_raw(pid) {
        let _ = kill_process(pid, sig);
    }
}

/// How `nlb lab kill` fails a host.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Failure {
    /// nlbd and the service die (SIGKILL).
    Crash,
    /// Only nlbd dies (SIGKILL); the service keeps running.
    Nlbd,
    /// The host's link goes down and its processes die.
    LinkDown,
}

/// nlbd: `$NLBD`, else next to this executable.
fn nlbd_path() -> anyhow::Result<String> {
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

fn host_config(lab: &Lab, n: u8, key: &std::path::Path) -> String {
    format!(
        r#"# Host {n} of lab `{name}` (written by `nlb lab up`).
[cluster]
name = "{name}"
vip = "{VIP}"
mode = "{mode}"
key_file = "{key}"
{timers}
[[cluster.rule]]
name = "web"
ports = 80
protocol = "tcp"
affinity = "none"

[host]
id = {n}
interface = "eth0"
"#,
        name = lab.name,
        mode = lab.mode,
        key = key.display(),
        timers = lab
            .timers
            .map_or(String::new(), |(period, tolerance)| format!(
                "heartbeat_period_ms = {period}\nloss_tolerance = {tolerance}\n"
            )),
    )
}

/// `nlb lab up`.
pub fn up(
    name: &str,
    hosts: u8,
    mode: &str,
    timers: Option<(u32, u32)>,
    native_xdp: bool,
    quiet: bool,
) -> anyhow::Result<Lab> {
    let mode: OperationMode = mode
        .parse()
        .map_err(|_| anyhow!("`{mode}` is not a mode; use unicast, multicast or igmp-multicast"))?;
    if !(1..=32).contains(&hosts) {
        bail!("--hosts must be 1..=32");
    }
    if name.is_empty() || name.len() > 8 || !name.chars().all(|c| c.is_ascii_alphanumeric()) {
        bail!("--name must be 1..=8 letters or digits");
    }
    let lab = Lab {
        name: name.into(),
        hosts,
        mode: mode.to_string(),
        timers,
        native_xdp,
    };
    if lab.dir().join("lab.json").exists() || netns::exists(&lab.ns("sw")) {
        bail!("lab `{name}` is already up; `nlb lab down --name {name}` removes it");
    }
    nlbd_path()?;
    std::fs::create_dir_all(lab.dir()).with_context(|| lab.dir().display().to_string())?;
    let built = build(&lab, quiet);
    if built.is_err() {
        let _ = down(name, true);
    }
    built.map(|_| lab)
}

fn build(lab: &Lab, quiet: bool) -> anyhow::Result<()> {
    let say = |s: String| {
        if !quiet {
            println!("{s}");
        }
    };
    let description = lab.dir().join("lab.json");
    std::fs::write(
        &description,
        serde_json::to_string_pretty(lab).expect("plain data"),
    )
    .with_context(|| description.display().to_string())?;
    let key = lab.dir().join("cluster.key");
    crate::keygen::write_key(&key, true)?;
    let sw = lab.ns("sw");
    netns::ip(&["netns", "add", &sw])?;
    // A switch with IGMP snooping and a querier. Every port is a multicast router port:
    // a Linux bridge sends frames to a multicast MAC with a unicast IP inside to router
    // ports only once a querier exists; MAC-based snooping is then the agent's job.
    netns::ip(&[
        "-n",
        &sw,
        "link",
        "add",
        "br0",
        "type",
        "bridge",
        "mcast_snooping",
        "1",
        "mcast_querier",
        "1",
        "mcast_igmp_version",
        "3",
    ])?;
    netns::ip(&["-n", &sw, "link", "set", "br0", "up"])?;
    let mut members: Vec<(String, String)> = (1..=lab.hosts)
        .map(|i| (format!("h{i}"), format!("198.51.100.{}", 10 + u32::from(i))))
        .collect();
    members.push(("c".into(), "198.51.100.200".into()));
    for (role, addr) in &members {
        let ns = lab.ns(role);
        netns::ip(&["netns", "add", &ns])?;
        let port = format!("p{role}");
        netns::ip(&[
            "link", "add", &port, "netns", &sw, "type", "veth", "peer", "name", "eth0", "netns",
            &ns,
        ])?;
        netns::ip(&["-n", &sw, "link", "set", &port, "master", "br0", "up"])?;
        if lab.native_xdp && role.starts_with('h') {
            lab.pass_xdp_on(&sw, &port)?;
        }
        netns::run(
            "bridge",
            &["-n", &sw, "link", "set", "dev", &port, "mcast_router", "2"],
        )?;
        netns::ip(&[
            "-n",
            &ns,
            "addr",
            "add",
            &format!("{addr}/24"),
            "dev",
            "eth0",
        ])?;
        netns::ip(&["-n", &ns, "link", "set", "eth0", "up"])?;
        netns::ip(&["-n", &ns, "link", "set", "lo", "up"])?;
    }
    say(format!(
        "lab `{}`: switch {sw} (bridge br0, IGMP snooping with querier), {} host(s), client {}",
        lab.name,
        lab.hosts,
        lab.ns("c")
    ));
    if lab.mode == OperationMode::IgmpMulticast.to_string() {
        let exe = std::env::current_exe().context("finding nlb's own executable")?;
        lab.spawn(
            &sw,
            "switch",
            &exe.to_string_lossy(),
            &["lab", "switch", "--vip", &VIP.to_string()],
        )?;
        say("switch: MAC-based snooping agent started (frames to the cluster MAC reach group members only)".into());
    }
    for n in 1..=lab.hosts {
        let config = lab.dir().join(format!("h{n}.toml"));
        std::fs::write(&config, host_config(lab, n, &key))
            .with_context(|| config.display().to_string())?;
        lab.start_host(n)?;
    }
    let running: Vec<u8> = (1..=lab.hosts).collect();
    let took = lab.wait_converged(&running, Duration::from_secs(15))?;
    if lab.mode == OperationMode::IgmpMulticast.to_string() && lab.pid("switch").is_none() {
        let log = std::fs::read_to_string(lab.dir().join("switch.log")).unwrap_or_default();
        bail!("the switch's snooping agent died: {}", log.trim());
    }
    say(format!(
        "hosts h1..h{} run nlbd ({} mode, VIP {VIP}) and a service on TCP {PORT}; converged in {} ms",
        lab.hosts,
        lab.mode,
        took.as_millis()
    ));
    Ok(())
}

/// `nlb lab down`: removes every namespace, link, process and file of the lab, also
/// of a lab whose creator crashed.
pub fn down(name: &str, quiet: bool) -> anyhow::Result<()> {
    let prefix = format!("nlb-{name}-");
    let namespaces: Vec<String> = netns::list()
        .into_iter()
        .filter(|n| n.starts_with(&prefix))
        .collect();
    // SIGTERM first so each nlbd leaves the cluster and restores its namespace, then
    // SIGKILL whatever is left.
    for sig in [Signal::TERM, Signal::KILL] {
        let mut any = false;
        for ns in &namespaces {
            for pid in netns::pids(ns) {
                any = true;
                signal(pid, sig);
            }
        }
        if !any {
            break;
        }
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline && namespaces.iter().any(|ns| !netns::pids(ns).is_empty()) {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    for ns in &namespaces {
        netns::ip(&["netns", "del", ns])?;
    }
    let dir = state_dir(name);
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| dir.display().to_string())?;
    }
    if !quiet {
        println!("lab `{name}` removed ({} namespace(s))", namespaces.len());
    }
    Ok(())
}

#[derive(Serialize)]
struct HostLine {
    host: u8,
    nlbd_pid: Option<i32>,
    state: Option<String>,
    members: Vec<u8>,
    share_percent: Option<f64>,
}

/// `nlb lab status`.
pub fn status(name: &str, json: bool) -> anyhow::Result<ExitCode> {
    let lab = Lab::open(name)?;
    let lines: Vec<HostLine> = (1..=lab.hosts)
        .map(|n| {
            let s = lab.status(n);
            HostLine {
                host: n,
                nlbd_pid: lab.pid(&format!("h{n}-nlbd")),
                state: s.as_ref().map(|s| s.state.to_string()),
                members: s.as_ref().map(|s| s.members.clone()).unwrap_or_default(),
                share_percent: s.as_ref().map(|s| {
                    let r = &s.rules[0];
                    100.0 * f64::from(r.slots_owned) / f64::from(r.slots_total)
                }),
            }
        })
        .collect();
    let group_members = if lab.mode == OperationMode::IgmpMulticast.to_string() {
        let sw = lab.ns("sw");
        let group = nlb_core::addressing::ClusterAddressing::new(IpAddr::V4(VIP))?.igmp_group();
        Some(netns::run_in(&sw, move || {
            switch::mdb_members("br0", group)
        })?)
    } else {
        None
    };
    if json {
        print_json(&serde_json::json!({
            "lab": lab, "hosts": lines, "igmp_group_ports": group_members
        }));
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "lab `{}`: {} hosts, {} mode, VIP {VIP}:{PORT}",
        lab.name, lab.hosts, lab.mode
    );
    println!(
        "{:<5} {:<8} {:<22} {:<12} {:>7}",
        "Host", "nlbd", "State", "Members", "Share"
    );
    for l in &lines {
        println!(
            "h{:<4} {:<8} {:<22} {:<12} {:>7}",
            l.host,
            l.nlbd_pid.map_or("down".into(), |p| p.to_string()),
            l.state.as_deref().unwrap_or("-"),
            l.members
                .iter()
                .map(|m| m.to_string())
                .collect::<Vec<_>>()
                .join(","),
            l.share_percent.map_or("-".into(), |s| format!("{s:.1}%"))
        );
    }
    if let Some(g) = group_members {
        println!(
            "switch: ports in the IGMP group: {}",
            if g.is_empty() {
                "none".into()
            } else {
                g.join(", ")
            }
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `nlb lab exec HOST -- CMD...`.
pub fn exec(name: &str, who: &str, command: &[String]) -> anyhow::Result<ExitCode> {
    let lab = Lab::open(name)?;
    let ns = lab.role_ns(who)?;
    if command.is_empty() {
        bail!("give a command after --, e.g. `nlb lab exec h1 -- nlb query`");
    }
    let status = Command::new("ip")
        .args(["netns", "exec", &ns])
        .args(command)
        .status()
        .context("ip netns exec")?;
    Ok(ExitCode::from(
        status.code().unwrap_or(1).clamp(0, 255) as u8
    ))
}

/// `nlb lab kill HOST`.
pub fn kill(name: &str, who: &str, how: Failure) -> anyhow::Result<ExitCode> {
    let lab = Lab::open(name)?;
    let n = lab.host(who)?;
    lab.fail_host(n, how)?;
    println!(
        "h{n}: {}; its peers take its flows over",
        match how {
            Failure::Crash => "nlbd and its service killed (SIGKILL)",
            Failure::Nlbd => "nlbd killed (SIGKILL), the service still runs",
            Failure::LinkDown => "link down, nlbd and its service killed",
        }
    );
    Ok(ExitCode::SUCCESS)
}

/// `nlb lab start HOST`; with `wall_clock_offset` (libfaketime's syntax: `-1h`, `+30m`),
/// nlbd runs with its wall clock that far off (its monotonic clock, like the kernel's,
/// is left alone), as on a VM restored from a snapshot.
pub fn start(
    name: &str,
    who: &str,
    wait: bool,
    wall_clock_offset: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let lab = Lab::open(name)?;
    let n = lab.host(who)?;
    if let Some(offset) = wall_clock_offset {
        let what = format!("h{n}-nlbd");
        if lab.pid(&what).is_some() {
            bail!("h{n}'s nlbd is running; `nlb lab kill {who}` first");
        }
        if !std::path::Path::new(LIBFAKETIME).exists() {
            bail!(
                "{LIBFAKETIME} is missing: install Debian's faketime package (scripts/setup.sh does)"
            );
        }
        netns::ip(&["-n", &lab.ns(&format!("h{n}")), "link", "set", "eth0", "up"])?;
        // env execs nlbd in place: the pid recorded is nlbd's.
        let mut args = vec![
            format!("LD_PRELOAD={LIBFAKETIME}"),
            format!("FAKETIME={offset}"),
            "FAKETIME_DONT_FAKE_MONOTONIC=1".into(),
            nlbd_path()?,
        ];
        args.extend(lab.nlbd_args(n));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        lab.spawn(&lab.ns(&format!("h{n}")), &what, "env", &args)?;
    }
    lab.start_host(n)?;
    if !wait {
        println!("h{n}: started");
        return Ok(ExitCode::SUCCESS);
    }
    let running: Vec<u8> = (1..=lab.hosts)
        .filter(|h| lab.pid(&format!("h{h}-nlbd")).is_some())
        .collect();
    let took = lab.wait_converged(&running, Duration::from_secs(15))?;
    println!(
        "h{n}: started; the cluster converged in {} ms",
        took.as_millis()
    );
    Ok(ExitCode::SUCCESS)
}

/// `nlb lab handoff HOST`: nlbd hands off and a new one starts at once.
pub fn handoff(name: &str, who: &str) -> anyhow::Result<ExitCode> {
    let lab = Lab::open(name)?;
    let n = lab.host(who)?;
    let start = Instant::now();
    if let Reply::Error { message, .. } = lab.request(n, Request::HandOff)? {
        bail!("h{n}: {message}");
    }
    let what = format!("h{n}-nlbd");
    let deadline = Instant::now() + Duration::from_secs(5);
    while lab.pid(&what).is_some() {
        if Instant::now() > deadline {
            bail!("h{n}'s nlbd did not exit after handing off");
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    // Keep the predecessor's log: the successor's is the one to read next.
    let dir = lab.dir();
    let _ = std::fs::rename(
        dir.join(format!("{what}.log")),
        dir.join(format!("{what}.previous.log")),
    );
    lab.start_host(n)?;
    println!(
        "h{n}: nlbd handed off and a new one started {} ms later",
        start.elapsed().as_millis()
    );
    Ok(ExitCode::SUCCESS)
}

/// `nlb lab traffic`.
pub fn traffic(name: &str, connections: usize, json: bool) -> anyhow::Result<ExitCode> {
    let lab = Lab::open(name)?;
    let tally = lab.traffic(connections)?;
    if json {
        print_json(&tally);
    } else {
        print_tally(&tally);
    }
    Ok(if tally.failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Prints connections per host.
pub fn print_tally(t: &Tally) {
    println!("{:<6} {:>11} {:>7}", "Host", "Connections", "Share");
    for (h, n) in &t.served {
        println!(
            "h{:<5} {:>11} {:>6.1}%",
            h,
            n,
            100.0 * *n as f64 / t.total().max(1) as f64
        );
    }
    println!("{:<6} {:>11}", "failed", t.failed);
}
