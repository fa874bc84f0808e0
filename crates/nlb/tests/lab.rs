//! The control verbs against a lab cluster (`nlb lab`, real namespaces, as root):
//! state transitions visible in `query`, drainstop completing, reload applying a
//! weight change without breaking connections, permissions, and `lab down` leaving
//! nothing behind.

use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Output, Stdio};
use std::time::{Duration, Instant};

const NLB: &str = env!("CARGO_BIN_EXE_nlb");

/// Holds connections open from the client and checks that each is still answered by
/// the host that answered it first.
const HOLDER: &str = r#"
import socket, sys
ss = [socket.create_connection(("198.51.100.10", 80), timeout=3) for _ in range(int(sys.argv[1]))]
first = [s.recv(100).decode().strip() for s in ss]
print("open " + " ".join(h.split()[1] for h in first), flush=True)
for line in sys.stdin:
    if line.strip() == "check":
        bad = 0
        for s, f in zip(ss, first):
            try:
                s.sendall(b"again\n")
                if s.recv(100).decode().strip() != f:
                    bad += 1
            except Exception:
                bad += 1
        print("broken %d" % bad, flush=True)
    else:
        for s in ss:
            s.close()
        print("closed", flush=True)
        break
"#;

struct Lab {
    name: String,
}

impl Lab {
    fn up() -> Lab {
        let name = format!("t{}", std::process::id() % 10_000_000);
        let lab = Lab { name };
        let out = lab.nlb(&["lab", "up", "--name", &lab.name]);
        assert!(out.status.success(), "lab up: {}", text(&out));
        lab
    }

    fn nlb(&self, args: &[&str]) -> Output {
        Command::new(NLB).args(args).output().expect("run nlb")
    }

    /// `nlb ARGS` on a lab host (`h1`, `c`).
    fn on(&self, host: &str, args: &[&str]) -> Output {
        Command::new("ip")
            .args(["netns", "exec", &format!("nlb-{}-{host}", self.name), NLB])
            .args(args)
            .output()
            .expect("run nlb in the lab")
    }

    fn query(&self, host: &str) -> Value {
        let out = self.on(host, &["query", "--json"]);
        assert!(out.status.success(), "query: {}", text(&out));
        serde_json::from_slice::<Value>(&out.stdout).unwrap()["status"].clone()
    }

    fn wait_state(&self, host: &str, state: &str, members: &[u64]) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let s = self.query(host);
            let m: Vec<u64> = s["members"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap())
                .collect();
            if s["state"] == state && (members.is_empty() || m == members) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{host} never reached {state} with {members:?}: {s}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn served(&self, connections: usize) -> Value {
        let out = self.nlb(&[
            "lab",
            "traffic",
            "--name",
            &self.name,
            "--json",
            "--connections",
            &connections.to_string(),
        ]);
        serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{}", text(&out)))
    }

