//! What happens in each scenario, and when.

use crate::rng::Rng;
use nlb_core::convergence::{Command, RuleSelector};
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// A named fault scenario.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scenario {
    /// Crashes, restarts, stops, starts, drains and weight changes, one after another.
    Churn,
    /// One host crashes; the survivors must own all its slots within a second.
    Crash,
    /// The cluster is cut in two, then healed.
    Partition,
    /// A host joins while connections are open.
    Join,
    /// A host drainstops while connections are open.
    Drain,
    /// A lossy, duplicating, reordering network, with a weight change and a restart.
    Flaky,
    /// An attacker injects forged and replayed frames while a host crashes and returns.
    Attack,
    /// Hosts hand off to successor processes (an upgrade), once on a calm network and
    /// once on a lossy one, while connections are open.
    HandOff,
    /// Three minutes with connections that live far longer than every timer and idle
    /// for up to 90 s between packets, across a join, a weight change, a hand-off and a
    /// drainstop.
    LongLived,
    /// A host's process freezes for two seconds (a VM paused, a daemon stalled) while
    /// its data path runs on with its last slot states and lease, then resumes.
    Pause,
    /// A host restarts with its wall clock stepped back an hour (a VM restored from a
    /// snapshot, NTP correcting a fast clock).
    ClockStep,
}

impl Scenario {
    /// Every scenario.
    pub const ALL: [Scenario; 11] = [
        Scenario::Churn,
        Scenario::Crash,
        Scenario::Partition,
        Scenario::Join,
        Scenario::Drain,
        Scenario::Flaky,
        Scenario::Attack,
        Scenario::HandOff,
        Scenario::LongLived,
        Scenario::Pause,
        Scenario::ClockStep,
    ];

