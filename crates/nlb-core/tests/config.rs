//! Configuration loading: defaults, and errors that name file, line and field.

use nlb_core::addressing::OperationMode;
use nlb_core::config::{check_cluster, check_keys, ClusterProblem, Config, ConfigError};
use nlb_core::host::{HostId, InitialState, LoadWeight};
use nlb_core::rules::{Affinity, Filtering, Protocol, RuleVip};
use std::path::Path;

fn parse(text: &str) -> Result<Config, Vec<ConfigError>> {
    Config::parse(Path::new("/etc/nlb/web.toml"), text).map_err(|e| e.0)
}

fn errors(text: &str) -> Vec<ConfigError> {
    parse(text).expect_err("config should be rejected")
}

/// The one error of `text`, checked for line and field.
fn one_error(text: &str, line: usize, field: &str) -> ConfigError {
    let errs = errors(text);
    assert_eq!(errs.len(), 1, "expected one error, got {errs:#?}");
    let e = errs.into_iter().next().unwrap();
    assert_eq!((e.line, e.field.as_str()), (line, field), "{e}");
    assert!(
        e.to_string()
            .starts_with(&format!("/etc/nlb/web.toml:{line}:")),
        "{e}"
    );
    e
}

const MINIMAL: &str = r#"
[cluster]
name = "web"
vip = "198.51.100.10"
key_file = "web.key"

[host]
id = 1
interface = "eth0"
"#;

#[test]
fn minimal_file_gets_windows_defaults() {
    let c = parse(MINIMAL).unwrap();
    assert_eq!(c.cluster.mode, OperationMode::IgmpMulticast);
    assert_eq!(c.cluster.heartbeat_period_ms, 100);
    assert_eq!(c.cluster.loss_tolerance, 5);
    assert_eq!(c.cluster.table_size, 65537);
    assert_eq!(c.cluster.key_file, Path::new("/etc/nlb/web.key"));
    assert_eq!(c.cluster.rules.len(), 1);
    let r = &c.cluster.rules[0];
    assert_eq!((r.vip, r.port_start, r.port_end), (RuleVip::All, 0, 65535));
    assert_eq!(
        (r.protocol, r.filtering, r.affinity),
        (Protocol::Both, Filtering::Multiple, Affinity::Single)
    );
    assert_eq!(c.host.id, HostId(1));
    assert_eq!(c.host.state, InitialState::Started);
    assert_eq!(c.host.rules[0].weight, LoadWeight::Equal);
    assert_eq!(c.host.rules[0].priority, 1);
}

const FULL: &str = r#"
[cluster]
name = "web"
vip = "198.51.100.10"
extra_vips = ["198.51.100.11"]
mode = "unicast"
heartbeat_period_ms = 50
loss_tolerance = 8
key_file = "/etc/nlb/web.key"

[[cluster.rule]]
name = "http"
vip = "198.51.100.10"
ports = "80-443"
protocol = "tcp"
affinity = "none"

[[cluster.rule]]
name = "ssh"
ports = 22
protocol = "tcp"
filtering = "single"

[[cluster.rule]]
name = "dns"
vip = "198.51.100.11"
ports = 53
protocol = "udp"
filtering = "disabled"

[host]
id = 3
interface = "ens3"
address = "198.51.100.23/24"
state = "stopped"
weight = 30

[host.rule.http]
weight = 80

[host.rule.ssh]
priority = 7
"#;

#[test]
fn full_file() {
    let c = parse(FULL).unwrap();
    assert_eq!(c.cluster.mode, OperationMode::Unicast);
    assert_eq!(c.cluster.extra_vips.len(), 1);
    assert_eq!(c.cluster.rules.len(), 3);
    assert_eq!(c.cluster.rules[0].affinity, Affinity::None);
    assert_eq!(
        (c.cluster.rules[0].port_start, c.cluster.rules[0].port_end),
        (80, 443)
    );
    assert_eq!(c.host.rules[0].weight, LoadWeight::Weight(80));
    assert_eq!(c.host.rules[1].priority, 7);
    // The host-wide default weight applies where no rule overrides it.
    assert_eq!(c.host.rules[2].weight, LoadWeight::Weight(30));
    assert_eq!(c.host.state, InitialState::Stopped);
    assert_eq!(c.host.address, Some(("198.51.100.23".parse().unwrap(), 24)));
}

