//! Reading `[cluster]`: the part every host must share, with its VIPs and port rules.

use super::reader::{as_int, as_str, Ctx, Section, Value};
use super::{
    seed_from_name, ClusterConfig, CONN_IDLE_TIMEOUT_RANGE_S, DEFAULT_CONN_IDLE_TIMEOUT_S,
    DEFAULT_HEARTBEAT_PERIOD_MS, DEFAULT_LOSS_TOLERANCE, HEARTBEAT_PERIOD_RANGE_MS,
    LOSS_TOLERANCE_RANGE, TABLE_SIZE_RANGE,
};
use crate::addressing::{validate_vip, OperationMode};
use crate::rules::{Affinity, Filtering, PortRule, Protocol, RuleVip, MAX_RULES};
use crate::table::{is_prime, DEFAULT_TABLE_SIZE};
use std::net::IpAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use toml::de::{DeTable, DeValue};

/// Reads a VIP: a unicast IPv4 or IPv6 address nlbd can serve.
fn parse_vip(cx: &mut Ctx, s: &str, span: Range<usize>, field: &str) -> Option<IpAddr> {
    let ip: IpAddr = match s.parse() {
        Ok(ip) => ip,
        Err(_) => {
            cx.error(
                span,
                field,
                format!(
                    "`{s}` is not an IP address; expected an IPv4 or IPv6 address such as \
                     198.51.100.10 or 2001:db8::10"
                ),
            );
            return None;
        }
    };
    if let Err(e) = validate_vip(ip) {
        cx.error(
            span,
            field,
            format!(
                "`{s}`: {e}; expected a routable unicast address such as 198.51.100.10 or \
                 2001:db8::10"
            ),
        );
        return None;
    }
    Some(ip)
}

const CLUSTER_FIELDS: &[&str] = &[
    "name",
    "vip",
    "extra_vips",
    "mode",
    "heartbeat_period_ms",
    "loss_tolerance",
    "conn_idle_timeout_s",
    "key_file",
    "hash_seed",
    "table_size",
    "rule",
];

/// What could be read of the cluster part, even when it has errors: enough for the
/// host part's checks to run in the same pass. `None` where a field itself is bad.
#[derive(Default)]
pub(super) struct ClusterOutline {
    /// Every VIP that was read.
    pub(super) vips: Vec<IpAddr>,
    /// The operation mode.
    pub(super) mode: Option<OperationMode>,
    /// Each rule's name and filtering, in file order; `None` when the list itself is bad.
    pub(super) rules: Option<Vec<RuleOutline>>,
}

/// A rule's name and filtering, each `None` when its field is bad.
pub(super) struct RuleOutline {
    pub(super) name: Option<String>,
    pub(super) filtering: Option<Filtering>,
}