    fn hold(&self, n: usize) -> Holder {
        let mut child = Command::new("ip")
            .args(["netns", "exec", &format!("nlb-{}-c", self.name)])
            .args(["python3", "-c", HOLDER, &n.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let hosts: Vec<u8> = line
            .strip_prefix("open ")
            .unwrap_or_else(|| panic!("holder: {line}"))
            .split_whitespace()
            .map(|h| h.parse().unwrap())
            .collect();
        assert_eq!(hosts.len(), n);
        Holder {
            child,
            stdin,
            stdout,
            hosts,
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = self.nlb(&["lab", "down", "--name", &self.name]);
    }
}

struct Holder {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    hosts: Vec<u8>,
}

impl Holder {
    fn say(&mut self, what: &str) -> String {
        writeln!(self.stdin, "{what}").unwrap();
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        line.trim().to_string()
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn verbs_against_a_lab_cluster() {
    let lab = Lab::up();
    lab.wait_state("h1", "Converged as DEFAULT", &[1, 2, 3]);
    lab.wait_state("h2", "Converged", &[1, 2, 3]);
    let t = lab.served(300);
    assert_eq!(t["failed"], 0, "{t}");
    for h in ["1", "2", "3"] {
        assert!(t["served"][h].as_u64().unwrap() > 50, "{t}");
    }

    // Nobody but root may use the control socket.
    let out = Command::new("ip")
        .args(["netns", "exec", &format!("nlb-{}-h1", lab.name)])
        .args([
            "setpriv",
            "--reuid",
            "65534",
            "--regid",
            "65534",
            "--clear-groups",
            NLB,
        ])
        .arg("query")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("permission denied"), "{}", text(&out));
    // The client namespace has no nlbd.
    let out = lab.on("c", &["query"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("nlbd is not running"), "{}", text(&out));

    // Suspend: only resume is accepted; then start.
    assert!(lab.on("h3", &["suspend"]).status.success());
    assert_eq!(lab.query("h3")["state"], "Suspended");
    let out = lab.on("h3", &["start"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("suspended"), "{}", text(&out));
    lab.wait_state("h1", "Converged as DEFAULT", &[1, 2]);
    assert!(lab.on("h3", &["resume"]).status.success());
    assert_eq!(lab.query("h3")["state"], "Stopped");
    assert!(lab.on("h3", &["start"]).status.success());
    lab.wait_state("h3", "Converged", &[1, 2, 3]);

    // Reload a weight change while connections are open: none breaks.
    let mut held = lab.hold(60);
    let config = format!("/run/nlb-lab/{}/h2.toml", lab.name);
    let mut text_cfg = std::fs::read_to_string(&config).unwrap();
    text_cfg.push_str("\n[host.rule.web]\nweight = 100\n");
    std::fs::write(&config, text_cfg).unwrap();
    let out = lab.on("h2", &["reload"]);
    assert!(
        text(&out).contains("load weight equal -> 100"),
        "{}",
        text(&out)
    );
    let share = |h: &str| {
        let r = &lab.query(h)["rules"][0];
        r["slots_owned"].as_f64().unwrap() / r["slots_total"].as_f64().unwrap()
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while (share("h2") - 0.5).abs() > 0.01 || (share("h1") - 0.25).abs() > 0.01 {
        assert!(
            Instant::now() < deadline,
            "h2's share stays {}",
            share("h2")
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    lab.wait_state("h1", "Converged as DEFAULT", &[1, 2, 3]);
    assert_eq!(held.say("check"), "broken 0");
    // A change that needs a restart is refused and changes nothing.
    std::fs::write(
        &config,
        std::fs::read_to_string(&config)
            .unwrap()
            .replace("id = 2", "id = 7"),
    )
    .unwrap();
    let out = lab.on("h2", &["reload"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("host id changed"), "{}", text(&out));

    // Drainstop with connections open on h3: they keep being served, new ones go
    // elsewhere, and the host stops once they close.
    let on_h3 = held.hosts.iter().filter(|&&h| h == 3).count();
    assert!(on_h3 > 0);
    let mut wait = Command::new("ip")
        .args(["netns", "exec", &format!("nlb-{}-h3", lab.name), NLB])
        .args(["drainstop", "--wait"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    lab.wait_state("h3", "Draining", &[]);
    let t = lab.served(200);
    assert_eq!(t["failed"], 0, "{t}");
    assert!(
        t["served"].get("3").is_none(),
        "h3 took new flows while draining: {t}; h3: {}",
        lab.query("h3")
    );
    assert_eq!(held.say("check"), "broken 0");
    assert!(
        wait.try_wait().unwrap().is_none(),
        "drainstop returned early"
    );
    assert_eq!(held.say("close"), "closed");
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = wait.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "drainstop --wait never returned");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success());
    let mut progress = String::new();
    std::io::Read::read_to_string(wait.stdout.as_mut().unwrap(), &mut progress).unwrap();
    assert!(progress.contains("has stopped"), "{progress}");
    assert_eq!(lab.query("h3")["state"], "Stopped");

    // Down leaves no namespace, process or file behind.
    let pids: Vec<String> = std::fs::read_dir(format!("/run/nlb-lab/{}", lab.name))
        .unwrap()
        .filter_map(|e| {
            let p = e.ok()?.path();
            (p.extension()? == "pid").then(|| std::fs::read_to_string(p).ok())?
        })
        .collect();
    assert!(lab
        .nlb(&["lab", "down", "--name", &lab.name])
        .status
        .success());
    let namespaces = std::fs::read_dir("/run/netns")
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(&format!("nlb-{}-", lab.name)))
                .count()
        })
        .unwrap_or(0);
    assert_eq!(namespaces, 0);
    for p in pids {
        // A process that has exited but is not yet reaped by init is gone too.
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", p.trim())).unwrap_or_default();
        let state = stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .split_whitespace()
            .next();
        assert!(
            matches!(state, None | Some("Z") | Some("X")),
            "process {p} outlived the lab: {stat}"
        );
    }
    assert!(!std::path::Path::new(&format!("/run/nlb-lab/{}", lab.name)).exists());
}
