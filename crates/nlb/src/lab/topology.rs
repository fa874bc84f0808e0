//! Building and removing a lab: the switch (a bridge with IGMP snooping and a
//! querier), a veth pair per host and for the client, addresses, the key and the
//! hosts' configurations, then every host started and the cluster converged.

use super::config::host_config;
use super::hosts::{nlbd_path, signal};
use super::{netns, state_dir, Lab, PORT, VIP, VIP6};
use anyhow::{anyhow, bail, Context};
use nlb_core::addressing::OperationMode;
use rustix::process::Signal;
use std::time::{Duration, Instant};

impl Lab {
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
    // A switch with IGMP and MLD snooping and a querier for each. Every port is a
    // multicast router port: a Linux bridge sends frames to a multicast MAC with a
    // unicast IP inside to router ports only once a querier exists; MAC-based snooping
    // is then the agent's job.
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
        "mcast_mld_version",
        "2",
    ])?;
    netns::ip(&["-n", &sw, "link", "set", "br0", "up"])?;
    // Each namespace has an IPv4 and an IPv6 address: h1 198.51.100.11 and
    // 2001:db8::11 (hexadecimal digits that read as the IPv4 host part), the client .200.
    let mut members: Vec<(String, String, String)> = (1..=lab.hosts)
        .map(|i| {
            let host = 10 + u32::from(i);
            (
                format!("h{i}"),
                format!("198.51.100.{host}"),
                format!("2001:db8::{host}"),
            )
        })
        .collect();
    members.push(("c".into(), "198.51.100.200".into(), "2001:db8::200".into()));
    for (role, addr, addr6) in &members {
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
        // No duplicate address detection: the address is usable at once.
        netns::ip(&[
            "-n",
            &ns,
            "addr",
            "add",
            &format!("{addr6}/64"),
            "dev",
            "eth0",
            "nodad",
        ])?;
        netns::ip(&["-n", &ns, "link", "set", "eth0", "up"])?;
        netns::ip(&["-n", &ns, "link", "set", "lo", "up"])?;
    }
    say(format!(
        "lab `{}`: switch {sw} (bridge br0, IGMP and MLD snooping with queriers), {} host(s), client {}",
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
            &[
                "lab",
                "switch",
                "--vip",
                &VIP.to_string(),
                "--vip",
                &VIP6.to_string(),
            ],
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
        "hosts h1..h{} run nlbd ({} mode, VIPs {VIP} and {VIP6}) and a service on TCP {PORT}; converged in {} ms",
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
