//! What an operator set on a host that must survive a restart of nlbd or of the host
//! (Windows NLB's "retain suspended state", for every such setting): a stopped or
//! suspended host, disabled and drained rules. nlbd saves it whenever it changes and
//! applies it at start, over the configuration's initial `state`.

use crate::config::ClusterConfig;
use crate::convergence::{Command, Node, RuleMode, RuleSelector};
use crate::wire::WireState;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The host's part of it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HostSetting {
    /// Taking part (or trying to).
    #[default]
    Started,
    /// Stopped, by `stop` or a finished (or interrupted) `drainstop`.
    Stopped,
    /// Suspended: only `resume` is accepted.
    Suspended,
}

/// A rule's part of it: only rules an operator took out are kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleSetting {
    /// `disable`: its traffic dropped.
    Disabled,
    /// `drain`: no new flows.
    Draining,
}

/// What is kept, for one host of one cluster.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperatorState {
    /// The host.
    pub host: HostSetting,
    /// Rules taken out, by name.
    #[serde(default)]
    pub rules: BTreeMap<String, RuleSetting>,
}

impl OperatorState {
    /// What `node` holds now.
    pub fn of(node: &Node) -> Self {
        let host = match node.state() {
            WireState::Stopped | WireState::Draining => HostSetting::Stopped,
            WireState::Suspended => HostSetting::Suspended,
            _ => HostSetting::Started,
        };
        let rules = node
            .cluster()
            .rules
            .iter()
            .zip(node.rule_modes())
            .filter_map(|(rule, mode)| {
                let setting = match mode {
                    RuleMode::Enabled => return None,
                    RuleMode::Disabled => RuleSetting::Disabled,
                    RuleMode::Draining => RuleSetting::Draining,
                };
                Some((rule.name.clone(), setting))
            })
            .collect();
        OperatorState { host, rules }
    }

    /// Whether there is anything to keep (a started host with every rule enabled is
    /// what the configuration says anyway).
    pub fn is_default(&self) -> bool {
        *self == OperatorState::default()
    }

    /// The commands that bring a freshly started node to this state for `cluster`,
    /// and the names of kept rules the cluster no longer has.
    pub fn commands(&self, cluster: &ClusterConfig) -> (Vec<Command>, Vec<String>) {
        let mut commands = Vec::new();
        let mut gone = Vec::new();
        // Rules first: a suspended host takes no other command.
        for (name, setting) in &self.rules {
            match cluster.rules.iter().position(|r| &r.name == name) {
                Some(i) => commands.push(match setting {
                    RuleSetting::Disabled => Command::Disable(RuleSelector::Index(i)),
                    RuleSetting::Draining => Command::Drain(RuleSelector::Index(i)),
                }),
                None => gone.push(name.clone()),
            }
        }
        match self.host {
            HostSetting::Started => {}
            HostSetting::Stopped => commands.push(Command::Stop),
            HostSetting::Suspended => commands.push(Command::Suspend),
        }
        (commands, gone)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_json_and_orders_rules_before_the_host() {
        let s = OperatorState {
            host: HostSetting::Suspended,
            rules: [
                ("web".to_string(), RuleSetting::Disabled),
                ("dns".to_string(), RuleSetting::Draining),
            ]
            .into(),
        };
        let text = serde_json::to_string(&s).unwrap();
        assert_eq!(serde_json::from_str::<OperatorState>(&text).unwrap(), s);
        let config = crate::config::Config::parse(
            std::path::Path::new("t.toml"),
            "[cluster]\nname = \"t\"\nvip = \"198.51.100.10\"\nkey_file = \"k\"\n\
             [[cluster.rule]]\nname = \"web\"\nports = 80\n\
             [[cluster.rule]]\nname = \"ssh\"\nports = 22\n\
             [host]\nid = 1\ninterface = \"eth0\"\n",
        )
        .unwrap();
        let (commands, gone) = s.commands(&config.cluster);
        assert_eq!(
            commands,
            [Command::Disable(RuleSelector::Index(0)), Command::Suspend]
        );
        assert_eq!(gone, ["dns"]);
        assert!(OperatorState::default().is_default());
        assert!(!s.is_default());
    }
}
