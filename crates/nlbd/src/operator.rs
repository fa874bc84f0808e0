//! What an operator set, kept across restarts (`nlb_core::operator_state`): saved in
//! `[host] state_dir` as `<cluster>-<host id>.json` whenever it changes, applied at
//! start over the configuration's initial state.

use crate::events::EventLog;
use anyhow::Context;
use nlb_core::config::Config;
use nlb_core::convergence::Node;
use nlb_core::operator_state::OperatorState;
use nlb_core::time::Time;
use nlb_dataplane::ktime_now;
use std::path::PathBuf;

/// The file of this host of this cluster.
pub fn path(config: &Config) -> PathBuf {
    config
        .host
        .state_dir
        .join(format!("{}-{}.json", config.cluster.name, config.host.id))
}

/// Keeps the file equal to the node's operator state.
pub struct Keeper {
    path: PathBuf,
    saved: OperatorState,
}

impl Keeper {
    /// Reads what was kept, applies it to `node` (just made, at `now`) and logs it.
    pub fn restore(config: &Config, node: &mut Node, now: Time, log: &mut EventLog) -> Self {
        let path = path(config);
        let kept: OperatorState = match std::fs::read_to_string(&path) {
            Ok(text) => match serde_json::from_str(&text) {
                Ok(s) => s,
                Err(e) => {
                    log.warn(
                        ktime_now(),
                        format!("{}: {e}; starting from the configuration", path.display()),
                    );
                    OperatorState::default()
                }
            },
            Err(_) => OperatorState::default(),
        };
        if !kept.is_default() {
            let (commands, gone) = kept.commands(&config.cluster);
            for c in commands {
                if let Err(e) = node.command(now, c) {
                    log.warn(ktime_now(), format!("restoring {c:?}: {e}"));
                }
            }
            log.info(
                ktime_now(),
                format!(
                    "restored what the operator set (from {}): host {:?}{}{}",
                    path.display(),
                    kept.host,
                    kept.rules
                        .iter()
                        .map(|(r, s)| format!(", rule {r} {s:?}"))
                        .collect::<String>(),
                    if gone.is_empty() {
                        String::new()
                    } else {
                        format!(" (rules no longer configured: {})", gone.join(", "))
                    }
                ),
            );
        }
        Keeper {
            path,
            saved: OperatorState::of(node),
        }
    }

    /// Keeps on from a node adopted in a hand-off (which carries its state).
    pub fn adopt(config: &Config, node: &Node) -> Self {
        Keeper {
            path: path(config),
            saved: OperatorState::of(node),
        }
    }

    /// Saves the node's operator state if it changed since the last save.
    pub fn keep(&mut self, node: &Node, log: &mut EventLog) {
        let now = OperatorState::of(node);
        if now == self.saved {
            return;
        }
        match save(&self.path, &now) {
            Ok(()) => self.saved = now,
            Err(e) => {
                // Tried again at the next change; the running host is not affected.
                log.warn(
                    ktime_now(),
                    format!("keeping the operator's settings: {e:#}"),
                );
                self.saved = now;
            }
        }
    }
}

/// Writes `state` to `path` whole (a file beside it, then a rename), or removes the
/// file when there is nothing to keep.
fn save(path: &PathBuf, state: &OperatorState) -> anyhow::Result<()> {
    if state.is_default() {
        return match std::fs::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(e).with_context(|| path.display().to_string())
            }
            _ => Ok(()),
        };
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| dir.display().to_string())?;
    }
    let tmp = path.with_extension("json.new");
    let text = serde_json::to_string_pretty(state).expect("plain data");
    std::fs::write(&tmp, text).with_context(|| tmp.display().to_string())?;
    std::fs::rename(&tmp, path).with_context(|| path.display().to_string())
}
