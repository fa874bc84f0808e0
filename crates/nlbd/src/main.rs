//! `nlbd`: makes this host a member of an NLB cluster. A thin shell around the
//! sans-IO core: it moves heartbeats between an AF_PACKET socket and the convergence
//! state machine, and slot states and the lease from the state machine into the XDP
//! program's maps.

mod args;
mod control;
mod core_events;
mod event_loop;
mod events;
mod install;
mod link;
mod link_monitor;
mod metrics;
mod netlink;
mod operator;
mod probes;
mod requests;
mod signals;
mod startup;
mod state;
mod wait;

use clap::Parser;
use std::process::ExitCode;
use tracing::error;

fn main() -> ExitCode {
    let args = args::Args::parse();
    // Logs go to stderr (journald under systemd); NLBD_LOG=debug shows every rejected
    // heartbeat with its reason; NLBD_LOG_FORMAT=json writes one JSON object a line, for
    // log shippers.
    let level = std::env::var("NLBD_LOG")
        .ok()
        .and_then(|l| l.parse().ok())
        .unwrap_or(tracing::level_filters::LevelFilter::INFO);
    let logs = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(level)
        .with_target(false);
    match std::env::var("NLBD_LOG_FORMAT").as_deref() {
        Ok("json") => logs.json().init(),
        Ok("text") | Err(_) => logs.init(),
        Ok(other) => {
            logs.init();
            tracing::warn!(
                "NLBD_LOG_FORMAT={other} is not a log format (json or text): text it is"
            );
        }
    }
    match startup::start(&args).and_then(event_loop::run) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            error!("{e:#}");
            ExitCode::from(1)
        }
    }
}
