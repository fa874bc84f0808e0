//! nlbd's start and its end on one host (a network namespace with a veth pair, as
//! root): configurations that cannot work fail with a precise message, a second nlbd
//! on the interface is refused, and a start after a crash undoes what it left.

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const NLBD: &str = env!("CARGO_BIN_EXE_nlbd");

struct Host {
    ns: String,
    dir: PathBuf,
    daemons: Vec<Child>,
}

impl Host {
    fn new() -> Host {
        let ns = format!("nlbds{}", std::process::id());
        let dir = std::env::temp_dir().join(&ns);
        std::fs::create_dir_all(&dir).unwrap();
        let host = Host {
            ns,
            dir,
            daemons: Vec::new(),
        };
        host.ip(&["netns", "add", &host.ns]);
        host.ip(&[
            "-n", &host.ns, "link", "add", "eth0", "type", "veth", "peer", "name", "eth1",
        ]);
        for dev in ["eth0", "eth1", "lo"] {
            host.ip(&["-n", &host.ns, "link", "set", dev, "up"]);
        }
        std::fs::write(host.dir.join("k"), "00".repeat(32)).unwrap();
        // nlbd refuses a key that group or others may read.
        let private = std::os::unix::fs::PermissionsExt::from_mode(0o600);
        std::fs::set_permissions(host.dir.join("k"), private).unwrap();
        host
    }

