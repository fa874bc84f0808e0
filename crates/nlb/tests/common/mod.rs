//! Helpers shared by the lab-based tests: a lab that is removed on drop, and a client
//! that holds connections open and checks who answers them.
#![allow(dead_code)]

use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const NLB: &str = env!("CARGO_BIN_EXE_nlb");

/// Holds connections open from the client and checks that each is still answered by
/// the host that answered it first.
const HOLDER: &str = r#"
import socket, sys
vip = sys.argv[2] if len(sys.argv) > 2 else "198.51.100.10"
ss = [socket.create_connection((vip, 80), timeout=3) for _ in range(int(sys.argv[1]))]
first = [s.recv(100).decode().strip() for s in ss]
print("open " + " ".join(h.split()[1] for h in first), flush=True)
for line in sys.stdin:
    if line.strip() == "check":
        bad = 0
        for s, f in zip(ss, first):
            try:
                s.sendall(b"again\n")
                a = s.recv(100).decode().strip()
                if a != f:
                    print("holder: %s %s answered %r" % (s.getsockname(), f, a), file=sys.stderr)
                    bad += 1
            except Exception as e:
                print("holder: %s %s broke: %r" % (s.getsockname(), f, e), file=sys.stderr)
                bad += 1
        print("broken %d" % bad, flush=True)
    elif line.strip() == "check-by-host":
        bad = {}
        for s, f in zip(ss, first):
            h = f.split()[1]
            bad.setdefault(h, 0)
            try:
                s.sendall(b"again\n")
                if s.recv(100).decode().strip() != f:
                    bad[h] += 1
            except Exception:
                bad[h] += 1
        print(" ".join("%s:%d" % kv for kv in sorted(bad.items())), flush=True)
    else:
        for s in ss:
            s.close()
        print("closed", flush=True)
        break
"#;

pub struct Lab {
    pub name: String,
    started: Instant,
    /// One of the machine's lab slots, held while the lab is up.
    _slot: std::fs::File,
}

/// Labs up at once on this machine, across the test binaries' threads: each lab's
/// timed promises (failover within 1 s, recovery after a migration) are about nlbd, not
/// about four labs' veths, bridges and clients starving each other on two cores.
const LAB_SLOTS: usize = 2;

