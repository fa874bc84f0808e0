//! The Prometheus exposition of a host's [`Status`] (text format 0.0.4): what
//! `[host] metrics` serves at `/metrics`. Names follow Prometheus' conventions: the
//! `nlb_` namespace, `_total` for counters, base units (seconds, ratios).

use super::status::Status;
use crate::convergence::{QueryState, RuleMode};
use std::fmt::Write;

/// Escapes a label value (backslash, quote, newline).
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// One metric family: its HELP and TYPE lines, then its samples.
struct Family<'a> {
    out: &'a mut String,
}

impl<'a> Family<'a> {
    fn new(out: &'a mut String, name: &str, kind: &str, help: &str) -> Self {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        Family { out }
    }

    fn sample(&mut self, name: &str, labels: &[(String, String)], value: f64) {
        let l: Vec<String> = labels
            .iter()
            .map(|(k, v)| format!("{k}=\"{}\"", label(v)))
            .collect();
        let _ = writeln!(self.out, "{name}{{{}}} {value}", l.join(","));
    }
}

/// A sample of family `f`.
fn put(f: &mut Family<'_>, name: &str, labels: &[(String, String)], value: f64) {
    f.sample(name, labels, value);
}

/// The exposition of `s`.
pub fn render(s: &Status) -> String {
    let mut out = String::new();
    let host = s.host.to_string();
    let base = [("cluster", s.cluster.as_str()), ("host", host.as_str())];
    let with = |extra: &[(&'static str, String)]| -> Vec<(String, String)> {
        base.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .chain(extra.iter().map(|(k, v)| (k.to_string(), v.clone())))
            .collect()
    };

    let states = [
        (QueryState::Converging, "converging"),
        (QueryState::Draining, "draining"),
        (QueryState::Converged, "converged"),
        (QueryState::ConvergedAsDefault, "converged_as_default"),
        (QueryState::Stopped, "stopped"),
        (QueryState::Suspended, "suspended"),
    ];
    {
        let mut f = Family::new(
            &mut out,
            "nlb_host_state",
            "gauge",
            "1 for the host's state (nlb query's), 0 for the others.",
        );
        for (state, name) in states {
            let v = f64::from(u8::from(s.state == state));
            put(
                &mut f,
                "nlb_host_state",
                &with(&[("state", name.to_string())]),
                v,
            );
        }
    }
    {
        let mut f = Family::new(
            &mut out,
            "nlb_standing_aside",
            "gauge",
            "1 when the host takes no part although started (see nlb query for why).",
        );
        put(
            &mut f,
            "nlb_standing_aside",
            &with(&[]),
            f64::from(u8::from(s.standing_aside.is_some())),
        );
    }
    {
        let mut f = Family::new(
            &mut out,
            "nlb_members",
            "gauge",
            "Members of the committed view.",
        );
        put(&mut f, "nlb_members", &with(&[]), s.members.len() as f64);
    }
    {
        let mut f = Family::new(
            &mut out,
            "nlb_convergence_duration_seconds",
            "summary",
            "Views committed, each timed from the membership change that started it.",
        );
        let c = &s.convergences;
        put(
            &mut f,
            "nlb_convergence_duration_seconds_sum",
            &with(&[]),
            c.seconds,
        );
        put(
            &mut f,
            "nlb_convergence_duration_seconds_count",
            &with(&[]),
            c.count as f64,
        );
    }
    {
        let mut f = Family::new(
            &mut out,
            "nlb_converged_seconds",
            "gauge",
            "Time since the committed view was committed (absent while converging).",
        );
        if let Some(ms) = s.converged_for_ms {
            put(&mut f, "nlb_converged_seconds", &with(&[]), ms as f64 / 1e3);
        }
    }
    {
        let mut f = Family::new(
            &mut out,
            "nlb_lease_remaining_seconds",
            "gauge",
            "Time left on the data path's lease (absent when alone: unlimited).",
        );
        if let Some(ms) = s.lease_left_ms {
            put(
                &mut f,
                "nlb_lease_remaining_seconds",
                &with(&[]),
                ms as f64 / 1e3,
            );
        }
    }
    {
        let mut f = Family::new(
            &mut out,
            "nlb_rule_slots",
            "gauge",
            "A rule's ownership table slots on this host, by state.",
        );
        for r in &s.rules {
            for (state, n) in [
                ("owned", r.slots_owned),
                ("pending", r.slots_pending),
                ("draining", r.slots_draining),
            ] {
                put(
                    &mut f,
                    "nlb_rule_slots",
                    &with(&[("rule", r.name.clone()), ("state", state.to_string())]),
                    f64::from(n),
                );
            }
        }
    }
    {
        let mut f = Family::new(
            &mut out,
            "nlb_rule_slots_size",
            "gauge",
            "A rule's ownership table size (1 for single-host rules and the default rule).",
        );
        for r in &s.rules {
            put(
                &mut f,
                "nlb_rule_slots_size",
                &with(&[("rule", r.name.clone())]),
                f64::from(r.slots_total),
            );
        }
    }
    {
        let mut f = Family::new(
            &mut out,
            "nlb_rule_share_ratio",
            "gauge",
            "The share of a rule's new flows this host owns, 0..1.",
        );
        for r in &s.rules {
            let share = f64::from(r.slots_owned) / f64::from(r.slots_total.max(1));
            put(
                &mut f,
                "nlb_rule_share_ratio",
                &with(&[("rule", r.name.clone())]),
                share,
            );
        }
    }
    {
        let mut f = Family::new(
            &mut out,
            "nlb_rule_enabled",
            "gauge",
            "1 for a rule's mode on this host (enabled, draining, disabled), 0 for the others.",
        );
        for r in &s.rules {
            for (mode, name) in [
                (RuleMode::Enabled, "enabled"),
                (RuleMode::Draining, "draining"),
                (RuleMode::Disabled, "disabled"),
            ] {
                put(
                    &mut f,
                    "nlb_rule_enabled",
                    &with(&[("rule", r.name.clone()), ("mode", name.to_string())]),
                    f64::from(u8::from(r.mode == mode)),
                );
            }
        }
    }
    {
        let mut f = Family::new(
            &mut out,
            "nlb_connections_draining",
            "gauge",
            "Connections this host still serves in slots it released.",
        );
        put(
            &mut f,
            "nlb_connections_draining",
            &with(&[]),
            f64::from(s.connections_draining),
        );
    }
    {
        let mut f = Family::new(
            &mut out,
            "nlb_conntable_entries",
            "gauge",
            "Entries in the data path's connection table.",
        );
        put(
            &mut f,
            "nlb_conntable_entries",
            &with(&[]),
            s.dataplane.connections as f64,
        );
    }
    {
        let mut f = Family::new(
            &mut out,
            "nlb_dataplane_packets_total",
            "counter",
            "Packets (and connection table events) by the data path's verdict, summed over CPUs.",
        );
        for (verdict, n) in &s.dataplane.packets {
            put(
                &mut f,
                "nlb_dataplane_packets_total",
                &with(&[("verdict", verdict.clone())]),
                *n as f64,
            );
        }
    }
    let hb = &s.heartbeats;
    {
        let mut f = Family::new(
            &mut out,
            "nlb_heartbeats_sent_total",
            "counter",
            "Heartbeats sent.",
        );
        put(
            &mut f,
            "nlb_heartbeats_sent_total",
            &with(&[]),
            hb.sent as f64,
        );
    }
    {
        let mut f = Family::new(
            &mut out,
            "nlb_heartbeats_accepted_total",
            "counter",
            "Heartbeats accepted.",
        );
        put(
            &mut f,
            "nlb_heartbeats_accepted_total",
            &with(&[]),
            hb.accepted as f64,
        );
    }
    {
        let mut f = Family::new(
            &mut out,
            "nlb_heartbeats_rejected_total",
            "counter",
            "Heartbeats rejected, by reason.",
        );
        for (reason, n) in [
            ("authentication", hb.authentication_failures),
            ("replay", hb.replays),
            ("malformed", hb.malformed),
            ("stale_incarnation", hb.stale_incarnations),
        ] {
            put(
                &mut f,
                "nlb_heartbeats_rejected_total",
                &with(&[("reason", reason.to_string())]),
                n as f64,
            );
        }
    }
    {
        let mut f = Family::new(
            &mut out,
            "nlb_peer_heard_seconds",
            "gauge",
            "Time since each peer's last accepted heartbeat.",
        );
        for p in &s.peers {
            put(
                &mut f,
                "nlb_peer_heard_seconds",
                &with(&[("peer", p.id.to_string())]),
                p.heard_ms_ago as f64 / 1e3,
            );
        }
    }
    {
        let mut f = Family::new(
            &mut out,
            "nlb_vip_frames_per_second",
            "gauge",
            "VIP frames a second each member's data path sees (from the heartbeats).",
        );
        for m in &s.vip_frames {
            put(
                &mut f,
                "nlb_vip_frames_per_second",
                &with(&[("member", m.host.to_string())]),
                f64::from(m.per_second),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_family_has_help_and_type_and_label_values_are_escaped() {
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        let mut out = String::new();
        let mut f = Family::new(&mut out, "nlb_x_total", "counter", "X.");
        put(
            &mut f,
            "nlb_x_total",
            &[("rule".into(), "w\"eb".into())],
            3.0,
        );
        assert_eq!(
            out,
            "# HELP nlb_x_total X.\n# TYPE nlb_x_total counter\nnlb_x_total{rule=\"w\\\"eb\"} 3\n"
        );
    }
}
