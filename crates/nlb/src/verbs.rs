//! The control verbs (`nlb query`, `nlb drainstop`, ...), as nlb.exe has them: each
//! sends one request to nlbd and prints its reply the way nlb.exe would, or as JSON.

use crate::client::{pick_interface, request};
use crate::output::{print_json, ErrorJson};
use anyhow::bail;
use nlb_core::control::{Params, Reply, Request, RuleStatus, Status, Target};
use nlb_core::convergence::QueryState;
use std::process::ExitCode;
use std::time::Duration;

/// What the operator asked for.
pub enum Verb {
    /// State and members.
    Query,
    /// Parameters, state, rules, peers and counters.
    Display,
    /// Parameters.
    Params,
    /// A request that changes state, then the new state.
    Change(Request),
    /// drainstop, optionally waiting until the host has stopped.
    DrainStop {
        /// Wait, showing the connections left.
        wait: bool,
        /// Stop after this many seconds even if connections remain.
        timeout_s: Option<u64>,
    },
    /// One port rule.
    QueryPort(Target),
}

/// Runs a verb against the nlbd on `interface` (or the only one running).
pub fn run(verb: Verb, interface: Option<&str>, json: bool) -> anyhow::Result<ExitCode> {
    let iface = pick_interface(interface)?;
    let ask = |r: &Request| request(&iface, r);
    let reply = match &verb {
        Verb::Query | Verb::Display => ask(&Request::Query)?,
        Verb::Params => ask(&Request::Params)?,
        Verb::Change(r) => ask(r)?,
        Verb::DrainStop { timeout_s, .. } => ask(&Request::DrainStop {
            timeout_s: *timeout_s,
        })?,
        Verb::QueryPort(Target::Port { vip, port }) => ask(&Request::QueryPort {
            vip: *vip,
            port: *port,
        })?,
        Verb::QueryPort(Target::All) => {
            bail!("queryport needs a port: PORT or VIP:PORT");
        }
    };
    if let Reply::Error { message, .. } = &reply {
        return Ok(refused(message, json));
    }
    match verb {
        Verb::Display => {
            let params = ask(&Request::Params)?;
            if json {
                print_json(&serde_json::json!({ "params": params, "status": reply }));
                return Ok(ExitCode::SUCCESS);
            }
            if let Reply::Params { params, .. } = &params {
                print_params(params);
                println!();
            }
            if let Reply::Status { status, .. } = &reply {
                print_status(status, true);
            }
        }
        Verb::DrainStop { wait: true, .. } => {
            let mut last = None;
            let mut reply = reply;
            while let Reply::Status { status, .. } = &reply {
                if status.is_stopped() {
                    break;
                }
                let left = status.connections_draining;
                if !json && last != Some(left) {
                    match status.drain_timeout_left_s {
                        Some(t) => println!(
                            "Host {} is draining: {left} connection(s) left; it stops in {t} s at the latest",
                            status.host
                        ),
                        None => println!(
                            "Host {} is draining: {left} connection(s) left",
                            status.host
                        ),
                    }
                    last = Some(left);
                }
                std::thread::sleep(Duration::from_millis(250));
                reply = ask(&Request::Query)?;
            }
            if let Reply::Error { message, .. } = &reply {
                return Ok(refused(message, json));
            }
            if json {
                print_json(&reply);
            } else if let Reply::Status { status, .. } = &reply {
                let timed_out = status
                    .recent_events
                    .iter()
                    .rev()
                    .any(|e| e.contains("drainstop timed out"));
                if timed_out {
                    println!(
                        "Host {} has stopped: the drainstop timed out with connections left (they were dropped).",
                        status.host
                    );
                } else {
                    println!(
                        "Host {} has stopped: its last connection closed.",
                        status.host
                    );
                }
            }
        }
        _ if json => print_json(&reply),
        _ => match &reply {
            Reply::Status {
                message, status, ..
            } => {
                if let Some(m) = message {
                    println!("{m}");
                }
                print_status(status, false);
            }
            Reply::Params { params, .. } => print_params(params),
            Reply::Port { index, rule, .. } => print_port(*index, rule),
            Reply::Error { .. } => unreachable!("handled above"),
        },
    }
    Ok(ExitCode::SUCCESS)
}

/// Shows nlbd's refusal (as an `error` object with --json); exit status 1.
fn refused(message: &str, json: bool) -> ExitCode {
    let text = format!("nlbd refused: {message}");
    if json {
        print_json(&ErrorJson::new(text, Vec::new()));
    } else {
        eprintln!("{text}");
    }
    ExitCode::from(1)
}