    fn ip(&self, args: &[&str]) {
        let out = Command::new("ip").args(args).output().unwrap();
        assert!(
            out.status.success(),
            "ip {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn config(&self, name: &str, interface: &str, mode: &str) -> PathBuf {
        let path = self.dir.join(format!("{name}.toml"));
        std::fs::write(
            &path,
            format!(
                "[cluster]\nname = \"s\"\nvip = \"198.51.100.10\"\nmode = \"{mode}\"\nkey_file = \"{}\"\n\n[host]\nid = 1\ninterface = \"{interface}\"\n",
                self.dir.join("k").display()
            ),
        )
        .unwrap();
        path
    }

    fn command(&self, config: &PathBuf) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.ns, NLBD, "--generic-xdp", "--config"])
            .arg(config);
        c
    }

    /// nlbd in native XDP mode, to completion.
    fn run_native(&self, config: &PathBuf) -> Output {
        Command::new("ip")
            .args(["netns", "exec", &self.ns, NLBD, "--config"])
            .arg(config)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    fn run(&self, config: &PathBuf) -> Output {
        let mut c = self.command(config);
        c.stdin(Stdio::null());
        let mut child = c
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while child.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        child.wait_with_output().unwrap()
    }

    fn start(&mut self, config: &PathBuf) -> usize {
        let log =
            std::fs::File::create(self.dir.join(format!("d{}.log", self.daemons.len()))).unwrap();
        let child = self
            .command(config)
            .stdin(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.daemons.push(child);
        // Up once it logs its membership (everything is in place by then).
        let deadline = Instant::now() + Duration::from_secs(5);
        while !self.log(self.daemons.len() - 1).contains("host 1 on eth0") {
            assert!(
                Instant::now() < deadline,
                "nlbd did not come up: {}",
                self.log(self.daemons.len() - 1)
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        self.daemons.len() - 1
    }

    fn log(&self, i: usize) -> String {
        std::fs::read_to_string(self.dir.join(format!("d{i}.log"))).unwrap_or_default()
    }

    fn sh(&self, cmd: &str) -> String {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.ns, "sh", "-c", cmd])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn stop(&mut self, i: usize, signal: &str) {
        let pid = self.daemons[i].id().to_string();
        assert!(Command::new("kill")
            .args(["-s", signal, &pid])
            .status()
            .unwrap()
            .success());
        self.daemons[i].wait().unwrap();
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        for d in &mut self.daemons {
            let _ = d.kill();
            let _ = d.wait();
        }
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn start_refusals_crash_cleanup_and_stop() {
    let mut host = Host::new();

    // A missing interface, and a VIP already on an interface, fail with what to do.
    let missing = host.config("missing", "eth7", "multicast");
    let out = host.run(&missing);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("interface eth7 (from"),
        "{}",
        stderr(&out)
    );
    // The same as JSON lines for log shippers (NLBD_LOG_FORMAT=json).
    let out = host
        .command(&missing)
        .env("NLBD_LOG_FORMAT", "json")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let line = stderr(&out)
        .lines()
        .find(|l| l.contains("interface eth7 (from"))
        .map(str::to_string)
        .unwrap_or_default();
    let v: serde_json::Value =
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {}", stderr(&out)));
    assert_eq!(v["level"], "ERROR", "{v}");
    assert!(
        v["fields"]["message"].as_str().unwrap().contains("eth7"),
        "{v}"
    );
    host.ip(&[
        "-n",
        &host.ns,
        "addr",
        "add",
        "198.51.100.10/24",
        "dev",
        "eth1",
    ]);
    let config = host.config("h", "eth0", "unicast");
    let out = host.run(&config);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("VIP 198.51.100.10 (from") && stderr(&out).contains("eth1"),
        "{}",
        stderr(&out)
    );
    host.ip(&[
        "-n",
        &host.ns,
        "addr",
        "del",
        "198.51.100.10/24",
        "dev",
        "eth1",
    ]);
    // An interface without native XDP (a bridge) fails, says what to try, and leaves
    // nothing behind.
    host.ip(&["-n", &host.ns, "link", "add", "br9", "type", "bridge"]);
    host.ip(&["-n", &host.ns, "link", "set", "br9", "up"]);
    let out = host.run_native(&host.config("bridge", "br9", "multicast"));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("attaching XDP to br9") && stderr(&out).contains("--generic-xdp"),
        "{}",
        stderr(&out)
    );
    assert!(!host.sh("ip addr show dev lo").contains("198.51.100.10"));
    let mac_before = host.sh("cat /sys/class/net/eth0/address");
    let unresolved_queue = "cat /proc/sys/net/ipv4/neigh/eth0/unres_qlen_bytes";
    let queue_before = host.sh(unresolved_queue);

    // A second nlbd on the interface is refused; the first goes on.
    let first = host.start(&config);
    let out = host.run(&config);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("another nlbd is running on eth0"),
        "{}",
        stderr(&out)
    );
    assert!(host.daemons[first].try_wait().unwrap().is_none());
    // Unicast: the NIC keeps its own MAC and receives the cluster MAC beside it.
    assert_eq!(host.sh("cat /sys/class/net/eth0/address"), mac_before);
    let fdb = host.sh("bridge fdb show dev eth0");
    assert!(fdb.contains("02:bf:c6:33:64:0a self permanent"), "{fdb}");

    // A crash leaves everything in place, fenced; the next start undoes it first.
    host.stop(first, "KILL");
    assert!(host.sh("ip -d link show dev eth0").contains("xdp"));
    let second = host.start(&config);
    assert!(
        host.log(second)
            .contains("undoing what an nlbd that did not stop cleanly left"),
        "{}",
        host.log(second)
    );

    assert_eq!(host.sh(unresolved_queue).trim(), "8192");

    // A stop restores the unicast filter, sysctls, addresses, programs.
    host.stop(second, "TERM");
    assert_eq!(host.sh("cat /sys/class/net/eth0/address"), mac_before);
    assert!(!host
        .sh("bridge fdb show dev eth0")
        .contains("02:bf:c6:33:64:0a"));
    assert!(!host.sh("ip -d link show dev eth0").contains("xdp"));
    assert!(!host.sh("ip addr show dev lo").contains("198.51.100.10"));
    assert_eq!(
        host.sh("cat /proc/sys/net/ipv4/conf/eth0/arp_ignore")
            .trim(),
        "0"
    );
    assert_eq!(host.sh(unresolved_queue), queue_before);
    assert!(!host.sh("tc qdisc show dev eth0").contains("clsact"));
}