#[test]
fn out_of_range_host_id_names_line_field_value_and_range() {
    let e = one_error(&MINIMAL.replace("id = 1", "id = 300"), 8, "host.id");
    assert!(
        e.message.contains("300") && e.message.contains("1..=255"),
        "{e}"
    );
}

#[test]
fn missing_required_field() {
    let e = one_error(
        &MINIMAL.replace("key_file = \"web.key\"\n", ""),
        2,
        "cluster.key_file",
    );
    assert!(e.message.contains("missing"), "{e}");
}

#[test]
fn bad_vips() {
    for (vip, word) in [
        ("224.0.0.5", "multicast"),
        ("255.255.255.255", "broadcast"),
        ("0.0.0.0", "unspecified"),
        ("not-an-ip", "not an IP address"),
    ] {
        let e = one_error(&MINIMAL.replace("198.51.100.10", vip), 4, "cluster.vip");
        assert!(e.message.contains(word) && e.message.contains(vip), "{e}");
    }
    let text = MINIMAL.replace(
        "vip = \"198.51.100.10\"",
        "vip = \"198.51.100.10\"\nextra_vips = [\"198.51.100.10\"]",
    );
    let e = one_error(&text, 5, "cluster.extra_vips[0]");
    assert!(e.message.contains("twice"), "{e}");
}

#[test]
fn bad_enumerations_list_what_is_allowed() {
    let e = one_error(
        &MINIMAL.replace("name = \"web\"", "name = \"web\"\nmode = \"broadcast\""),
        4,
        "cluster.mode",
    );
    assert!(
        e.message.contains("`broadcast`") && e.message.contains("igmp-multicast"),
        "{e}"
    );
}

#[test]
fn timers_out_of_range() {
    let e = one_error(
        &MINIMAL.replace("name = \"web\"", "name = \"web\"\nheartbeat_period_ms = 5"),
        4,
        "cluster.heartbeat_period_ms",
    );
    assert!(e.message.contains("10..=10000"), "{e}");
    let e = one_error(
        &MINIMAL.replace("name = \"web\"", "name = \"web\"\nloss_tolerance = 1000"),
        4,
        "cluster.loss_tolerance",
    );
    assert!(e.message.contains("4..=100"), "{e}");
    let e = one_error(
        &MINIMAL.replace("name = \"web\"", "name = \"web\"\ntable_size = 65536"),
        4,
        "cluster.table_size",
    );
    assert!(e.message.contains("not prime"), "{e}");
}

#[test]
fn overlapping_rules_are_caught() {
    let text = MINIMAL.replace(
        "[host]",
        "[[cluster.rule]]\nports = \"80-90\"\nprotocol = \"tcp\"\n\n[[cluster.rule]]\nports = \"90-100\"\n\n[host]",
    );
    let e = one_error(&text, 11, "cluster.rule[2]");
    assert!(e.message.contains("overlaps"), "{e}");
}

#[test]
fn rule_vip_must_be_a_cluster_vip() {
    let text = MINIMAL.replace(
        "[host]",
        "[[cluster.rule]]\nvip = \"198.51.100.99\"\n\n[host]",
    );
    let e = one_error(&text, 8, "cluster.rule[1].vip");
    assert!(e.message.contains("198.51.100.10"), "{e}");
}

#[test]
fn bad_port_ranges() {
    for (ports, word) in [
        ("\"90-80\"", "above"),
        ("\"http\"", "not a port range"),
        ("70000", "out of range"),
    ] {
        let text = MINIMAL.replace(
            "[host]",
            &format!("[[cluster.rule]]\nports = {ports}\n\n[host]"),
        );
        let e = one_error(&text, 8, "cluster.rule[1].ports");
        assert!(e.message.contains(word), "{e}");
    }
}

#[test]
fn unknown_fields_are_named_with_the_allowed_ones() {
    let e = one_error(
        &MINIMAL.replace("id = 1", "id = 1\nweigth = 10"),
        9,
        "host.weigth",
    );
    assert!(
        e.message.contains("unknown") && e.message.contains("weight"),
        "{e}"
    );
}

