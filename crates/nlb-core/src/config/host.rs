//! Reading `[host]`: the host's own part, checked against what could be read of the
//! cluster part.

use super::cluster::ClusterOutline;
use super::reader::{as_int, as_str, show, Ctx, Section, Value};
use super::HostConfig;
use crate::addressing::{check_unicast_host_id, OperationMode};
use crate::host::{HostId, HostRuleSettings, InitialState, LoadWeight};
use crate::rules::Filtering;
use std::net::IpAddr;
use std::ops::Range;
use std::path::PathBuf;
use toml::de::{DeTable, DeValue};

const HOST_FIELDS: &[&str] = &[
    "id",
    "interface",
    "address",
    "state",
    "weight",
    "priority",
    "rule",
    "state_dir",
    "metrics",
];
const HOST_RULE_FIELDS: &[&str] = &["weight", "priority"];

/// A load weight: `"equal"` or 0..=100.
fn parse_weight(cx: &mut Ctx, v: &Value<'_>, field: &str) -> Option<LoadWeight> {
    match v.get_ref() {
        DeValue::String(s) if s.as_ref() == "equal" => Some(LoadWeight::Equal),
        DeValue::Integer(_) => as_int(cx, v, field, 0, 100).map(|w| LoadWeight::Weight(w as u8)),
        other => {
            cx.error(
                v.span(),
                field,
                format!(
                    "{} {} is not allowed; expected \"equal\" or an integer in 0..=100",
                    other.type_str(),
                    show(other)
                ),
            );
            None
        }
    }
}

