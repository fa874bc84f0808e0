//! What travels on the control socket: requests, replies in their versioned envelope,
//! and rule targets.

use super::{Params, RuleStatus, Status};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// The version of this protocol; every reply's [`Envelope`] carries it, and `nlb`
/// refuses a reply of another version rather than misread it.
pub const PROTOCOL_VERSION: u32 = 2;

/// The abstract socket name (without the leading NUL) of the nlbd on `interface`.
pub fn socket_name(interface: &str) -> String {
    format!("nlb/{interface}")
}

/// A request, as nlb.exe names its verbs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Request {
    /// The host's state, the cluster's members, rules, counters.
    Query,
    /// The configuration the host runs with.
    Params,
    /// Join the cluster.
    Start,
    /// Leave at once; connections break.
    Stop,
    /// Take no new flows, finish connections, then stop.
    DrainStop {
        /// Stop after this many seconds even if connections remain (they break); absent:
        /// wait for the last connection however long it lives, as Windows NLB does.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timeout_s: Option<u64>,
    },
    /// Stop and ignore every command but resume.
    Suspend,
    /// Accept commands again (the host stays stopped).
    Resume,
    /// Take part in the rules again.
    Enable {
        /// Which rules.
        target: Target,
    },
    /// Drop all traffic of the rules.
    Disable {
        /// Which rules.
        target: Target,
    },
    /// Take no new flows of the rules; finish connections.
    Drain {
        /// Which rules.
        target: Target,
    },
    /// The state of the rule covering one VIP and port.
    QueryPort {
        /// The VIP (None: the cluster's primary VIP).
        vip: Option<IpAddr>,
        /// The port.
        port: u16,
    },
    /// Re-read the configuration file and apply what can change without a restart.
    Reload,
    /// Exit for an upgrade, leaving the data path running for a successor started
    /// within the loss window to adopt.
    HandOff,
}

impl Request {
    /// What nlb.exe says once the request is done.
    pub fn done_message(&self) -> String {
        match self {
            Request::Query | Request::Params | Request::QueryPort { .. } => String::new(),
            Request::Start => "Cluster operations started.".into(),
            Request::Stop => "Cluster operations stopped.".into(),
            Request::DrainStop { timeout_s: None } => {
                "Connection draining started; the host stops after its last connection closes."
                    .into()
            }
            Request::DrainStop { timeout_s: Some(t) } => format!(
                "Connection draining started; the host stops after its last connection \
                 closes, or in {t} s with the connections left."
            ),
            Request::Suspend => "Cluster operations suspended.".into(),
            Request::Resume => "Cluster operations resumed.".into(),
            Request::Enable { target } => {
                format!("Traffic handling for port rule(s) {target} enabled.")
            }
            Request::Disable { target } => {
                format!("Traffic handling for port rule(s) {target} disabled.")
            }
            Request::Drain { target } => {
                format!(
                    "New traffic handling for port rule(s) {target} disabled; connections drain."
                )
            }
            Request::Reload => "Configuration reloaded.".into(),
            Request::HandOff => "Handed off: the data path runs on; start the new nlbd \
                                 within the loss window (heartbeat period x loss tolerance)."
                .into(),
        }
    }
}

/// Which rules a per-rule command applies to: `all`, `PORT`, `VIP:PORT` or
/// `[IPv6 VIP]:PORT`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Target {
    /// Every rule.
    All,
    /// The rule covering this port (of this VIP, or of any VIP).
    Port {
        /// The VIP, if named.
        vip: Option<IpAddr>,
        /// The port.
        port: u16,
    },
}

/// A string that names no rule target (see [`Target`]); it carries the string.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParseTargetError {
    /// Not `all`, `PORT`, `VIP:PORT` or `[IPv6 VIP]:PORT`.
    #[error("`{0}` is not a rule target; use all, PORT, VIP:PORT or [IPv6 VIP]:PORT")]
    Invalid(String),
    /// An IPv6 VIP without brackets: its colons and the port's cannot be told apart.
    #[error("`{0}`: write an IPv6 VIP in brackets, as in [2001:db8::10]:80")]
    Unbracketed(String),
}

impl FromStr for Target {
    type Err = ParseTargetError;
    fn from_str(s: &str) -> Result<Self, ParseTargetError> {
        let bad = || ParseTargetError::Invalid(s.to_string());
        if s == "all" {
            return Ok(Target::All);
        }
        let (vip, port) = if let Some(rest) = s.strip_prefix('[') {
            // [IPv6]:PORT
            let (v, p) = rest.split_once("]:").ok_or_else(bad)?;
            let vip = v.parse::<std::net::Ipv6Addr>().map_err(|_| bad())?;
            (Some(IpAddr::V6(vip)), p)
        } else if s.matches(':').count() > 1 {
            return Err(ParseTargetError::Unbracketed(s.to_string()));
        } else {
            match s.split_once(':') {
                Some(("all", p)) => (None, p),
                Some((v, p)) => (Some(v.parse::<IpAddr>().map_err(|_| bad())?), p),
                None => (None, s),
            }
        };
        let port = port.parse().map_err(|_| bad())?;
        Ok(Target::Port { vip, port })
    }
}