#[test]
fn host_rule_settings_must_fit_the_rule() {
    let bad_weight = FULL.replace("priority = 7", "weight = 10");
    let e = one_error(&bad_weight, 42, "host.rule.ssh.weight");
    assert!(e.message.contains("single"), "{e}");
    let e = one_error(
        &FULL.replace("[host.rule.ssh]", "[host.rule.sssh]"),
        41,
        "host.rule.sssh",
    );
    assert!(e.message.contains("http, ssh, dns"), "{e}");
    let e = one_error(
        &FULL.replace("weight = 80", "weight = 101"),
        39,
        "host.rule.http.weight",
    );
    assert!(e.message.contains("0..=100"), "{e}");
}

#[test]
fn all_errors_are_reported_at_once() {
    let text = MINIMAL
        .replace("id = 1", "id = 0")
        .replace("eth0", "eth0/1")
        .replace("web\"", "w b\"");
    let errs = errors(&text);
    let fields: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(
        fields,
        ["cluster.name", "host.id", "host.interface"],
        "{errs:#?}"
    );
}

#[test]
fn syntax_errors_have_a_line() {
    let e = one_error("[cluster]\nname = \"web\n", 2, "(syntax)");
    assert!(e.message.contains("invalid TOML"), "{e}");
}

fn host(text: &str, name: &str) -> Config {
    Config::parse(Path::new(name), text).unwrap()
}

#[test]
fn cluster_check_finds_mismatch_duplicates_and_priorities() {
    let a = host(FULL, "h1.toml");
    let b = host(
        &FULL
            .replace("id = 3", "id = 4")
            .replace("priority = 7", "priority = 8"),
        "h2.toml",
    );
    assert!(check_cluster(&[a.clone(), b.clone()]).is_empty());
    assert_eq!(a.cluster.digest(), b.cluster.digest());

    let c = host(
        &FULL.replace("loss_tolerance = 8", "loss_tolerance = 9"),
        "h3.toml",
    );
    let p = check_cluster(&[a.clone(), c]);
    assert!(
        matches!(&p[..], [ClusterProblem::DigestMismatch { fields, .. }, ..] if fields == &["loss_tolerance".to_string()]),
        "{p:?}"
    );
    assert!(p
        .iter()
        .any(|p| matches!(p, ClusterProblem::DuplicateHostId { id: HostId(3), .. })));
    // Distinct ids and priorities: no problem.
    let e = host(
        &FULL
            .replace("id = 3", "id = 5")
            .replace("priority = 7", "priority = 2"),
        "h5.toml",
    );
    assert!(check_cluster(&[a, b.clone(), e]).is_empty());
    // Hosts 4 and 10 both use priority 8 for the single-host rule `ssh`.
    let ten = host(
        &FULL
            .replace("id = 3", "id = 10")
            .replace("priority = 7", "priority = 8"),
        "h10.toml",
    );
    let p = check_cluster(&[b, ten]);
    assert!(
        matches!(&p[..], [ClusterProblem::DuplicatePriority { priority: 8, hosts, .. }] if hosts == &[HostId(4), HostId(10)]),
        "{p:?}"
    );
}

#[test]
fn digest_ignores_the_key_path_but_not_rules() {
    let a = host(MINIMAL, "a.toml");
    let b = host(&MINIMAL.replace("web.key", "other.key"), "b.toml");
    assert_eq!(a.cluster.digest(), b.cluster.digest());
    let c = host(FULL, "c.toml");
    assert_ne!(a.cluster.digest(), c.cluster.digest());
}

fn fields(errs: &[ConfigError]) -> Vec<&str> {
    errs.iter().map(|e| e.field.as_str()).collect()
}

#[test]
fn host_id_191_is_refused_in_unicast_mode_only() {
    let unicast = MINIMAL
        .replace("name = \"web\"", "name = \"web\"\nmode = \"unicast\"")
        .replace("id = 1", "id = 191");
    let e = one_error(&unicast, 9, "host.id");
    assert!(
        e.message.contains("191 (0xbf)")
            && e.message.contains("is the cluster MAC")
            && e.message.contains("choose another host id"),
        "{e}"
    );
    // Its neighbours are fine, and so is 191 in the multicast modes (no masking there).
    assert!(parse(&unicast.replace("id = 191", "id = 190")).is_ok());
    assert!(parse(&unicast.replace("id = 191", "id = 192")).is_ok());
    for mode in ["multicast", "igmp-multicast"] {
        assert!(parse(&unicast.replace("\"unicast\"", &format!("\"{mode}\""))).is_ok());
    }
    // Refused even when the VIP has an error of its own.
    let errs = errors(&unicast.replace("198.51.100.10", "224.0.0.1"));
    assert_eq!(fields(&errs), ["cluster.vip", "host.id"], "{errs:#?}");
}