/// Waits for a free lab slot (a file lock, released when the file is dropped).
fn lab_slot() -> std::fs::File {
    loop {
        for i in 0..LAB_SLOTS {
            let f = std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(format!("/tmp/nlb-test-lab-slot-{i}.lock"))
                .expect("a lock file in /tmp");
            if rustix::fs::flock(&f, rustix::fs::FlockOperation::NonBlockingLockExclusive).is_ok() {
                return f;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

impl Lab {
    /// A lab of `hosts` hosts in `mode`, named `tag` and this process's id (tests
    /// running at once need different tags; names are at most 8 characters).
    pub fn up(tag: &str, mode: &str, hosts: u8) -> Lab {
        Lab::up_with(tag, mode, hosts, &[])
    }

    /// `up` with more options of `nlb lab up` (timers).
    pub fn up_with(tag: &str, mode: &str, hosts: u8, options: &[&str]) -> Lab {
        let name = format!("{tag}{}", std::process::id() % 1_000_000);
        let slot = lab_slot();
        let lab = Lab {
            name,
            started: Instant::now(),
            _slot: slot,
        };
        let hosts = hosts.to_string();
        let mut args = vec![
            "lab", "up", "--name", &lab.name, "--mode", mode, "--hosts", &hosts,
        ];
        args.extend_from_slice(options);
        let out = lab.nlb(&args);
        assert!(out.status.success(), "lab up: {}", text(&out));
        lab
    }

    /// `nlb lab VERB HOST ... --name NAME`, which must succeed.
    pub fn lab(&self, verb: &str, args: &[&str]) -> String {
        let mut all = vec!["lab", verb];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--name", &self.name]);
        let out = self.nlb(&all);
        assert!(
            out.status.success(),
            "nlb {}: {}",
            all.join(" "),
            text(&out)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The share of rule 0's slots host `host` admits new flows in.
    pub fn share(&self, host: &str) -> f64 {
        let r = &self.query(host)["rules"][0];
        r["slots_owned"].as_f64().unwrap() / r["slots_total"].as_f64().unwrap()
    }

    /// The lab's directory.
    pub fn dir(&self) -> String {
        format!("/run/nlb-lab/{}", self.name)
    }

    pub fn nlb(&self, args: &[&str]) -> Output {
        let start = Instant::now();
        let out = Command::new(NLB).args(args).output().expect("run nlb");
        // Shown for a failing test (and with --nocapture): where its time went.
        eprintln!(
            "[{} +{:.1}s] nlb {} ({} ms, {})",
            self.name,
            self.started.elapsed().as_secs_f64(),
            args.join(" "),
            start.elapsed().as_millis(),
            out.status
        );
        out
    }

    /// The command `nlb ARGS` on a lab host (`h1`, `c`).
    pub fn nlb_on(&self, host: &str, args: &[&str]) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &format!("nlb-{}-{host}", self.name), NLB])
            .args(args);
        c
    }

    /// `nlb ARGS` on a lab host (`h1`, `c`).
    pub fn on(&self, host: &str, args: &[&str]) -> Output {
        self.nlb_on(host, args)
            .output()
            .expect("run nlb in the lab")
    }

    pub fn query(&self, host: &str) -> Value {
        let out = self.on(host, &["query", "--json"]);
        assert!(out.status.success(), "query: {}", text(&out));
        serde_json::from_slice::<Value>(&out.stdout).unwrap()["status"].clone()
    }

    pub fn wait_state(&self, host: &str, state: &str, members: &[u64]) {
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

    pub fn served(&self, connections: usize) -> Value {
        self.served_with(connections, &[])
    }

    /// [`Lab::served`] with more options of `nlb lab traffic` (`--ipv6`).
    pub fn served_with(&self, connections: usize, options: &[&str]) -> Value {
        let connections = connections.to_string();
        let mut args = vec![
            "lab",
            "traffic",
            "--name",
            &self.name,
            "--json",
            "--connections",
            &connections,
        ];
        args.extend_from_slice(options);
        let out = self.nlb(&args);
        serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{}", text(&out)))
    }

    /// `python3 -c script` in the namespace of `role` (`c`, `h1`, ...), to be run.
    pub fn python(&self, role: &str, script: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &format!("nlb-{}-{role}", self.name)])
            .args(["python3", "-c", script]);
        c
    }

    /// UDP datagrams from the client to `vip` port 9 (no rule covers it: the default
    /// host's traffic), `per_second` for `seconds`.
    pub fn udp_to(&self, vip: &str, per_second: u32, seconds: u32) -> Child {
        let script = format!(
            "import socket, time\n\
             s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
             end = time.time() + {seconds}\n\
             while time.time() < end:\n\
             \x20   s.sendto(b'x', ('{vip}', 9))\n\
             \x20   time.sleep({})\n",
            1.0 / f64::from(per_second)
        );
        self.python("c", &script).spawn().unwrap()
    }

    pub fn hold(&self, n: usize) -> Holder {
        self.hold_to(n, "198.51.100.10")
    }

    /// Holds `n` connections open to `vip` (the lab's IPv4 or IPv6 VIP).
    pub fn hold_to(&self, n: usize, vip: &str) -> Holder {
        let mut child = self
            .python("c", HOLDER)
            .arg(n.to_string())
            .arg(vip)
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

pub struct Holder {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    pub hosts: Vec<u8>,
}

impl Holder {
    pub fn say(&mut self, what: &str) -> String {
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

/// The network namespaces of lab `name` that exist.
pub fn lab_namespaces(name: &str) -> Vec<String> {
    std::fs::read_dir("/run/netns")
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(&format!("nlb-{name}-")))
                .collect()
        })
        .unwrap_or_default()
}

pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}