impl TryFrom<String> for Target {
    type Error = ParseTargetError;
    fn try_from(s: String) -> Result<Self, ParseTargetError> {
        s.parse()
    }
}

impl From<Target> for String {
    fn from(t: Target) -> String {
        t.to_string()
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::All => f.write_str("all"),
            Target::Port { vip: None, port } => write!(f, "{port}"),
            Target::Port {
                vip: Some(IpAddr::V4(v)),
                port,
            } => write!(f, "{v}:{port}"),
            Target::Port {
                vip: Some(IpAddr::V6(v)),
                port,
            } => write!(f, "[{v}]:{port}"),
        }
    }
}

/// nlbd's answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub enum Reply {
    /// The host's state (also the answer to every command that changes it).
    Status {
        /// What the command did, if it was one.
        message: Option<String>,
        /// The state after it.
        status: Box<Status>,
    },
    /// The configuration.
    Params {
        /// The parameters.
        params: Box<Params>,
    },
    /// One rule.
    Port {
        /// The rule's index (None: no rule covers the port; the default host's traffic).
        index: Option<usize>,
        /// The rule.
        rule: RuleStatus,
    },
    /// The request was refused or failed.
    Error {
        /// Why.
        message: String,
    },
}

impl Reply {
    /// An error reply.
    pub fn error(message: impl Into<String>) -> Self {
        Reply::Error {
            message: message.into(),
        }
    }
}

/// A reply as it travels: the protocol version, then the reply's own fields.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    /// The sender's [`PROTOCOL_VERSION`].
    pub version: u32,
    /// The reply.
    #[serde(flatten)]
    pub reply: Reply,
}

impl Envelope {
    /// A reply of this version of the protocol.
    pub fn new(reply: Reply) -> Self {
        Envelope {
            version: PROTOCOL_VERSION,
            reply,
        }
    }

    /// The reply, if it speaks this version of the protocol.
    pub fn open(self) -> Result<Reply, VersionMismatch> {
        if self.version != PROTOCOL_VERSION {
            return Err(VersionMismatch(self.version));
        }
        Ok(self.reply)
    }
}

/// A reply of another version of the protocol than this build's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "nlbd speaks control protocol version {0}, this nlb speaks {PROTOCOL_VERSION}: run the nlb \
     that came with this nlbd"
)]
pub struct VersionMismatch(pub u32);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_and_print() {
        for s in ["all", "80", "198.51.100.10:443", "[2001:db8::1]:80"] {
            let t: Target = s.parse().unwrap();
            assert_eq!(t.to_string(), s);
        }
        assert_eq!(
            "all:80".parse::<Target>().unwrap(),
            Target::Port {
                vip: None,
                port: 80
            }
        );
        for bad in [
            "",
            "x",
            "70000",
            "1.2.3:80",
            "all:",
            "[2001:db8::1]",
            "[1.2.3.4]:80",
        ] {
            assert_eq!(
                bad.parse::<Target>(),
                Err(ParseTargetError::Invalid(bad.to_string())),
                "{bad}"
            );
        }
        assert_eq!(
            "x".parse::<Target>().unwrap_err().to_string(),
            "`x` is not a rule target; use all, PORT, VIP:PORT or [IPv6 VIP]:PORT"
        );
        // Without brackets, an IPv6 VIP's colons and the port's are one list.
        let e = "2001:db8::1:80".parse::<Target>().unwrap_err();
        assert_eq!(e, ParseTargetError::Unbracketed("2001:db8::1:80".into()));
        assert!(e.to_string().contains("[2001:db8::10]:80"), "{e}");
    }

    #[test]
    fn requests_are_json_lines() {
        let r = Request::Drain {
            target: Target::Port {
                vip: None,
                port: 80,
            },
        };
        let s = serde_json::to_string(&r).unwrap();
        assert_eq!(s, r#"{"command":"drain","target":"80"}"#);
        assert_eq!(serde_json::from_str::<Request>(&s).unwrap(), r);
        assert!(serde_json::from_str::<Request>(r#"{"command":"drain","target":"x"}"#).is_err());
        assert_eq!(
            serde_json::to_string(&Request::DrainStop { timeout_s: None }).unwrap(),
            r#"{"command":"drain_stop"}"#
        );
    }
}
