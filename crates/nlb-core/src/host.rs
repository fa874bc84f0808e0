//! Per-host settings: the host id and what each host contributes to each rule.

use std::fmt;
use std::str::FromStr;

/// A host's id (Windows: host priority), 1..=255, unique in the cluster.
/// The live host with the lowest id is the default host.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct HostId(pub u8);

impl HostId {
    /// The id as a number.
    pub fn get(self) -> u8 {
        self.0
    }
}

impl fmt::Display for HostId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A host's load weight for a multiple-host rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LoadWeight {
    /// Windows' "equal load distribution": the same as weight 50.
    Equal,
    /// 0..=100; 0 takes no new flows of the rule.
    Weight(u8),
}

impl LoadWeight {
    /// The weight `Equal` stands for.
    pub const EQUAL_VALUE: u8 = 50;

    /// The numeric weight (Equal counts as 50).
    pub fn value(&self) -> u8 {
        match self {
            LoadWeight::Equal => Self::EQUAL_VALUE,
            LoadWeight::Weight(w) => *w,
        }
    }
}

impl fmt::Display for LoadWeight {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadWeight::Equal => f.write_str("equal"),
            LoadWeight::Weight(w) => write!(f, "{w}"),
        }
    }
}

/// What a host contributes to one rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct HostRuleSettings {
    /// Load weight for multiple-host rules.
    pub weight: LoadWeight,
    /// Handling priority for single-host rules: the lowest live one takes the traffic.
    pub priority: u8,
}

/// The state a host enters when nlbd starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum InitialState {
    /// Joins the cluster and takes traffic.
    Started,
    /// Takes no traffic until started.
    Stopped,
    /// Ignores every control command except resume.
    Suspended,
}

impl InitialState {
    /// Configuration spelling.
    pub fn as_str(&self) -> &'static str {
        match self {
            InitialState::Started => "started",
            InitialState::Stopped => "stopped",
            InitialState::Suspended => "suspended",
        }
    }
}

impl FromStr for InitialState {
    type Err = &'static str;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "started" => Ok(InitialState::Started),
            "stopped" => Ok(InitialState::Stopped),
            "suspended" => Ok(InitialState::Suspended),
            _ => Err("one of started, stopped, suspended"),
        }
    }
}
