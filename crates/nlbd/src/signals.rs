//! The signals nlbd answers: SIGTERM and SIGINT stop it (leaving the cluster and
//! restoring everything), SIGUSR2 is the hand-off exit.

use anyhow::Context;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// What signals asked for, set by signal-hook's handlers and read by the loop.
pub struct Signals {
    /// SIGTERM or SIGINT: leave the cluster and restore everything.
    pub stop: Arc<AtomicBool>,
    /// SIGUSR2: the hand-off exit.
    pub hand_off: Arc<AtomicBool>,
}

impl Signals {
    /// Installs the handlers.
    pub fn register() -> anyhow::Result<Signals> {
        let signals = Signals {
            stop: Arc::new(AtomicBool::new(false)),
            hand_off: Arc::new(AtomicBool::new(false)),
        };
        let register = |signal, flag: &Arc<AtomicBool>| {
            signal_hook::flag::register(signal, Arc::clone(flag))
                .map(drop)
                .with_context(|| format!("installing the handler of signal {signal}"))
        };
        register(signal_hook::consts::SIGTERM, &signals.stop)?;
        register(signal_hook::consts::SIGINT, &signals.stop)?;
        register(signal_hook::consts::SIGUSR2, &signals.hand_off)?;
        Ok(signals)
    }
}
