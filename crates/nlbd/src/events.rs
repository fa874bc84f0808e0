//! The log: every line goes to tracing (stderr, journald), and the most recent ones
//! are kept for `nlb display`, as nlb.exe display shows the recent event log.

use nlb_core::control::Convergences;
use std::collections::VecDeque;
use std::time::Duration;
use tracing::{info, warn};

/// Entries kept for `nlb display`.
const KEPT: usize = 32;

/// The recent log, and the convergences it saw.
#[derive(Default)]
pub struct EventLog {
    entries: VecDeque<(Duration, bool, String)>,
    convergences: Convergences,
    /// When the membership change the next commit answers was first seen.
    changed_at: Option<Duration>,
}

impl EventLog {
    /// A membership change (a host joined, lost, known dead; or nlbd started): the next
    /// commit is timed from the first such change before it.
    pub fn note_membership_change(&mut self, now: Duration) {
        self.changed_at.get_or_insert(now);
    }

    /// A view was committed.
    pub fn note_converged(&mut self, now: Duration) {
        let took = self
            .changed_at
            .take()
            .map_or(0.0, |at| now.saturating_sub(at).as_secs_f64());
        self.convergences.count += 1;
        self.convergences.seconds += took;
        self.convergences.last_seconds = Some(took);
    }

    /// The convergences so far.
    pub fn convergences(&self) -> Convergences {
        self.convergences
    }

    /// Logs an informational line.
    pub fn info(&mut self, now: Duration, message: String) {
        info!("{message}");
        self.keep(now, false, message);
    }

    /// Logs a warning.
    pub fn warn(&mut self, now: Duration, message: String) {
        warn!("{message}");
        self.keep(now, true, message);
    }

    fn keep(&mut self, now: Duration, warning: bool, message: String) {
        if self.entries.len() == KEPT {
            self.entries.pop_front();
        }
        self.entries.push_back((now, warning, message));
    }

    /// The kept lines, oldest first, each with how long ago it was logged.
    pub fn recent(&self, now: Duration) -> Vec<String> {
        self.entries
            .iter()
            .map(|(at, warning, m)| {
                format!(
                    "{:>8.1} s ago  {}{m}",
                    now.saturating_sub(*at).as_secs_f64(),
                    if *warning { "WARNING: " } else { "" }
                )
            })
            .collect()
    }
}