/// Reads `[cluster]`: the cluster part when it has no error, and in any case what
/// could be read of it for the host part's checks.
pub(super) fn parse_cluster(
    cx: &mut Ctx,
    t: &DeTable<'_>,
    span: Range<usize>,
) -> (Option<ClusterConfig>, ClusterOutline) {
    let before = cx.errors.len();
    let mut sec = Section::new(t, "cluster", span);

    let name = sec
        .required(cx, "name", "a cluster name")
        .and_then(|v| as_str(cx, v, "cluster.name", "a string"))
        .and_then(|(s, span)| {
            let ok = !s.is_empty()
                && s.len() <= 63
                && s.bytes()
                    .all(|c| c.is_ascii_alphanumeric() || b"-_.".contains(&c));
            if ok {
                Some(s.to_string())
            } else {
                cx.error(
                    span,
                    "cluster.name",
                    format!(
                        "`{s}` is not allowed; expected 1..=63 characters of A-Z a-z 0-9 - _ ."
                    ),
                );
                None
            }
        });

    let vip = sec
        .required(cx, "vip", "the primary VIP, e.g. \"198.51.100.10\"")
        .and_then(|v| as_str(cx, v, "cluster.vip", "an IP address string"))
        .and_then(|(s, span)| parse_vip(cx, s, span, "cluster.vip"));

    let mut extra_vips = Vec::new();
    if let Some(v) = sec.get("extra_vips") {
        match v.get_ref() {
            DeValue::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    let field = format!("cluster.extra_vips[{i}]");
                    if let Some((s, span)) = as_str(cx, item, &field, "an IP address string") {
                        if let Some(ip) = parse_vip(cx, s, span.clone(), &field) {
                            if Some(ip) == vip || extra_vips.contains(&ip) {
                                cx.error(
                                    span,
                                    &field,
                                    format!("`{s}` is listed twice; every VIP must be distinct"),
                                );
                            } else {
                                extra_vips.push(ip);
                            }
                        }
                    }
                }
            }
            other => cx.error(
                v.span(),
                "cluster.extra_vips",
                format!(
                    "expected an array of IP address strings, found {}",
                    other.type_str()
                ),
            ),
        }
    }

    let mode_outline = match sec.parsed::<ModeName>(cx, "mode") {
        Some(m) => Some(m.0),
        None if sec.has("mode") => None,
        None => Some(OperationMode::IgmpMulticast),
    };
    let mode = mode_outline.unwrap_or(OperationMode::IgmpMulticast);
    let (lo, hi) = HEARTBEAT_PERIOD_RANGE_MS;
    let heartbeat_period_ms = sec
        .int(cx, "heartbeat_period_ms", lo.into(), hi.into())
        .map_or(DEFAULT_HEARTBEAT_PERIOD_MS, |n| n as u32);
    let (lo, hi) = LOSS_TOLERANCE_RANGE;
    let loss_tolerance = sec
        .int(cx, "loss_tolerance", lo.into(), hi.into())
        .map_or(DEFAULT_LOSS_TOLERANCE, |n| n as u32);
    let (lo, hi) = CONN_IDLE_TIMEOUT_RANGE_S;
    let conn_idle_timeout_s = sec
        .int(cx, "conn_idle_timeout_s", lo.into(), hi.into())
        .map_or(DEFAULT_CONN_IDLE_TIMEOUT_S, |n| n as u32);
    if let Some(v) = sec.get("handover_timeout_ms") {
        cx.error(
            v.span(),
            "cluster.handover_timeout_ms",
            "removed: a moved slot's old owner now keeps every connection it holds there \
             until it closes, goes idle for conn_idle_timeout_s, or the host leaves; \
             delete this line (conn_idle_timeout_s sets the idle limit)"
                .to_string(),
        );
    }

    let key_file = sec
        .required(cx, "key_file", "the path of the cluster key file")
        .and_then(|v| as_str(cx, v, "cluster.key_file", "a path string"))
        .and_then(|(s, span)| {
            if s.is_empty() {
                cx.error(
                    span,
                    "cluster.key_file",
                    "the path is empty; expected the path of the cluster key file, e.g. \"web.key\" (make one with `nlb keygen web.key`)".into(),
                );
                return None;
            }
            let p = PathBuf::from(s);
            let p = if p.is_relative() {
                cx.file.parent().unwrap_or(Path::new("")).join(p)
            } else {
                p
            };
            cx.key_file = Some((p.clone(), span));
            Some(p)
        });

    let hash_seed = match sec.get("hash_seed") {
        Some(v) => as_int(cx, v, "cluster.hash_seed", 0, i64::MAX).map(|n| n as u64),
        None => name.as_deref().map(seed_from_name),
    };

    let table_size = match sec.get("table_size") {
        None => DEFAULT_TABLE_SIZE,
        Some(v) => match as_int(
            cx,
            v,
            "cluster.table_size",
            TABLE_SIZE_RANGE.0.into(),
            TABLE_SIZE_RANGE.1.into(),
        ) {
            Some(n) if is_prime(n as u32) => n as u32,
            Some(n) => {
                cx.error(
                    v.span(),
                    "cluster.table_size",
                    format!("{n} is not prime; expected a prime such as 65537 or 262147"),
                );
                DEFAULT_TABLE_SIZE
            }
            None => DEFAULT_TABLE_SIZE,
        },
    };

    let mut vips_known: Vec<IpAddr> = vip.into_iter().collect();
    vips_known.extend(&extra_vips);
    let (rules, rule_outline) = match sec.get("rule") {
        None => {
            let r = PortRule::default_rule();
            let outline = RuleOutline {
                name: Some(r.name.clone()),
                filtering: Some(r.filtering),
            };
            (vec![r], Some(vec![outline]))
        }
        Some(v) => parse_rules(cx, v, &vips_known),
    };
    sec.finish(cx, CLUSTER_FIELDS);

    let outline = ClusterOutline {
        vips: vips_known,
        mode: mode_outline,
        rules: rule_outline,
    };
    if cx.errors.len() != before {
        return (None, outline);
    }
    let config = (|| {
        Some(ClusterConfig {
            name: name?,
            vip: vip?,
            extra_vips,
            mode,
            heartbeat_period_ms,
            loss_tolerance,
            conn_idle_timeout_s,
            key_file: key_file?,
            hash_seed: hash_seed?,
            table_size,
            rules,
        })
    })();
    (config, outline)
}

/// `OperationMode`'s parser with the `&'static str` error the section helpers want.
struct ModeName(OperationMode);
impl FromStr for ModeName {
    type Err = &'static str;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse()
            .map(ModeName)
            .map_err(|_| "one of unicast, multicast, igmp-multicast")
    }
}

const RULE_FIELDS: &[&str] = &["name", "vip", "ports", "protocol", "filtering", "affinity"];

