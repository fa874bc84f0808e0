//! The `nlb` binary as an operator runs it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn nlb(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nlb"))
        .args(args)
        .output()
        .expect("run nlb")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout(o)))
}

fn example(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/cluster")
        .join(name)
        .display()
        .to_string()
}

/// A scratch directory unique to this test process and name.
fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("nlb-cli-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The example cluster's three files in a scratch directory, beside the key file they
/// name (`web.key`, made by `nlb keygen`).
fn example_cluster(name: &str) -> (PathBuf, Vec<String>) {
    let d = scratch(name);
    let files: Vec<String> = ["host1.toml", "host2.toml", "host3.toml"]
        .iter()
        .map(|f| {
            let to = d.join(f);
            std::fs::copy(example(f), &to).unwrap();
            to.display().to_string()
        })
        .collect();
    let key = d.join("web.key");
    let _ = std::fs::remove_file(&key);
    assert!(nlb(&["keygen", key.to_str().unwrap()]).status.success());
    (d, files)
}

fn set_mode(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn mode_of(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn ip2mac_prints_the_domain_worked_example() {
    let o = nlb(&["ip2mac", "172.31.3.232"]);
    assert!(o.status.success());
    let out = stdout(&o);
    for want in [
        "02-bf-ac-1f-03-e8",
        "03-bf-ac-1f-03-e8",
        "01-00-5e-7f-03-e8",
        "01:00:5e:7f:03:e8",
        "0100.5e7f.03e8",
        "239.255.3.232",
    ] {
        assert!(out.contains(want), "missing {want} in\n{out}");
    }
}

#[test]
fn ip2mac_json() {
    let v = json(&nlb(&["ip2mac", "199.99.20.70", "--json", "--host", "3"]));
    assert_eq!(v["vip"], "199.99.20.70");
    assert_eq!(v["modes"][1]["mode"], "multicast");
    assert_eq!(v["modes"][1]["cluster_mac"]["windows"], "03-bf-c7-63-14-46");
    assert_eq!(v["modes"][2]["group"], "239.255.20.70");
    assert_eq!(
        v["masked_source_mac"]["mac"]["windows"],
        "02-03-c7-63-14-46"
    );
}

#[test]
fn ipv6_vips_are_taken_by_ip2mac_config_check_and_plan() {
    let out = stdout(&nlb(&["ip2mac", "2001:db8::ac1f:3e8"]));
    for want in [
        "02-bf-ac-1f-03-e8",
        "03-bf-ac-1f-03-e8",
        "33-33-ef-ff-03-e8",
        "ff05::efff:3e8",
    ] {
        assert!(out.contains(want), "missing {want} in\n{out}");
    }
    let (d, files) = example_cluster("ipv6");
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        let text = text.replacen(
            "vip = \"198.51.100.10\"",
            "vip = \"198.51.100.10\"\nextra_vips = [\"2001:db8::10\"]",
            1,
        );
        write(Path::new(f), &text);
    }
    let o = nlb(&check_args(&files));
    assert!(o.status.success(), "{}", stderr(&o));
    let mut plan = vec!["plan"];
    plan.extend(files.iter().map(String::as_str));
    let o = nlb(&plan);
    assert!(o.status.success(), "{}", stderr(&o));
    std::fs::remove_dir_all(d).unwrap();
}

#[test]
fn an_unbracketed_ipv6_rule_target_is_refused_with_the_form_to_use() {
    let o = nlb(&["drain", "2001:db8::10:80"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("brackets") && err.contains("[2001:db8::10]:80"),
        "{err}"
    );
}

#[test]
fn ip2mac_rejects_bad_input_naming_it() {
    for bad in ["300.1.1.1", "vip", "224.0.0.1", "0.0.0.0"] {
        let o = nlb(&["ip2mac", bad]);
        assert!(!o.status.success(), "{bad}");
        let err = stderr(&o);
        assert!(
            err.contains(&format!("`{bad}`")) && err.contains("expected"),
            "{err}"
        );
    }
}

fn check_args(files: &[String]) -> Vec<&str> {
    ["config", "check"]
        .into_iter()
        .chain(files.iter().map(String::as_str))
        .collect()
}

#[test]
fn config_check_accepts_the_example_cluster() {
    let (d, files) = example_cluster("example");
    let args = check_args(&files);
    let o = nlb(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("every host advertises digest"));
    let mut args = args.clone();
    args.push("--json");
    let v = json(&nlb(&args));
    assert_eq!(v["ok"], true);
    assert!(v.get("error").is_none(), "{v}");
    assert_eq!(v["cluster_digest"].as_str().unwrap().len(), 32);
    let fp = v["files"][0]["key_fingerprint"].as_str().unwrap();
    assert_eq!(fp.len(), 16);
    assert_eq!(v["files"][2]["key_fingerprint"], fp);
    std::fs::remove_dir_all(d).unwrap();
}

#[test]
fn config_check_lists_every_problem_and_fails() {
    let (d, _) = example_cluster("check");
    let good = std::fs::read_to_string(example("host1.toml")).unwrap();
    let bad = good
        .replace("id = 1", "id = 0")
        .replace("ports = 22", "ports = \"30-20\"");
    let twin = good
        .replace("loss_tolerance", "x")
        .replace("name = \"web\"", "name = \"web\"\nloss_tolerance = 7");
    write(&d.join("bad.toml"), &bad);
    write(&d.join("twin.toml"), &twin);
    let o = nlb(&[
        "config",
        "check",
        d.join("host1.toml").to_str().unwrap(),
        d.join("bad.toml").to_str().unwrap(),
        d.join("twin.toml").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("bad.toml:16:") && err.contains("cluster.rule[2].ports"),
        "{err}"
    );
    assert!(err.contains("host.id") && err.contains("1..=255"), "{err}");
    assert!(
        err.contains("twin.toml: the [cluster] part differs") && err.contains("loss_tolerance"),
        "{err}"
    );
    assert!(err.contains("host id 1 is used by"), "{err}");
    std::fs::remove_dir_all(d).unwrap();
}

#[test]
fn config_check_refuses_a_key_nlbd_would_refuse() {
    let (d, files) = example_cluster("key");
    let key = d.join("web.key");
    let check = || nlb(&check_args(&files[..1]));
    assert!(check().status.success(), "{}", stderr(&check()));
    // Readable by others: refused, with the fix.
    set_mode(&key, 0o644);
    let o = check();
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("host1.toml:6:12: cluster.key_file")
            && err.contains("mode 0644")
            && err.contains(&format!("chmod 600 {}", key.display())),
        "{err}"
    );
    // Too short (and readable by the group: both reported).
    std::fs::write(&key, "secret\n").unwrap();
    set_mode(&key, 0o640);
    let err = stderr(&check());
    assert!(
        err.contains("mode 0640")
            && err.contains("holds 6 byte(s)")
            && err.contains("2 problem(s)"),
        "{err}"
    );
    // Missing.
    std::fs::remove_file(&key).unwrap();
    let err = stderr(&check());
    assert!(err.contains("cannot read the key file"), "{err}");
    // An empty path.
    let text = std::fs::read_to_string(&files[0]).unwrap();
    write(Path::new(&files[0]), &text.replace("\"web.key\"", "\"\""));
    let err = stderr(&check());
    assert!(err.contains("cluster.key_file: the path is empty"), "{err}");
    std::fs::remove_dir_all(d).unwrap();
}

#[test]
fn config_check_finds_hosts_with_different_keys_without_showing_them() {
    let (d, files) = example_cluster("keys");
    // Host 3 keeps its own key, in another directory.
    let other = scratch("keys-other");
    let host3 = other.join("host3.toml");
    std::fs::copy(&files[2], &host3).unwrap();
    let other_key = other.join("web.key");
    let _ = std::fs::remove_file(&other_key);
    assert!(nlb(&["keygen", other_key.to_str().unwrap()])
        .status
        .success());
    let files = [
        files[0].clone(),
        files[1].clone(),
        host3.display().to_string(),
    ];
    let o = nlb(&check_args(&files));
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    let mut args = check_args(&files);
    args.push("--json");
    let v = json(&nlb(&args));
    let fp = |i: usize| {
        v["files"][i]["key_fingerprint"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(fp(0), fp(1));
    assert_ne!(fp(0), fp(2));
    assert!(
        err.contains("different cluster keys")
            && err.contains(&format!("have key fingerprint {}", fp(0)))
            && err.contains(&format!(
                "host 3 ({}) has key fingerprint {}",
                files[2],
                fp(2)
            )),
        "{err}"
    );
    assert_eq!(v["ok"], false);
    assert_eq!(v["error"]["message"], "1 problem(s) found");
    // Neither key shows.
    for k in [d.join("web.key"), other_key] {
        let secret = std::fs::read_to_string(k).unwrap();
        assert!(
            !err.contains(secret.trim()) && !err.contains(&secret[..16]),
            "{err}"
        );
        assert!(!v.to_string().contains(&secret[..16]));
    }
    std::fs::remove_dir_all(d).unwrap();
    std::fs::remove_dir_all(other).unwrap();
}

#[test]
fn config_check_refuses_host_191_in_unicast_mode_and_mapped_vips() {
    let (d, files) = example_cluster("unicast");
    let text = std::fs::read_to_string(&files[0]).unwrap();
    write(
        Path::new(&files[0]),
        &text
            .replace("igmp-multicast", "unicast")
            .replace("id = 1", "id = 191"),
    );
    let o = nlb(&check_args(&files[..1]));
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("host1.toml:21:6: host.id: host id 191 (0xbf) cannot be used in unicast mode")
            && err.contains("choose another host id"),
        "{err}"
    );
    // Each file gets another VIP, then is checked alone.
    let with_vip = |i: usize, vip: &str| {
        let text = std::fs::read_to_string(&files[i]).unwrap();
        write(Path::new(&files[i]), &text.replace("198.51.100.10", vip));
        stderr(&nlb(&check_args(&files[i..i + 1])))
    };
    let err = with_vip(1, "fe80::10");
    assert!(
        err.contains("cluster.vip: `fe80::10`") && err.contains("link-local"),
        "{err}"
    );
    let err = with_vip(2, "::ffff:198.51.100.10");
    assert!(
        err.contains("cluster.vip: `::ffff:198.51.100.10`") && err.contains("IPv4-mapped"),
        "{err}"
    );
    std::fs::remove_dir_all(d).unwrap();
}

#[test]
fn ip2mac_says_host_191_cannot_be_used_in_unicast_mode() {
    let o = nlb(&["ip2mac", "172.31.3.232", "--host", "191"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains("host 191 cannot be used")
            && !stdout(&o).contains("host 191 sends with"),
        "{}",
        stdout(&o)
    );
    assert!(
        stderr(&o).contains("error: host id 191 (0xbf) cannot be used in unicast mode"),
        "{}",
        stderr(&o)
    );
    let o = nlb(&["ip2mac", "172.31.3.232", "--host", "191", "--json"]);
    assert_eq!(o.status.code(), Some(1));
    let v = json(&o);
    assert_eq!(v["masked_source_mac"]["usable"], false);
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("unicast mode"));
    // Its neighbours are fine.
    for id in ["190", "192"] {
        let v = json(&nlb(&["ip2mac", "172.31.3.232", "--host", id, "--json"]));
        assert_eq!(v["masked_source_mac"]["usable"], true);
        assert!(v.get("error").is_none());
    }
}

#[test]
fn failures_have_one_error_prefix_and_stay_json_with_json() {
    let d = scratch("failures");
    let missing = d.join("missing.toml");
    let missing = missing.to_str().unwrap();
    let o = nlb(&["plan", missing]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.starts_with(&format!("error: {missing}: (file): cannot read"))
            && !err.contains("error: error"),
        "{err}"
    );
    // Every problem of every file at once, each with its place.
    let (ex, files) = example_cluster("failures-plan");
    let bad = files[0].clone();
    write(
        Path::new(&bad),
        &std::fs::read_to_string(&bad)
            .unwrap()
            .replace("id = 1", "id = 0"),
    );
    let o = nlb(&["plan", &bad, missing, "--json"]);
    assert_eq!(o.status.code(), Some(2));
    let v = json(&o);
    let problems = v["error"]["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 2, "{v}");
    assert_eq!(problems[0]["field"], "host.id");
    assert_eq!(problems[0]["line"], 21);
    assert_eq!(problems[0]["file"], bad.as_str());
    assert_eq!(problems[1]["file"], missing);
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("2 configuration problem(s)"));
    // Other verbs: a message, as JSON with --json and with one prefix without.
    for args in [
        &["plan", &files[1], "--without", "9", "--json"][..],
        &["ip2mac", "vip", "--json"],
        &["ip2mac", "172.31.3.232", "--host", "0", "--json"],
        &["simulate", "--scenario", "nope", "--json"],
        &["config", "check", missing, "--json"],
    ] {
        let o = nlb(args);
        assert!(!o.status.success(), "{args:?}");
        let v = json(&o);
        assert!(
            v["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{args:?}: {v}"
        );
        let text = nlb(&args[..args.len() - 1]);
        assert_eq!(text.status.code(), o.status.code(), "{args:?}");
        let err = stderr(&text);
        assert!(
            err.starts_with("error: ") && !err.contains("error: error"),
            "{args:?}: {err}"
        );
    }
    std::fs::remove_dir_all(d).unwrap();
    std::fs::remove_dir_all(ex).unwrap();
}

#[test]
fn plan_json_reports_balance_and_movement() {
    let files: Vec<String> = ["host1.toml", "host2.toml", "host3.toml"]
        .iter()
        .map(|f| example(f))
        .collect();
    let mut args: Vec<&str> = vec!["plan"];
    args.extend(files.iter().map(String::as_str));
    args.extend(["--without", "2", "--json"]);
    let v = json(&nlb(&args));
    assert_eq!(v["hosts"], serde_json::json!([1, 3]));
    let http = &v["rules"][0];
    assert_eq!(http["name"], "http");
    assert!(http["max_over_mean"].as_f64().unwrap() <= 1.01);
    // Host 2 had a quarter of the slots (weights 50, 50, 100); that much must move.
    let moved = http["moved_fraction"].as_f64().unwrap();
    let min = http["minimum_moved_fraction"].as_f64().unwrap();
    assert!(
        (0.24..0.26).contains(&min) && moved >= min && moved <= 1.2 * min,
        "{moved} {min}"
    );
    assert_eq!(v["rules"][1]["owner"], 1);
    let o = nlb(&["plan", &files[0], "--without", "9"]);
    assert!(!o.status.success() && stderr(&o).contains("--without 9"));
}

fn write(p: &Path, s: &str) {
    std::fs::write(p, s).unwrap();
}

#[test]
fn keygen_writes_a_private_key_and_refuses_to_overwrite() {
    use std::os::unix::fs::PermissionsExt;
    let d = scratch("keygen");
    let key = d.join("web.key");
    let k = key.to_str().unwrap();
    assert!(nlb(&["keygen", k]).status.success());
    let text = std::fs::read_to_string(&key).unwrap();
    assert_eq!(text.trim().len(), 64);
    assert!(text.trim().bytes().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert!(nlb_core::key::read_key(&key).is_ok());
    let again = nlb(&["keygen", k]);
    assert_eq!(again.status.code(), Some(2));
    assert!(stderr(&again).contains("exists") && stderr(&again).contains("--force"));
    assert_eq!(
        std::fs::read_to_string(&key).unwrap(),
        text,
        "the old key is kept"
    );
    assert!(nlb(&["keygen", k, "--force"]).status.success());
    assert_ne!(std::fs::read_to_string(&key).unwrap(), text);
    assert_eq!(mode_of(&key), 0o600);
    // A file others could read is replaced by a private one.
    set_mode(&key, 0o644);
    let text = std::fs::read_to_string(&key).unwrap();
    assert!(nlb(&["keygen", k, "--force"]).status.success());
    assert_eq!(mode_of(&key), 0o600);
    assert_ne!(std::fs::read_to_string(&key).unwrap(), text);
    assert!(nlb_core::key::read_key(&key).is_ok());
    // Nothing left beside it.
    assert_eq!(std::fs::read_dir(&d).unwrap().count(), 1);
    std::fs::remove_dir_all(d).unwrap();
}

#[test]
fn completions_and_man_pages_come_from_the_cli_definition() {
    let out = nlb(&["completions", "bash"]);
    assert!(out.status.success());
    let script = stdout(&out);
    for verb in ["drainstop", "queryport", "lab"] {
        assert!(script.contains(verb), "bash completion lacks {verb}");
    }
    let dir = scratch("man");
    let _ = std::fs::remove_dir_all(&dir);
    let out = nlb(&["man", "--dir", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    for page in ["nlb.1", "nlb-query.1", "nlb-drainstop.1", "nlb-lab-up.1"] {
        let text = std::fs::read_to_string(dir.join(page)).unwrap();
        assert!(text.contains(".TH"), "{page} is no man page");
    }
    let drainstop = std::fs::read_to_string(dir.join("nlb-drainstop.1")).unwrap();
    assert!(drainstop.contains("wait"));
}

/// `nlb ... | head`: a reader that goes away ends the command the usual Unix way
/// (SIGPIPE, or success when it had printed all), never with a panic.
#[test]
fn a_closed_stdout_ends_the_command_quietly() {
    use std::os::unix::process::ExitStatusExt;
    let (_d, files) = example_cluster("closed-stdout");
    let mut plan = vec!["plan"];
    plan.extend(files.iter().map(String::as_str));
    let runs: [&[&str]; 3] = [
        &["ip2mac", "172.31.3.232"],
        &["simulate", "--hosts", "3"],
        &plan,
    ];
    for args in runs {
        // The read end closed before nlb starts: its first write meets a closed pipe.
        let (reader, writer) = rustix::pipe::pipe().unwrap();
        drop(reader);
        let o = Command::new(env!("CARGO_BIN_EXE_nlb"))
            .args(args)
            .stdout(std::process::Stdio::from(writer))
            .output()
            .unwrap();
        assert!(
            o.status.success() || o.status.signal() == Some(libc::SIGPIPE),
            "{args:?}: {:?}: {}",
            o.status,
            stderr(&o)
        );
        assert!(!stderr(&o).contains("panicked"), "{args:?}: {}", stderr(&o));
    }
}

#[test]
fn verbs_say_when_nlbd_is_not_running() {
    // A fresh network namespace has no nlbd.
    let ns = format!("nlbcli{}", std::process::id());
    assert!(Command::new("ip")
        .args(["netns", "add", &ns])
        .status()
        .unwrap()
        .success());
    let out = Command::new("ip")
        .args([
            "netns",
            "exec",
            &ns,
            env!("CARGO_BIN_EXE_nlb"),
            "query",
            "-i",
            "eth9",
        ])
        .output()
        .unwrap();
    let with_json = Command::new("ip")
        .args([
            "netns",
            "exec",
            &ns,
            env!("CARGO_BIN_EXE_nlb"),
            "query",
            "-i",
            "eth9",
            "--json",
        ])
        .output()
        .unwrap();
    let _ = Command::new("ip").args(["netns", "del", &ns]).status();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("nlbd is not running on eth9"),
        "{}",
        stderr(&out)
    );
    assert_eq!(with_json.status.code(), Some(2));
    assert!(json(&with_json)["error"]["message"]
        .as_str()
        .unwrap()
        .contains("nlbd is not running on eth9"));
}

#[test]
fn the_xdp_benchmark_measures_each_case_on_the_path_it_names() {
    // Few repetitions: this checks what each case exercises, not how fast it is.
    let o = nlb(&[
        "bench", "xdp", "--repeat", "1000", "--rounds", "1", "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let rows = json(&o);
    let action = |case: &str| {
        let row = rows
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["case"].as_str().unwrap().starts_with(case))
            .unwrap_or_else(|| panic!("no case {case}: {rows}"));
        assert!(row["median_ns"].as_f64().unwrap() > 0.0, "{row}");
        assert!(row["ratio_to_xdp_pass"].as_f64().unwrap() > 0.0, "{row}");
        row["action"].as_str().unwrap().to_string()
    };
    assert_eq!(action("non-VIP packet"), "pass");
    assert_eq!(action("VIP packet, slot not owned"), "drop");
    assert_eq!(action("VIP packet, new flow owned (UDP)"), "pass");
    assert_eq!(action("VIP packet, new TCP connection (SYN)"), "pass");
    assert_eq!(action("VIP packet, established, slot owned"), "pass");
    // Admitted only because the connection table holds it: the slot is released.
    assert_eq!(
        action("VIP packet, established, slot released (table hit)"),
        "pass"
    );
    assert_eq!(action("ARP request for the VIP"), "tx");
}
