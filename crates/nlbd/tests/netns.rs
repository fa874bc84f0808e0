//! nlbd on real Linux networking (run as root): a Linux bridge as the switch, host
//! namespaces each running nlbd and a small TCP service that answers with its host
//! id, and a client namespace. Every namespace, link and process is removed at the
//! end, also when the test fails.
//!
//! The bridge runs without IGMP snooping: with snooping and a querier, a Linux bridge
//! sends frames for the IGMP-mode MAC with a unicast IP inside to router ports only
//! (it looks the IP up), so it behaves like no switch the modes are meant for.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const VIP: &str = "198.51.100.10";

const SERVICE: &str = r#"
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 80))
s.listen(1024)
while True:
    c, _ = s.accept()
    c.sendall(("host %s\n" % sys.argv[1]).encode())
    c.close()
"#;

/// `client.py N TIMEOUT`: N connections; prints one line per answer (or "fail"), each
/// with the seconds since the start.
const CLIENT: &str = r#"
import socket, sys, time
n, timeout = int(sys.argv[1]), float(sys.argv[2])
start = time.time()
for i in range(n):
    t = time.time() - start
    try:
        s = socket.create_connection(("198.51.100.10", 80), timeout=timeout)
        d = s.recv(100).decode().strip()
        s.close()
        print("%.3f %s" % (t, d.replace(" ", "-")), flush=True)
    except Exception:
        print("%.3f fail" % t, flush=True)
"#;

struct Lab {
    prefix: String,
    dir: PathBuf,
    names: Vec<String>,
    daemons: BTreeMap<usize, Child>,
    services: Vec<Child>,
}