fn hosts(ids: &[u8]) -> String {
    ids.iter()
        .map(|h| h.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Prints the state as nlb.exe's query does, then the rules; `full` adds peers and
/// counters.
fn print_status(s: &Status, full: bool) {
    match s.state {
        QueryState::Stopped => println!(
            "Host {} is stopped and does not know convergence state of the cluster.",
            s.host
        ),
        QueryState::Suspended => println!(
            "Host {} is suspended and does not know convergence state of the cluster.",
            s.host
        ),
        QueryState::Converging => println!(
            "Host {} is converging with the following host(s) as part of the cluster:\n{}",
            s.host,
            hosts(&s.proposed)
        ),
        QueryState::Draining => println!(
            "Host {} is draining ({} connection(s) left{}) with the following host(s) as part \
             of the cluster:\n{}",
            s.host,
            s.connections_draining,
            s.drain_timeout_left_s
                .map(|t| format!("; it stops in {t} s at the latest"))
                .unwrap_or_default(),
            hosts(&s.members)
        ),
        state => println!(
            "Host {} {} with the following host(s) as part of the cluster:\n{}",
            s.host,
            if state == QueryState::ConvergedAsDefault {
                "converged as DEFAULT"
            } else {
                "converged"
            },
            hosts(&s.members)
        ),
    }
    if let Some(why) = &s.standing_aside {
        println!("Host {} stands aside: {why}.", s.host);
    }
    if let Some(p) = &s.reception_problem {
        println!("Warning: {}.\n  Fix: {}.", p.cause, p.fix);
    }
    println!();
    print_rules(&s.rules);
    if !full {
        return;
    }
    println!("\nPeers:");
    if s.peers.is_empty() {
        println!("  none heard");
    }
    for p in &s.peers {
        println!(
            "  host {:>3}  {:<10} heard {:>5} ms ago{}{}",
            p.id,
            p.state,
            p.heard_ms_ago,
            if p.member { "" } else { "  (not a member)" },
            if p.config_mismatch {
                "  CONFIGURATION DIFFERS"
            } else {
                ""
            }
        );
    }
    let h = &s.heartbeats;
    println!(
        "\nHeartbeats: sent {}, accepted {}, rejected: authentication {}, replayed {}, \
         malformed {}, stale incarnation {}",
        h.sent, h.accepted, h.authentication_failures, h.replays, h.malformed, h.stale_incarnations
    );
    if let Some(l) = s.lease_left_ms {
        println!("Lease: {l} ms left");
    }
    if !s.vip_frames.is_empty() {
        println!(
            "VIP frames a second seen by each member: {}",
            s.vip_frames
                .iter()
                .map(|m| format!("host {} {}", m.host, m.per_second))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    println!(
        "Data path: {} connection(s) tracked; packets: {}",
        s.dataplane.connections,
        s.dataplane
            .packets
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    if !s.recent_events.is_empty() {
        println!("\nRecent events:");
        for e in &s.recent_events {
            println!("  {e}");
        }
    }
}

fn print_rules(rules: &[RuleStatus]) {
    println!(
        "{:<10} {:<15} {:<13} {:<5} {:<9} {:<9} {:>6}  {:>8}",
        "Rule", "VIP", "Ports", "Proto", "Filtering", "State", "Weight", "Share"
    );
    for r in rules {
        let weight = match (r.weight, r.priority) {
            (Some(w), _) => w.to_string(),
            (None, Some(p)) => format!("prio {p}"),
            _ => "-".into(),
        };
        println!(
            "{:<10} {:<15} {:<13} {:<5} {:<9} {:<9} {:>6}  {:>7.2}%{}",
            r.name,
            r.vip,
            if r.name == "default" {
                "other"
            } else {
                &r.ports
            },
            r.protocol,
            r.filtering.replace("default host", "default"),
            r.mode,
            weight,
            100.0 * f64::from(r.slots_owned) / f64::from(r.slots_total.max(1)),
            if r.slots_draining > 0 || r.slots_pending > 0 {
                format!(
                    "  ({} slots draining with {} connection(s), {} pending)",
                    r.slots_draining, r.connections_draining, r.slots_pending
                )
            } else {
                String::new()
            }
        );
    }
}

fn print_params(p: &Params) {
    println!("Cluster configuration ({}):", p.config_file);
    println!("  ClusterName            = {}", p.cluster);
    println!("  ClusterIPAddress       = {}", p.vip);
    if !p.extra_vips.is_empty() {
        let v: Vec<String> = p.extra_vips.iter().map(|v| v.to_string()).collect();
        println!("  AdditionalVIPs         = {}", v.join(", "));
    }
    println!("  OperationMode          = {}", p.mode);
    println!("  ClusterNetworkAddress  = {}", p.cluster_mac);
    if let Some(g) = p.igmp_group {
        println!("  IGMPMulticastIPAddress = {g}");
    }
    println!("  HeartbeatPeriod        = {} ms", p.heartbeat_period_ms);
    println!("  AliveMsgTolerance      = {}", p.loss_tolerance);
    println!("  ConnIdleTimeout        = {} s", p.conn_idle_timeout_s);
    println!("  TableSize              = {}", p.table_size);
    println!("  ClusterDigest          = {}", p.cluster_digest);
    println!("Host configuration:");
    println!("  HostPriority           = {}", p.host);
    println!("  Interface              = {}", p.interface);
    println!("  InitialHostState       = {}", p.initial_state);
    println!("Port rules:");
    print_rules(&p.rules);
}

fn print_port(index: Option<usize>, r: &RuleStatus) {
    match index {
        Some(_) => println!(
            "Port rule `{}` ({} {} {}, {} host{}) is {} on this host.",
            r.name,
            r.vip,
            r.ports,
            r.protocol,
            r.filtering,
            if r.filtering == "multiple" {
                format!(", affinity {}", r.affinity)
            } else {
                String::new()
            },
            r.mode
        ),
        None => println!("No port rule covers this port: its traffic goes to the default host."),
    }
    println!(
        "This host admits new flows in {} of {} slots ({:.2}%); {} draining, {} pending.",
        r.slots_owned,
        r.slots_total,
        100.0 * f64::from(r.slots_owned) / f64::from(r.slots_total.max(1)),
        r.slots_draining,
        r.slots_pending
    );
}