#[test]
fn link_local_and_mapped_vips_are_refused_ipv6_taken() {
    for (vip, word) in [
        ("fe80::10", "link-local"),
        ("169.254.7.7", "link-local"),
        ("ff05::10", "multicast"),
        ("::ffff:198.51.100.10", "IPv4-mapped"),
    ] {
        let e = one_error(&MINIMAL.replace("198.51.100.10", vip), 4, "cluster.vip");
        assert!(e.message.contains(word) && e.message.contains(vip), "{e}");
    }
    let text = MINIMAL.replace(
        "vip = \"198.51.100.10\"",
        "vip = \"198.51.100.10\"\nextra_vips = [\"2001:db8::11\", \"fe80::11\"]",
    );
    let e = one_error(&text, 5, "cluster.extra_vips[1]");
    assert!(e.message.contains("link-local"), "{e}");
    // IPv6 VIPs, alone or beside IPv4 ones.
    assert!(parse(&MINIMAL.replace("198.51.100.10", "2001:db8::10")).is_ok());
    assert!(parse(&text.replace(", \"fe80::11\"", "")).is_ok());
}

#[test]
fn state_dir_and_metrics_default_and_are_checked() {
    let c = parse(MINIMAL).unwrap();
    assert_eq!(c.host.state_dir, std::path::Path::new("/var/lib/nlb"));
    assert_eq!(c.host.metrics, None);
    let c = parse(&format!(
        "{MINIMAL}state_dir = \"/srv/nlb\"\nmetrics = \"[::1]:9810\"\n"
    ))
    .unwrap();
    assert_eq!(c.host.state_dir, std::path::Path::new("/srv/nlb"));
    assert_eq!(c.host.metrics, Some("[::1]:9810".parse().unwrap()));
    let e = one_error(
        &format!("{MINIMAL}state_dir = \"nlb\"\n"),
        10,
        "host.state_dir",
    );
    assert!(e.message.contains("absolute"), "{e}");
    let e = one_error(
        &format!("{MINIMAL}metrics = \"9810\"\n"),
        10,
        "host.metrics",
    );
    assert!(e.message.contains("127.0.0.1:9810"), "{e}");
}

#[test]
fn an_empty_key_file_path_is_refused() {
    let e = one_error(
        &MINIMAL.replace("\"web.key\"", "\"\""),
        5,
        "cluster.key_file",
    );
    assert!(
        e.message.contains("empty") && e.message.contains("nlb keygen"),
        "{e}"
    );
}

const TWO_RULES: &str = r#"
[cluster]
name = "web"
vip = "198.51.100.10"
key_file = "web.key"

[[cluster.rule]]
name = "http"
ports = 80
protocol = "tcp"

[[cluster.rule]]
name = "ssh"
ports = 22
protocol = "tcp"
filtering = "single"

[host]
id = 1
interface = "eth0"

[host.rule.http]
weight = 80
"#;

#[test]
fn duplicate_rule_names_are_reported_beside_the_rules_other_errors() {
    assert!(parse(TWO_RULES).is_ok());
    // The second rule is also named http and has a bad port range; host id is bad too.
    let text = TWO_RULES
        .replace("name = \"ssh\"", "name = \"http\"")
        .replace("ports = 22", "ports = \"30-20\"")
        .replace("id = 1", "id = 0");
    let errs = errors(&text);
    assert_eq!(
        fields(&errs),
        ["cluster.rule[2].name", "cluster.rule[2].ports", "host.id"],
        "{errs:#?}"
    );
    assert!(
        errs[0].message.contains("`http` names two rules"),
        "{}",
        errs[0]
    );
    assert_eq!(errs[0].line, 12);
}

