//! The log: every line goes to tracing (stderr, journald), and the most recent ones
//! are kept for `nlb display`, as nlb.exe display shows the recent event log.

use std::collections::VecDeque;
use std::time::Duration;
use tracing::{info, warn};

/// Entries kept for `nlb display`.
const KEPT: usize = 32;

/// The recent log.
#[derive(Default)]
pub struct EventLog {
    entries: VecDeque<(Duration, bool, String)>,
}

impl EventLog {
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
