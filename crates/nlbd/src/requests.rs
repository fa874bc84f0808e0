//! Answers to control requests: the state machine and the data path behind the
//! protocol of `nlb_core::control`.

use crate::events::EventLog;
use nlb_core::config::Config;
use nlb_core::control::{self as proto, DataplaneStats, Reply, Request};
use nlb_core::convergence::{Command, Node};
use nlb_core::time::Time;
use nlb_dataplane::Dataplane;
use std::time::Duration;

/// What a control request led to.
pub enum Served {
    /// The reply.
    Reply(Reply),
    /// The host's state changed; the reply is its status, with this message.
    Changed(String),
    /// The operator asked for a hand-off exit: this reply, then the exit.
    HandOff(Reply),
}

/// Answers one control request.
pub fn serve(
    request: Request,
    node: &mut Node,
    config: &mut Config,
    dp: &Dataplane,
    log: &mut EventLog,
    now: Duration,
) -> Served {
    let command = match request {
        Request::Query => return Served::Reply(status(node, config, dp, log, now, None)),
        Request::Params => {
            return Served::Reply(Reply::Params {
                params: Box::new(proto::Params::new(config)),
            })
        }
        Request::QueryPort { vip, port } => {
            return Served::Reply(match proto::rule_for_port(config, vip, port) {
                Err(e) => Reply::error(e.to_string()),
                Ok(index) => {
                    let s = proto::Status::new(
                        config,
                        &node.snapshot(Time::from_duration(now)),
                        DataplaneStats::default(),
                    );
                    let rule = s.rules[index.unwrap_or(config.cluster.rules.len())].clone();
                    Reply::Port { index, rule }
                }
            });
        }
        Request::Reload => return reload(node, config, log, now),
        Request::HandOff => {
            return Served::HandOff(status(
                node,
                config,
                dp,
                log,
                now,
                Some(request.done_message()),
            ));
        }
        Request::Start => Command::Start,
        Request::Stop => Command::Stop,
        Request::DrainStop { timeout_s } => Command::DrainStop {
            timeout: timeout_s.map(Duration::from_secs),
        },
        Request::Suspend => Command::Suspend,
        Request::Resume => Command::Resume,
        Request::Enable { target } | Request::Disable { target } | Request::Drain { target } => {
            let selector = match proto::select(config, target) {
                Ok(s) => s,
                Err(e) => return Served::Reply(Reply::error(e.to_string())),
            };
            match request {
                Request::Enable { .. } => Command::Enable(selector),
                Request::Disable { .. } => Command::Disable(selector),
                _ => Command::Drain(selector),
            }
        }
    };
    match node.command(Time::from_duration(now), command) {
        Ok(()) => {
            log.info(now, format!("control: {request:?} done"));
            Served::Changed(request.done_message())
        }
        Err(e) => {
            log.warn(now, format!("control: {request:?} refused: {e}"));
            Served::Reply(Reply::error(e.to_string()))
        }
    }
}

pub fn status(
    node: &Node,
    config: &Config,
    dp: &Dataplane,
    log: &EventLog,
    now: Duration,
    message: Option<String>,
) -> Reply {
    let stats = DataplaneStats {
        connections: dp.connections().unwrap_or(0) as u64,
        packets: dp
            .counters()
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
    };
    Reply::Status {
        message,
        status: Box::new(proto::Status {
            recent_events: log.recent(now),
            convergences: log.convergences(),
            ..proto::Status::new(config, &node.snapshot(Time::from_duration(now)), stats)
        }),
    }
}

/// Re-reads the configuration file; applies the changes that are safe at run time.
fn reload(node: &mut Node, config: &mut Config, log: &mut EventLog, now: Duration) -> Served {
    let new = match Config::load(&config.path) {
        Ok(c) => c,
        Err(e) => {
            return Served::Reply(Reply::error(format!(
                "the configuration file has errors; nothing changed:\n{e}"
            )))
        }
    };
    let (commands, changes) = match proto::reload_plan(config, &new) {
        Ok(p) => p,
        Err(e) => {
            log.warn(now, format!("reload refused: {e}"));
            return Served::Reply(Reply::error(format!(
                "reload refused, nothing changed: {e}"
            )));
        }
    };
    for c in commands {
        if let Err(e) = node.command(Time::from_duration(now), c) {
            return Served::Reply(Reply::error(format!("reload stopped at {c:?}: {e}")));
        }
    }
    config.host = new.host;
    let message = if changes.is_empty() {
        "reloaded: nothing changed".to_string()
    } else {
        format!("reloaded: {}", changes.join("; "))
    };
    log.info(now, message.clone());
    Served::Changed(message)
}