#[test]
fn unknown_host_rule_sections_are_reported_beside_cluster_errors() {
    let text = TWO_RULES
        .replace("name = \"web\"", "name = \"web\"\nloss_tolerance = 1")
        .replace("[host.rule.http]", "[host.rule.htp]");
    let errs = errors(&text);
    assert_eq!(
        fields(&errs),
        ["cluster.loss_tolerance", "host.rule.htp"],
        "{errs:#?}"
    );
    assert!(errs[1].message.contains("http, ssh"), "{}", errs[1]);
    // A setting that does not fit its rule, also beside a cluster error.
    let text = TWO_RULES
        .replace("name = \"web\"", "name = \"web\"\nloss_tolerance = 1")
        .replace("[host.rule.http]", "[host.rule.ssh]");
    let errs = errors(&text);
    assert_eq!(
        fields(&errs),
        ["cluster.loss_tolerance", "host.rule.ssh.weight"],
        "{errs:#?}"
    );
}

#[test]
fn a_bad_rule_field_does_not_make_host_rule_errors_up() {
    // The rule's filtering cannot be read: whether a weight fits it is unknown, so only
    // the filtering is reported (and a weight out of range still is).
    let text = TWO_RULES.replace(
        "protocol = \"tcp\"\n\n[[cluster.rule]]",
        "protocol = \"tcp\"\nfiltering = \"some\"\n\n[[cluster.rule]]",
    );
    let e = one_error(&text, 11, "cluster.rule[1].filtering");
    assert!(e.message.contains("`some`"), "{e}");
    let errs = errors(&text.replace("weight = 80", "weight = 180"));
    assert_eq!(
        fields(&errs),
        ["cluster.rule[1].filtering", "host.rule.http.weight"],
        "{errs:#?}"
    );
    // A rule whose name cannot be read: no section can be called unknown.
    let text = TWO_RULES
        .replace("name = \"http\"", "name = 7")
        .replace("[host.rule.http]", "[host.rule.web]");
    let e = one_error(&text, 8, "cluster.rule[1].name");
    assert!(e.message.contains("string"), "{e}");
}

#[test]
fn a_file_with_many_kinds_of_error_reports_them_all_in_one_pass() {
    let text = r#"
[cluster]
name = "w b"
vip = "fe80::10"
mode = "unicast"
key_file = ""
heartbeat_period_ms = 5

[[cluster.rule]]
name = "http"
ports = 80

[[cluster.rule]]
name = "http"
ports = "90-80"

[host]
id = 191
interface = "eth0"
colour = "blue"

[host.rule.https]
weight = 10
"#;
    let errs = errors(text);
    let got: Vec<(usize, &str)> = errs.iter().map(|e| (e.line, e.field.as_str())).collect();
    assert_eq!(
        got,
        [
            (3, "cluster.name"),
            (4, "cluster.vip"),
            (7, "cluster.heartbeat_period_ms"),
            (6, "cluster.key_file"),
            (13, "cluster.rule[2].name"),
            (15, "cluster.rule[2].ports"),
            (18, "host.id"),
            (22, "host.rule.https"),
            (20, "host.colour"),
        ],
        "{errs:#?}"
    );
    // Printed one per line, each naming the file, with no prefix of its own.
    let shown = nlb_core::config::ConfigErrors(errs).to_string();
    assert_eq!(shown.lines().count(), 9, "{shown}");
    assert!(
        shown.lines().all(|l| l.starts_with("/etc/nlb/web.toml:")),
        "{shown}"
    );
}

/// A scratch directory with a configuration naming `web.key` beside it.
struct KeyDir(std::path::PathBuf);