    /// The name used on the command line.
    pub fn as_str(&self) -> &'static str {
        match self {
            Scenario::Churn => "churn",
            Scenario::Crash => "crash",
            Scenario::Partition => "partition",
            Scenario::Join => "join",
            Scenario::Drain => "drain",
            Scenario::Flaky => "flaky",
            Scenario::Attack => "attack",
            Scenario::HandOff => "handoff",
            Scenario::LongLived => "long-lived",
            Scenario::Pause => "pause",
            Scenario::ClockStep => "clock-step",
        }
    }

    /// The scenario's schedule for `hosts` hosts.
    pub(crate) fn plan(&self, hosts: usize, rng: &mut Rng) -> Plan {
        let ms = Duration::from_millis;
        let mut actions = Vec::new();
        let boot_all =
            |actions: &mut Vec<(Duration, Action)>, except: Option<usize>, rng: &mut Rng| {
                for h in 0..hosts {
                    if Some(h) != except {
                        actions.push((ms(rng.range(0, 300)), Action::Boot(h)));
                    }
                }
            };
        let pick = |rng: &mut Rng| rng.below(hosts as u64) as usize;
        let mut drain_host = None;
        let end = match self {
            Scenario::Crash => {
                boot_all(&mut actions, None, rng);
                actions.push((ms(2500), Action::Crash(pick(rng))));
                ms(6000)
            }
            Scenario::Join => {
                let joiner = pick(rng);
                boot_all(&mut actions, Some(joiner), rng);
                actions.push((ms(3000), Action::Boot(joiner)));
                ms(8000)
            }
            Scenario::Drain => {
                boot_all(&mut actions, None, rng);
                let h = pick(rng);
                drain_host = Some(h);
                actions.push((
                    ms(3000),
                    Action::Command(h, Command::DrainStop { timeout: None }),
                ));
                ms(12000)
            }
            Scenario::Partition => {
                boot_all(&mut actions, None, rng);
                let mut side: Vec<usize> = (0..hosts).filter(|_| rng.chance(0.5)).collect();
                if side.is_empty() || side.len() == hosts {
                    side = vec![pick(rng)];
                }
                actions.push((ms(2500), Action::Partition(side)));
                actions.push((ms(5000), Action::Heal));
                ms(9000)
            }
            Scenario::Flaky => {
                boot_all(&mut actions, None, rng);
                actions.push((ms(0), Action::Flaky(true)));
                let w = rng.range(1, 100) as u8;
                actions.push((
                    ms(2500),
                    Action::Command(pick(rng), Command::SetWeight { rule: 0, weight: w }),
                ));
                let r = pick(rng);
                actions.push((ms(4000), Action::Crash(r)));
                actions.push((ms(4300), Action::Boot(r)));
                actions.push((ms(6000), Action::Flaky(false)));
                ms(9000)
            }
            Scenario::Attack => {
                boot_all(&mut actions, None, rng);
                let r = pick(rng);
                actions.push((ms(3000), Action::Crash(r)));
                actions.push((ms(5000), Action::Boot(r)));
                ms(8000)
            }
            Scenario::HandOff => {
                boot_all(&mut actions, None, rng);
                let gap = |rng: &mut Rng| ms(rng.range(10, 400));
                actions.push((ms(2000), Action::HandOff(pick(rng), gap(rng))));
                let w = rng.range(1, 100) as u8;
                actions.push((
                    ms(2600),
                    Action::Command(pick(rng), Command::SetWeight { rule: 0, weight: w }),
                ));
                actions.push((ms(3500), Action::Flaky(true)));
                actions.push((ms(4000), Action::HandOff(pick(rng), gap(rng))));
                actions.push((ms(5500), Action::Flaky(false)));
                ms(9000)
            }
            Scenario::LongLived => {
                let joiner = pick(rng);
                boot_all(&mut actions, Some(joiner), rng);
                actions.push((ms(20_000), Action::Boot(joiner)));
                let w = rng.range(1, 100) as u8;
                actions.push((
                    ms(50_000),
                    Action::Command(pick(rng), Command::SetWeight { rule: 0, weight: w }),
                ));
                actions.push((
                    ms(80_000),
                    Action::HandOff(pick(rng), ms(rng.range(10, 300))),
                ));
                let h = pick(rng);
                drain_host = Some(h);
                actions.push((
                    ms(110_000),
                    Action::Command(h, Command::DrainStop { timeout: None }),
                ));
                ms(180_000)
            }
            Scenario::Pause => {
                boot_all(&mut actions, None, rng);
                actions.push((ms(3000), Action::Pause(pick(rng), ms(2000))));
                ms(9000)
            }
            Scenario::ClockStep => {
                boot_all(&mut actions, None, rng);
                let r = pick(rng);
                actions.push((ms(3000), Action::Crash(r)));
                actions.push((ms(3200), Action::StepClock(r, -3_600_000)));
                actions.push((ms(3300), Action::Boot(r)));
                ms(8000)
            }
            Scenario::Churn => {
                boot_all(&mut actions, None, rng);
                let mut t = ms(1500);
                let end = ms(15000);
                while t < end - ms(3000) {
                    let h = pick(rng);
                    let a = match rng.below(9) {
                        0 => Action::Crash(h),
                        1 => Action::Boot(h),
                        2 => Action::Command(h, Command::Stop),
                        3 => Action::Command(h, Command::Start),
                        4 => Action::Command(h, Command::DrainStop { timeout: None }),
                        5 => Action::Command(
                            h,
                            Command::SetWeight {
                                rule: 0,
                                weight: rng.range(1, 100) as u8,
                            },
                        ),
                        6 => Action::Command(h, Command::Drain(RuleSelector::Index(0))),
                        7 => Action::Command(h, Command::Enable(RuleSelector::All)),
                        _ => Action::Command(h, Command::Disable(RuleSelector::Index(1))),
                    };
                    actions.push((t, a));
                    t += ms(rng.range(600, 1400));
                }
                // Bring every host back for the quiet end: boot what crashed, start what stopped.
                for h in 0..hosts {
                    actions.push((end - ms(3000), Action::Boot(h)));
                    actions.push((end - ms(3000), Action::Command(h, Command::Start)));
                    actions.push((
                        end - ms(3000),
                        Action::Command(h, Command::Enable(RuleSelector::All)),
                    ));
                }
                end
            }
        };
        let quiet_from = match self {
            Scenario::Churn => end - ms(3000),
            Scenario::Flaky => ms(6000),
            Scenario::HandOff => ms(5500),
            Scenario::Partition => ms(5000),
            Scenario::Pause => ms(5000),
            _ => actions.iter().map(|(t, _)| *t).max().unwrap_or_default(),
        };
        Plan {
            actions,
            end,
            quiet_from,
            drain_host,
        }
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scenario {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scenario::ALL
            .iter()
            .find(|x| x.as_str() == s)
            .copied()
            .ok_or_else(|| {
                let names: Vec<&str> = Scenario::ALL.iter().map(|x| x.as_str()).collect();
                format!(
                    "`{s}` is not a scenario; expected one of {}",
                    names.join(", ")
                )
            })
    }
}

/// A scheduled action.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Action {
    Boot(usize),
    Crash(usize),
    /// The host's process hands off and its successor resumes after the gap.
    HandOff(usize, Duration),
    Command(usize, Command),
    /// The host's process freezes for the span; its data path runs on.
    Pause(usize, Duration),
    /// The host's wall clock moves by this many ms (negative: back).
    StepClock(usize, i64),
    Partition(Vec<usize>),
    Heal,
    Flaky(bool),
}

pub(crate) struct Plan {
    pub actions: Vec<(Duration, Action)>,
    pub end: Duration,
    /// From when the network and membership stay unchanged to the end.
    pub quiet_from: Duration,
    pub drain_host: Option<usize>,
}
