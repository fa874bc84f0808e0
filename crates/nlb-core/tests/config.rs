//! Configuration loading: defaults, and errors that name file, line and field.

use nlb_core::addressing::OperationMode;
use nlb_core::config::{check_cluster, ClusterProblem, Config, ConfigError};
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
    assert!(e.message.contains("3..=100"), "{e}");
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