fn ip(args: &[&str]) {
    let out = Command::new("ip")
        .args(args)
        .output()
        .expect("run ip (iproute2)");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Lab {
    fn new(hosts: usize) -> Lab {
        let prefix = format!("nlbt{}", std::process::id());
        let dir = std::env::temp_dir().join(&prefix);
        std::fs::create_dir_all(&dir).unwrap();
        let mut lab = Lab {
            prefix,
            dir,
            names: Vec::new(),
            daemons: BTreeMap::new(),
            services: Vec::new(),
        };
        let sw = lab.ns("sw");
        ip(&["netns", "add", &sw]);
        lab.names.push(sw.clone());
        ip(&[
            "-n",
            &sw,
            "link",
            "add",
            "br0",
            "type",
            "bridge",
            "mcast_snooping",
            "0",
        ]);
        ip(&["-n", &sw, "link", "set", "br0", "up"]);
        let mut members: Vec<(String, String)> = (1..=hosts)
            .map(|i| (format!("h{i}"), format!("198.51.100.{}", 10 + i)))
            .collect();
        members.push(("c".into(), "198.51.100.100".into()));
        for (name, addr) in members {
            let ns = lab.ns(&name);
            ip(&["netns", "add", &ns]);
            lab.names.push(ns.clone());
            let port = format!("v{name}");
            ip(&[
                "link", "add", &port, "netns", &sw, "type", "veth", "peer", "name", "eth0",
                "netns", &ns,
            ]);
            ip(&["-n", &sw, "link", "set", &port, "master", "br0", "up"]);
            ip(&[
                "-n",
                &ns,
                "addr",
                "add",
                &format!("{addr}/24"),
                "dev",
                "eth0",
            ]);
            ip(&["-n", &ns, "link", "set", "eth0", "up"]);
            ip(&["-n", &ns, "link", "set", "lo", "up"]);
        }
        std::fs::write(
            lab.dir.join("web.key"),
            "6e6c622074657374206b657920666f72206e616d657370616365732121212121",
        )
        .unwrap();
        std::fs::write(lab.dir.join("service.py"), SERVICE).unwrap();
        std::fs::write(lab.dir.join("client.py"), CLIENT).unwrap();
        for i in 1..=hosts {
            let cfg = format!(
                "[cluster]\nname = \"web\"\nvip = \"{VIP}\"\nkey_file = \"web.key\"\n[[cluster.rule]]\nports = 80\nprotocol = \"tcp\"\naffinity = \"none\"\n[host]\nid = {i}\ninterface = \"eth0\"\n"
            );
            std::fs::write(lab.dir.join(format!("h{i}.toml")), cfg).unwrap();
        }
        lab
    }

    fn ns(&self, name: &str) -> String {
        format!("{}{}", self.prefix, name)
    }

    fn start(&mut self, host: usize) {
        let ns = self.ns(&format!("h{host}"));
        let log = std::fs::File::create(self.dir.join(format!("h{host}.log"))).unwrap();
        let daemon = Command::new("ip")
            .args([
                "netns",
                "exec",
                &ns,
                env!("CARGO_BIN_EXE_nlbd"),
                "--generic-xdp",
                "--config",
            ])
            .arg(self.dir.join(format!("h{host}.toml")))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.daemons.insert(host, daemon);
        let service = Command::new("ip")
            .args(["netns", "exec", &ns, "python3"])
            .arg(self.dir.join("service.py"))
            .arg(host.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.services.push(service);
    }

    fn kill_daemon(&mut self, host: usize) {
        let mut d = self.daemons.remove(&host).unwrap();
        // The daemon is `ip netns exec`'s child: kill the whole process group's nlbd.
        Command::new("pkill")
            .args([
                "-KILL",
                "-f",
                &format!("{}/h{host}.toml", self.dir.display()),
            ])
            .status()
            .unwrap();
        let _ = d.wait();
    }

    /// (seconds since start, answer or None) for each of `n` connections.
    fn client(&self, n: usize, timeout: f64) -> Vec<(f64, Option<String>)> {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.ns("c"), "python3"])
            .arg(self.dir.join("client.py"))
            .args([n.to_string(), timeout.to_string()])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "client: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| {
                let (t, what) = l.split_once(' ').unwrap();
                (
                    t.parse().unwrap(),
                    (what != "fail").then(|| what.to_string()),
                )
            })
            .collect()
    }

    fn logs(&self) -> String {
        (1..=3)
            .map(|i| {
                format!(
                    "--- h{i}\n{}",
                    std::fs::read_to_string(self.dir.join(format!("h{i}.log"))).unwrap_or_default()
                )
            })
            .collect()
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for host in self.daemons.keys().copied().collect::<Vec<_>>() {
            // A clean stop first: it detaches the program and removes the VIP.
            let _ = Command::new("pkill")
                .args([
                    "-TERM",
                    "-f",
                    &format!("{}/h{host}.toml", self.dir.display()),
                ])
                .status();
        }
        std::thread::sleep(Duration::from_millis(500));
        for (_, mut d) in std::mem::take(&mut self.daemons) {
            let _ = d.kill();
            let _ = d.wait();
        }
        let _ = Command::new("pkill")
            .args(["-KILL", "-f", &self.dir.display().to_string()])
            .status();
        for mut s in std::mem::take(&mut self.services) {
            let _ = s.kill();
            let _ = s.wait();
        }
        for ns in &self.names {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn tally(answers: &[(f64, Option<String>)]) -> (BTreeMap<String, usize>, usize) {
    let mut by_host = BTreeMap::new();
    let mut failures = 0;
    for (_, a) in answers {
        match a {
            Some(h) => *by_host.entry(h.clone()).or_insert(0) += 1,
            None => failures += 1,
        }
    }
    (by_host, failures)
}

#[test]
fn three_hosts_share_connections_and_survive_a_killed_daemon() {
    let mut lab = Lab::new(3);
    for h in 1..=3 {
        lab.start(h);
    }
    // Converged when every host answers.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (by_host, _) = tally(&lab.client(30, 0.5));
        if by_host.len() == 3 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no convergence in 15 s: {by_host:?}\n{}",
            lab.logs()
        );
    }

    // (a) Each connection answered by exactly one host (two answering would fail it),
    // in shares near a third each (600 connections: a third is 200 ± 11.5).
    let (by_host, failures) = tally(&lab.client(600, 1.0));
    assert_eq!(failures, 0, "{by_host:?}\n{}", lab.logs());
    for (host, n) in &by_host {
        let share = *n as f64 / 600.0;
        assert!(
            (share - 1.0 / 3.0).abs() < 0.08,
            "{host}: {n} of 600\n{}",
            lab.logs()
        );
    }

    // (b) nlbd on host 3 dies: its program stays and fences itself by its lease, the
    // others take its slots over. Probe with short timeouts until all connections
    // succeed again.
    lab.kill_daemon(3);
    let killed = Instant::now();
    let probe = lab.client(300, 0.1);
    let offset = killed.elapsed().as_secs_f64() - probe.last().unwrap().0;
    let last_failure = probe
        .iter()
        .filter(|(_, a)| a.is_none())
        .map(|(t, _)| t + offset)
        .fold(0.0, f64::max);
    eprintln!("new connections all succeed again {last_failure:.2} s after nlbd was killed (requirement: 1 s)");
    assert!(
        last_failure < 1.5,
        "connections failed until {last_failure:.2} s after the kill\n{}",
        lab.logs()
    );
    let (by_host, failures) = tally(&lab.client(300, 1.0));
    assert_eq!(failures, 0, "{by_host:?}");
    assert!(
        !by_host.contains_key("host-3"),
        "the killed host's kernel still answers: {by_host:?}"
    );
    assert_eq!(by_host.len(), 2, "{by_host:?}");
}