/// Reads `[host]`, checking it against as much of the cluster part as could be read
/// (`outline`), so that its errors show in the same pass as the cluster part's. The
/// host configuration is returned only when the cluster part is valid too (`cluster_ok`).
pub(super) fn parse_host(
    cx: &mut Ctx,
    t: &DeTable<'_>,
    span: Range<usize>,
    outline: &ClusterOutline,
    cluster_ok: bool,
) -> Option<HostConfig> {
    let before = cx.errors.len();
    let mut sec = Section::new(t, "host", span);
    let id_value = sec.required(cx, "id", "an integer in 1..=255");
    let id = id_value
        .and_then(|v| as_int(cx, v, "host.id", 1, 255))
        .map(|n| HostId(n as u8));
    if let (Some(v), Some(HostId(n)), Some(OperationMode::Unicast)) = (id_value, id, outline.mode) {
        if let Err(e) = check_unicast_host_id(n) {
            cx.error(v.span(), "host.id", e.to_string());
        }
    }
    let interface = sec
        .required(cx, "interface", "the cluster interface, e.g. \"eth0\"")
        .and_then(|v| as_str(cx, v, "host.interface", "an interface name"))
        .and_then(|(s, span)| {
            let ok = !s.is_empty() && s.len() <= 15 && !s.contains(['/', ' ', '\t', ':']);
            if ok {
                Some(s.to_string())
            } else {
                cx.error(span, "host.interface", format!("`{s}` is not a Linux interface name; expected 1..=15 characters without /, : or spaces"));
                None
            }
        });
    let address = sec.str(cx, "address", "an address with prefix, e.g. \"198.51.100.21/24\"").and_then(|(s, span)| {
        let parsed = s.split_once('/').and_then(|(a, p)| {
            let ip: IpAddr = a.parse().ok()?;
            let p: u8 = p.parse().ok()?;
            let max = if ip.is_ipv4() { 32 } else { 128 };
            (p <= max && !ip.is_unspecified() && !ip.is_multicast()).then_some((ip, p))
        });
        match parsed {
            Some((ip, _)) if outline.vips.contains(&ip) => {
                cx.error(span, "host.address", format!("`{s}` is a cluster VIP; the dedicated address must be the host's own"));
                None
            }
            Some(a) => Some(a),
            None => {
                cx.error(span, "host.address", format!("`{s}` is not allowed; expected a unicast address with prefix length, e.g. \"198.51.100.21/24\""));
                None
            }
        }
    });
    let state = sec
        .parsed::<InitialState>(cx, "state")
        .unwrap_or(InitialState::Started);
    let state_dir = match sec.get("state_dir") {
        None => Some(PathBuf::from(super::DEFAULT_STATE_DIR)),
        Some(v) => as_str(cx, v, "host.state_dir", "a directory").and_then(|(s, span)| {
            if s.starts_with('/') {
                Some(PathBuf::from(s))
            } else {
                cx.error(
                    span,
                    "host.state_dir",
                    format!("`{s}` is not an absolute path; expected a directory such as \"/var/lib/nlb\""),
                );
                None
            }
        }),
    };
    let metrics = match sec.get("metrics") {
        None => Some(None),
        Some(v) => as_str(cx, v, "host.metrics", "an address and port").and_then(|(s, span)| {
            match s.parse::<std::net::SocketAddr>() {
                Ok(a) => Some(Some(a)),
                Err(_) => {
                    cx.error(
                        span,
                        "host.metrics",
                        format!("`{s}` is not an address and port; expected e.g. \"127.0.0.1:9810\" or \"[::1]:9810\""),
                    );
                    None
                }
            }
        }),
    };
    let default_weight = match sec.get("weight") {
        Some(v) => parse_weight(cx, v, "host.weight"),
        None => Some(LoadWeight::Equal),
    };
    let default_priority = match sec.int(cx, "priority", 1, 255) {
        Some(p) => Some(p as u8),
        None => id.map(|i| i.0),
    };
    let mut rules: Vec<HostRuleSettings> = outline
        .rules
        .iter()
        .flatten()
        .map(|_| HostRuleSettings {
            weight: default_weight.unwrap_or(LoadWeight::Equal),
            priority: default_priority.unwrap_or(1),
        })
        .collect();
    if let Some((rt, _)) = sec.table(cx, "rule") {
        for (k, v) in rt.iter() {
            let name: &str = k.get_ref().as_ref();
            let path = format!("host.rule.{name}");
            let known = outline.rules.as_deref().unwrap_or(&[]);
            let idx = known.iter().position(|r| r.name.as_deref() == Some(name));
            // A name is unknown only when every rule's name could be read.
            let all_named = outline.rules.is_some() && known.iter().all(|r| r.name.is_some());
            if idx.is_none() && all_named {
                let names: Vec<&str> = known.iter().filter_map(|r| r.name.as_deref()).collect();
                cx.error(
                    k.span(),
                    &path,
                    format!(
                        "no rule is named `{name}`; the cluster's rules are: {}",
                        names.join(", ")
                    ),
                );
                continue;
            }
            let DeValue::Table(t) = v.get_ref() else {
                cx.error(
                    v.span(),
                    &path,
                    format!(
                        "expected a table with weight and/or priority, found {}",
                        v.get_ref().type_str()
                    ),
                );
                continue;
            };
            // None when the rule or its filtering could not be read: then the values
            // are still checked, but not whether they fit the rule.
            let filtering = idx.and_then(|i| known[i].filtering);
            let mut rs = Section::new(t, &path, v.span());
            if let Some(wv) = rs.get("weight") {
                match filtering {
                    Some(f) if f != Filtering::Multiple => cx.error(wv.span(), &format!("{path}.weight"), format!("rule `{name}` is {}; a load weight applies only to multiple-host rules", f.as_str())),
                    _ => {
                        if let (Some(w), Some(i)) = (parse_weight(cx, wv, &format!("{path}.weight")), idx) {
                            rules[i].weight = w;
                        }
                    }
                }
            }
            if let Some(pv) = rs.get("priority") {
                match filtering {
                    Some(f) if f != Filtering::Single => cx.error(pv.span(), &format!("{path}.priority"), format!("rule `{name}` is {}; a handling priority applies only to single-host rules", f.as_str())),
                    _ => {
                        if let (Some(p), Some(i)) = (as_int(cx, pv, &format!("{path}.priority"), 1, 255), idx) {
                            rules[i].priority = p as u8;
                        }
                    }
                }
            }
            rs.finish(cx, HOST_RULE_FIELDS);
        }
    }
    sec.finish(cx, HOST_FIELDS);
    if cx.errors.len() != before || !cluster_ok {
        return None;
    }
    Some(HostConfig {
        id: id?,
        interface: interface?,
        address,
        state,
        rules,
        state_dir: state_dir?,
        metrics: metrics?,
    })
}
