//! The state machine's events, as log lines.

use crate::events::EventLog;
use nlb_core::addressing::OperationMode;
use nlb_core::control::ReceptionProblem;
use nlb_core::convergence::Event;
use std::time::Duration;

/// Logs a state machine event.
pub fn log_event(log: &mut EventLog, now: Duration, e: &Event, mode: OperationMode) {
    let hex = |d: &[u8]| d.iter().map(|b| format!("{b:02x}")).collect::<String>();
    match e {
        Event::HostJoined { .. } | Event::HostLost { .. } | Event::HostKnownDead { .. } => {
            log.note_membership_change(now)
        }
        Event::Converged { .. } => log.note_converged(now),
        _ => {}
    }
    match e {
        Event::HostJoined { host } => log.info(now, format!("host {host} joined")),
        Event::HostLost { host, reason } => log.info(now, format!("host {host} lost: {reason:?}")),
        Event::VipFramesUneven(r) => {
            let p = ReceptionProblem::explain(mode, r);
            log.warn(now, format!("{}; fix: {}", p.cause, p.fix))
        }
        Event::VipFramesEven => {
            log.info(now, "every member sees the VIP's frames again".to_string())
        }
        Event::HostKnownDead { host } => log.info(
            now,
            format!(
                "host {host} known dead: the slots it owned now take its connections' segments"
            ),
        ),
        Event::Converged { members, digest } => {
            let ids: Vec<String> = members.iter().map(|h| h.to_string()).collect();
            log.info(
                now,
                format!("converged: hosts {} (view {digest:016x})", ids.join(", ")),
            );
        }
        Event::OwnershipChanged {
            rule,
            gained,
            released,
        } => log.info(
            now,
            format!("rule {rule}: gained {gained} slots, released {released}"),
        ),
        Event::ConfigMismatch {
            host,
            theirs,
            we_stand_aside,
        } => log.warn(
            now,
            format!(
                "host {host} advertises another cluster configuration (digest {}); {}",
                hex(theirs),
                if *we_stand_aside {
                    "this host stands aside"
                } else {
                    "it is not admitted"
                }
            ),
        ),
        Event::DuplicateHostId { theirs, we_refuse } => log.warn(
            now,
            format!(
                "another host uses this host's id (boot {theirs}); {}",
                if *we_refuse {
                    "this newer host refuses to join"
                } else {
                    "the newer one must refuse"
                }
            ),
        ),
        Event::AuthenticationFailures { src, count } => log.warn(
            now,
            format!("{count} heartbeats failed authentication (latest from {src})"),
        ),
        Event::StateChanged { from, to } => log.info(now, format!("state {from:?} -> {to:?}")),
        Event::DrainTimedOut { held } => log.warn(
            now,
            format!("drainstop timed out: stopped with {held} connection(s) still open (dropped)"),
        ),
        Event::Stalled { gap } => log.warn(
            now,
            format!(
                "nlbd did not run for {} ms (a paused VM or a starved CPU): peers are not \
                 judged silent over that time, and new flows wait until they hear this host again",
                gap.as_millis()
            ),
        ),
        Event::PeerUnverified { host, frames } => log.warn(
            now,
            format!(
                "host {host} is heard but not admitted: {frames} of its heartbeats carry an \
                 incarnation that acknowledges none of this host's recent ones; either it \
                 cannot hear this host (check the path from here to it), or someone replays \
                 its old heartbeats"
            ),
        ),
    }
}