/// Reads `[[cluster.rule]]`: the rules without errors, and every rule's outline.
/// Duplicate names are found among all rules whose names could be read, whatever
/// other errors the rules have.
fn parse_rules(
    cx: &mut Ctx,
    v: &Value<'_>,
    vips: &[IpAddr],
) -> (Vec<PortRule>, Option<Vec<RuleOutline>>) {
    let items: Vec<&Value<'_>> = match v.get_ref() {
        DeValue::Array(a) => a.iter().collect(),
        other => {
            cx.error(
                v.span(),
                "cluster.rule",
                format!(
                    "expected [[cluster.rule]] tables, found {}",
                    other.type_str()
                ),
            );
            return (Vec::new(), None);
        }
    };
    if items.len() > MAX_RULES {
        cx.error(
            v.span(),
            "cluster.rule",
            format!("{} rules given; at most {MAX_RULES} allowed", items.len()),
        );
    }
    let mut rules: Vec<(PortRule, Range<usize>)> = Vec::new();
    let mut outline: Vec<RuleOutline> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let path = format!("cluster.rule[{}]", i + 1);
        let DeValue::Table(t) = item.get_ref() else {
            cx.error(item.span(), &path, "expected a table".into());
            outline.push(RuleOutline {
                name: None,
                filtering: None,
            });
            continue;
        };
        let before = cx.errors.len();
        let mut sec = Section::new(t, &path, item.span());
        let name = match sec.str(cx, "name", "a string") {
            Some((s, _)) => Some(s.to_string()),
            None if sec.has("name") => None,
            None => Some(format!("rule{}", i + 1)),
        };
        if let Some(n) = &name {
            if outline.iter().any(|o| o.name.as_ref() == Some(n)) {
                cx.error(
                    item.span(),
                    &format!("{path}.name"),
                    format!("`{n}` names two rules; rule names must be unique"),
                );
            }
        }
        let rule_vip = match sec.str(cx, "vip", "\"all\" or one of the cluster's VIPs") {
            None => Some(RuleVip::All),
            Some(("all", _)) => Some(RuleVip::All),
            Some((s, span)) => match s.parse::<IpAddr>() {
                Ok(ip) if vips.contains(&ip) => Some(RuleVip::Addr(ip)),
                _ => {
                    let list: Vec<String> = vips.iter().map(|v| v.to_string()).collect();
                    cx.error(
                        span,
                        &sec.field("vip"),
                        format!(
                            "`{s}` is not one of the cluster's VIPs; allowed: all, {}",
                            list.join(", ")
                        ),
                    );
                    None
                }
            },
        };
        let ports = match sec.get("ports") {
            None => Some((0, 65535)),
            Some(v) => parse_ports(cx, v, &sec.field("ports")),
        };
        let protocol = sec
            .parsed::<Protocol>(cx, "protocol")
            .unwrap_or(Protocol::Both);
        let filtering = match sec.parsed::<Filtering>(cx, "filtering") {
            Some(f) => Some(f),
            None if sec.has("filtering") => None,
            None => Some(Filtering::Multiple),
        };
        outline.push(RuleOutline {
            name: name.clone(),
            filtering,
        });
        let affinity = sec
            .parsed::<Affinity>(cx, "affinity")
            .unwrap_or(Affinity::Single);
        sec.finish(cx, RULE_FIELDS);
        if cx.errors.len() != before {
            continue;
        }
        let (Some(name), Some(vip), Some((port_start, port_end)), Some(filtering)) =
            (name, rule_vip, ports, filtering)
        else {
            continue;
        };
        let rule = PortRule {
            name,
            vip,
            port_start,
            port_end,
            protocol,
            filtering,
            affinity,
        };
        // Two rules of one name are reported above.
        for (earlier, _) in rules.iter().filter(|(e, _)| e.name != rule.name) {
            if earlier.overlaps(&rule) {
                cx.error(item.span(), &path, format!("rule `{}` ({}) overlaps rule `{}` ({}); rules with the same VIP must not share a port and protocol", rule.name, rule, earlier.name, earlier));
            }
        }
        rules.push((rule, item.span()));
    }
    (rules.into_iter().map(|(r, _)| r).collect(), Some(outline))
}

fn parse_ports(cx: &mut Ctx, v: &Value<'_>, field: &str) -> Option<(u16, u16)> {
    const ALLOWED: &str = "a port 0..=65535 or a range \"FIRST-LAST\" such as \"8000-8080\"";
    match v.get_ref() {
        DeValue::Integer(_) => as_int(cx, v, field, 0, 65535).map(|p| (p as u16, p as u16)),
        DeValue::String(s) => {
            let parsed = match s.split_once('-') {
                Some((a, b)) => a
                    .trim()
                    .parse::<u16>()
                    .ok()
                    .zip(b.trim().parse::<u16>().ok()),
                None => s.trim().parse::<u16>().ok().map(|p| (p, p)),
            };
            match parsed {
                Some((a, b)) if a <= b => Some((a, b)),
                Some((a, b)) => {
                    cx.error(
                        v.span(),
                        field,
                        format!("`{s}`: first port {a} is above last port {b}; expected {ALLOWED}"),
                    );
                    None
                }
                None => {
                    cx.error(
                        v.span(),
                        field,
                        format!("`{s}` is not a port range; expected {ALLOWED}"),
                    );
                    None
                }
            }
        }
        other => {
            cx.error(
                v.span(),
                field,
                format!("expected {ALLOWED}, found {}", other.type_str()),
            );
            None
        }
    }
}