impl KeyDir {
    fn new(name: &str, config: &str, key: Option<(&[u8], u32)>) -> Self {
        use std::os::unix::fs::PermissionsExt;
        let d = std::env::temp_dir().join(format!("nlb-config-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("web.toml"), config).unwrap();
        if let Some((bytes, mode)) = key {
            let k = d.join("web.key");
            std::fs::write(&k, bytes).unwrap();
            std::fs::set_permissions(&k, std::fs::Permissions::from_mode(mode)).unwrap();
        }
        KeyDir(d)
    }

    fn load(&self) -> Result<(Config, nlb_core::key::ClusterKey), Vec<ConfigError>> {
        Config::load_with_key(&self.0.join("web.toml")).map_err(|e| e.0)
    }
}

impl Drop for KeyDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const KEY: &[u8] = b"0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0\n";

#[test]
fn load_with_key_accepts_a_private_key_and_fingerprints_it() {
    let d = KeyDir::new("good", MINIMAL, Some((KEY, 0o600)));
    let (c, k) = d.load().unwrap();
    assert_eq!(c.host.id, HostId(1));
    assert_eq!(k.fingerprint().to_string().len(), 16);
    // The plain loader leaves the key alone.
    let d = KeyDir::new("nokey", MINIMAL, None);
    assert!(Config::load(&d.0.join("web.toml")).is_ok());
}

#[test]
fn load_with_key_refuses_what_nlbd_refuses_at_the_key_file_line() {
    for (name, key, word) in [
        ("open", Some((KEY, 0o644)), "chmod 600"),
        ("group", Some((KEY, 0o640)), "chmod 600"),
        ("short", Some((&b"secret\n"[..], 0o600)), "at least 16"),
        ("empty", Some((&b""[..], 0o600)), "holds 0 byte(s)"),
        ("missing", None, "cannot read the key file"),
    ] {
        let d = KeyDir::new(name, MINIMAL, key);
        let errs = d.load().expect_err(name);
        assert_eq!(errs.len(), 1, "{name}: {errs:#?}");
        assert_eq!(
            (errs[0].line, errs[0].field.as_str()),
            (5, "cluster.key_file")
        );
        assert!(errs[0].message.contains(word), "{name}: {}", errs[0]);
        assert!(errs[0].message.contains("web.key"), "{}", errs[0]);
    }
}

#[test]
fn key_errors_come_with_the_files_other_errors() {
    let d = KeyDir::new(
        "both",
        &MINIMAL.replace("id = 1", "id = 0"),
        Some((&b"short"[..], 0o604)),
    );
    let errs = d.load().unwrap_err();
    assert_eq!(
        fields(&errs),
        ["host.id", "cluster.key_file", "cluster.key_file"],
        "{errs:#?}"
    );
    assert!(errs[1].message.contains("mode 0604"), "{}", errs[1]);
    assert!(errs[2].message.contains("holds 5 byte(s)"), "{}", errs[2]);
}

#[test]
fn hosts_with_different_keys_are_told_apart_by_fingerprint() {
    let mk = |id: u8, key: &[u8]| {
        let d = KeyDir::new(
            &format!("k{id}"),
            &MINIMAL.replace("id = 1", &format!("id = {id}")),
            Some((key, 0o600)),
        );
        let (c, k) = d.load().unwrap();
        (c, k.fingerprint())
    };
    let other = KEY.to_ascii_uppercase();
    let hosts = [mk(1, KEY), mk(2, KEY), mk(3, &other)];
    let pairs: Vec<_> = hosts.iter().map(|(c, f)| (c, *f)).collect();
    assert!(check_keys(&pairs[..2]).is_empty());
    let p = check_keys(&pairs);
    assert_eq!(p.len(), 1, "{p:?}");
    let text = p[0].to_string();
    let (a, b) = (hosts[0].1.to_string(), hosts[2].1.to_string());
    assert_ne!(a, b);
    assert!(
        text.contains("hosts 1 (")
            && text.contains(&format!("have key fingerprint {a}"))
            && text.contains("host 3 (")
            && text.contains(&format!("has key fingerprint {b}"))
            && text.contains("copy one key file"),
        "{text}"
    );
    // Nothing of the keys themselves.
    let secret = std::str::from_utf8(KEY.trim_ascii()).unwrap();
    assert!(
        !text.contains(&secret[..8]) && !text.to_lowercase().contains(&secret[..8]),
        "{text}"
    );
}

#[test]
fn duplicate_host_ids_are_refused_so_masked_source_macs_never_collide() {
    // Masked source MACs differ exactly when host ids do; two files with one id are
    // refused as a cluster.
    let unicast = MINIMAL.replace("name = \"web\"", "name = \"web\"\nmode = \"unicast\"");
    let a = host(&unicast, "a.toml");
    let b = host(&unicast, "b.toml");
    let p = check_cluster(&[a, b]);
    assert!(
        matches!(&p[..], [ClusterProblem::DuplicateHostId { id: HostId(1), files }] if files.len() == 2),
        "{p:?}"
    );
}
