//! The control verbs against a lab cluster (`nlb lab`, real namespaces, as root):
//! state transitions visible in `query`, drainstop completing, reload applying a
//! weight change without breaking connections, permissions, and `lab down` leaving
//! nothing behind.

mod common;

use common::{lab_namespaces, text, Lab, NLB};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn verbs_against_a_lab_cluster() {
    let lab = Lab::up("v", "igmp-multicast", 3);
    lab.wait_state("h1", "Converged as DEFAULT", &[1, 2, 3]);
    lab.wait_state("h2", "Converged", &[1, 2, 3]);
    let t = lab.served(300);
    assert_eq!(t["failed"], 0, "{t}");
    for h in ["1", "2", "3"] {
        assert!(t["served"][h].as_u64().unwrap() > 50, "{t}");
    }

    // display: parameters, state, peers, counters and the recent event log.
    let out = lab.on("h1", &["display"]);
    let shown = text(&out);
    for part in [
        "ClusterIPAddress",
        "converged as DEFAULT",
        "Peers:",
        "Heartbeats:",
        "Recent events:",
    ] {
        assert!(shown.contains(part), "display lacks {part}: {shown}");
    }
    assert!(shown.contains("converged: hosts 1, 2, 3"), "{shown}");

    // The end-to-end benchmark runs and reports both sides.
    let out = lab.nlb(&[
        "lab",
        "bench",
        "--name",
        &lab.name,
        "--rounds",
        "1",
        "--span-ms",
        "100",
        "--json",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let pairs: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for p in pairs.as_array().unwrap() {
        assert!(p["via_vip"].as_f64().unwrap() > 0.0 && p["direct"].as_f64().unwrap() > 0.0);
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
    // Clients that connect to the control socket and say nothing hold nothing up: the
    // daemon's loop never waits for them, so no peer misses its heartbeats.
    let silent = lab
        .python(
            "h1",
            "import socket, time\n\
             s = [socket.socket(socket.AF_UNIX) for _ in range(40)]\n\
             [c.connect('\\0nlb/eth0') for c in s]\n\
             time.sleep(2)\n",
        )
        .output()
        .unwrap();
    assert!(silent.status.success(), "{}", text(&silent));
    let peer_log =
        std::fs::read_to_string(format!("/run/nlb-lab/{}/h2-nlbd.log", lab.name)).unwrap();
    assert!(!peer_log.contains("host 1 lost"), "{peer_log}");
    lab.wait_state("h1", "Converged as DEFAULT", &[1, 2, 3]);

    // Nor do clients that are slow: 20 that send their request a byte at a time with
    // pauses (and then read the reply), and 20 that send one and never read the reply
    // (the status, what `display` shows), all at once. Meanwhile `nlb query` from
    // another client answers promptly, no peer loses host 1, and host 1's loop never
    // stalls (it would log "did not run for").
    let logs = |h: u8| {
        std::fs::read_to_string(format!("/run/nlb-lab/{}/h{h}-nlbd.log", lab.name)).unwrap()
    };
    let before: Vec<usize> = (1..=3).map(|h| logs(h).len()).collect();
    let mut slow = lab
        .python(
            "h1",
            "import socket, threading, time\n\
             REQ = b'{\"command\":\"query\"}\\n'\n\
             def connect():\n\
             \x20   s = socket.socket(socket.AF_UNIX)\n\
             \x20   s.connect('\\0nlb/eth0')\n\
             \x20   return s\n\
             deaf = [connect() for _ in range(20)]\n\
             [s.sendall(REQ) for s in deaf]\n\
             replies = []\n\
             def slow():\n\
             \x20   s = connect()\n\
             \x20   for b in REQ:\n\
             \x20       s.send(bytes([b]))\n\
             \x20       time.sleep(0.03)\n\
             \x20   s.settimeout(5)\n\
             \x20   data = b''\n\
             \x20   while not data.endswith(b'\\n'):\n\
             \x20       chunk = s.recv(65536)\n\
             \x20       if not chunk:\n\
             \x20           break\n\
             \x20       data += chunk\n\
             \x20   replies.append(data)\n\
             threads = [threading.Thread(target=slow) for _ in range(20)]\n\
             [t.start() for t in threads]\n\
             [t.join() for t in threads]\n\
             time.sleep(1.5)\n\
             print('slow clients answered: %d' % sum(r.endswith(b'\\n') for r in replies))\n",
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut queries = 0;
    while slow.try_wait().unwrap().is_none() {
        let asked = Instant::now();
        let out = lab.on("h1", &["query"]);
        let took = asked.elapsed();
        assert!(out.status.success(), "{}", text(&out));
        assert!(
            took < Duration::from_millis(1000),
            "nlb query took {took:?} beside slow clients"
        );
        queries += 1;
        std::thread::sleep(Duration::from_millis(100));
    }
    let slow = slow.wait_with_output().unwrap();
    assert!(slow.status.success(), "{}", text(&slow));
    assert!(
        String::from_utf8_lossy(&slow.stdout).contains("slow clients answered: 20"),
        "{}",
        text(&slow)
    );
    assert!(
        queries >= 5,
        "only {queries} queries while the slow clients ran"
    );
    for h in 1..=3u8 {
        let log = logs(h);
        let new = &log[before[usize::from(h) - 1]..];
        assert!(
            !new.contains(" lost: ") && !new.contains("did not run for"),
            "h{h}: {new}"
        );
    }
    lab.wait_state("h1", "Converged as DEFAULT", &[1, 2, 3]);

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
    let mut wait = lab
        .nlb_on("h3", &["drainstop", "--wait"])
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
    assert_eq!(lab_namespaces(&lab.name).len(), 0);
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

#[test]
fn lab_down_cleans_up_after_a_lab_that_crashed_while_building() {
    let name = format!("k{}", std::process::id() % 1_000_000);
    let mut up = Command::new(NLB)
        .args(["lab", "up", "--name", &name, "--hosts", "2"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kill it once it has made something (its first namespace), mid-build.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !std::path::Path::new(&format!("/run/netns/nlb-{name}-sw")).exists() {
        assert!(Instant::now() < deadline, "nlb lab up made nothing");
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(150));
    let _ = up.kill();
    let _ = up.wait();
    let out = Command::new(NLB)
        .args(["lab", "down", "--name", &name])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let left = lab_namespaces(&name);
    assert!(left.is_empty(), "left behind: {left:?}");
    assert!(!std::path::Path::new(&format!("/run/nlb-lab/{name}")).exists());
}

/// `ip` in one of the lab's namespaces, which must succeed; its output.
fn ip_in(lab: &Lab, role: &str, args: &[&str]) -> String {
    let out = Command::new("ip")
        .args(["-n", &format!("nlb-{}-{role}", lab.name)])
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "ip {args:?}: {}", text(&out));
    text(&out)
}

/// `tc` in one of the lab's namespaces; its output.
fn tc_in(lab: &Lab, role: &str, args: &[&str]) -> String {
    let out = Command::new("ip")
        .args(["netns", "exec", &format!("nlb-{}-{role}", lab.name), "tc"])
        .args(args)
        .output()
        .unwrap();
    text(&out)
}

#[test]
fn native_xdp_on_veth_multicast() {
    native_xdp_on_veth("multicast", "n");
}

#[test]
fn native_xdp_on_veth_unicast() {
    native_xdp_on_veth("unicast", "nu");
}

/// The data path re-addresses admitted frames from the cluster MAC (a group MAC, or in
/// unicast mode a second unicast MAC) to the host's own: the case veth needs a fix for.
fn native_xdp_on_veth(mode: &str, tag: &str) {
    let lab = Lab::up_with(tag, mode, 3, &["--native-xdp"]);
    lab.wait_state("h1", "Converged as DEFAULT", &[1, 2, 3]);
    for h in ["h1", "h2", "h3"] {
        let link = ip_in(&lab, h, &["-d", "link", "show", "eth0"]);
        assert!(
            link.contains("prog/xdp ") && !link.contains("xdpgeneric"),
            "{h} runs XDP natively: {link}"
        );
        let filters = tc_in(&lab, h, &["filter", "show", "dev", "eth0", "ingress"]);
        assert!(filters.contains("nlb_pkt_type"), "{h}: {filters}");
    }
    // Served through native XDP; the VIP's ARP answer is an XDP_TX frame, which the
    // switch port's pass program receives.
    let t = lab.served(300);
    assert_eq!(t["failed"], 0, "{t}");
    for h in ["1", "2", "3"] {
        assert!(t["served"][h].as_u64().unwrap() > 50, "{t}");
    }

    // nlbd's exit removes the fix with everything else it installed.
    let pid = std::fs::read_to_string(format!("/run/nlb-lab/{}/h3-nlbd.pid", lab.name)).unwrap();
    assert!(Command::new("kill")
        .arg(pid.trim())
        .status()
        .unwrap()
        .success());
    let deadline = Instant::now() + Duration::from_secs(5);
    while ip_in(&lab, "h3", &["-d", "link", "show", "eth0"]).contains("prog/xdp") {
        assert!(
            Instant::now() < deadline,
            "h3's nlbd did not undo its changes"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(200));
    let qdisc = tc_in(&lab, "h3", &["qdisc", "show", "dev", "eth0"]);
    assert!(!qdisc.contains("clsact"), "h3: {qdisc}");
    lab.wait_state("h1", "Converged as DEFAULT", &[1, 2]);

    // The planted fault: without the packet type fix, the stack drops every admitted
    // frame that was re-addressed from the cluster's group MAC, and no connection
    // through the VIP completes.
    for h in ["h1", "h2"] {
        tc_in(&lab, h, &["filter", "del", "dev", "eth0", "ingress"]);
        let filters = tc_in(&lab, h, &["filter", "show", "dev", "eth0", "ingress"]);
        assert!(!filters.contains("nlb_pkt_type"), "{h}: {filters}");
    }
    let t = lab.served(6);
    assert_eq!(
        t["failed"], 6,
        "without the fix, veth's native XDP drops: {t}"
    );
}
