//! From requests to the state machine's commands: the rules a target names, and what
//! a reload of the configuration changes.

use super::Target;
use crate::config::{cluster_differences, Config};
use crate::convergence::{Command, RuleSelector};
use crate::rules::{Filtering, PortRule, RuleVip};
use std::net::IpAddr;

/// Why a target or a port names no one rule. The messages name what was asked and
/// what there is, for an operator to read in `nlb`'s error.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RuleLookupError {
    /// The VIP named is not one of the cluster's.
    #[error("{vip} is not a VIP of cluster `{cluster}`")]
    NotAVip {
        /// The VIP named.
        vip: IpAddr,
        /// The cluster's name.
        cluster: String,
    },
    /// No VIP was named and several rules cover the port.
    #[error(
        "port {port} is covered by {} rules ({}); name the VIP as VIP:{port}",
        .rules.len(),
        .rules.join(", ")
    )]
    Ambiguous {
        /// The port.
        port: u16,
        /// The names of the rules that cover it.
        rules: Vec<String>,
    },
    /// No rule covers the target ([`select`] only: [`rule_for_port`] answers `None`).
    #[error("no port rule covers {target}; the rules are: {}", rule_list(.rules))]
    NoRule {
        /// The target.
        target: Target,
        /// The cluster's rules.
        rules: Vec<PortRule>,
    },
}

/// Why a reload is refused: the new configuration differs in what only a restart of
/// nlbd (or of every host) can change. Nothing is changed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReloadError {
    /// The cluster part differs: every host must run the same one.
    #[error(
        "the [cluster] part changed ({}): every host must run the same one, so change \
         it on every host and restart them",
        .0.join("; ")
    )]
    ClusterChanged(
        /// What differs, as [`cluster_differences`] names it.
        Vec<String>,
    ),
    /// The key file's path changed.
    #[error("key_file changed; restart nlbd to use the new key")]
    KeyFileChanged,
    /// The host id changed.
    #[error("the host id changed; that needs a restart of nlbd")]
    HostIdChanged,
    /// The cluster interface changed.
    #[error("the interface changed; that needs a restart of nlbd")]
    InterfaceChanged,
    /// The host's dedicated address changed.
    #[error("the host address changed; that needs a restart of nlbd")]
    AddressChanged,
    /// A single-host rule's handling priority changed.
    #[error(
        "the handling priority of rule `{rule}` changed ({old} -> {new}); that needs a \
         restart of nlbd"
    )]
    PriorityChanged {
        /// The rule's name.
        rule: String,
        /// The priority it had.
        old: u8,
        /// The priority it would have.
        new: u8,
    },
}

/// The rules a target names, as the state machine's selector; an error names the
/// target and the rules there are.
pub fn select(config: &Config, target: Target) -> Result<RuleSelector, RuleLookupError> {
    match target {
        Target::All => Ok(RuleSelector::All),
        Target::Port { vip, port } => rule_for_port(config, vip, port)?
            .map(RuleSelector::Index)
            .ok_or_else(|| RuleLookupError::NoRule {
                target,
                rules: config.cluster.rules.clone(),
            }),
    }
}

/// The index of the rule covering `port` of `vip` (any VIP when None: a rule for all
/// VIPs, else the only rule covering the port). `Ok(None)`: no rule covers it.
pub fn rule_for_port(
    config: &Config,
    vip: Option<IpAddr>,
    port: u16,
) -> Result<Option<usize>, RuleLookupError> {
    let rules = &config.cluster.rules;
    let covers = |i: &usize| {
        let r = &rules[*i];
        (r.port_start..=r.port_end).contains(&port)
            && match (vip, r.vip) {
                (Some(v), RuleVip::Addr(a)) => v == a,
                _ => true,
            }
    };
    let hits: Vec<usize> = (0..rules.len()).filter(covers).collect();
    if let Some(v) = vip {
        if !config.cluster.is_vip(v) {
            return Err(RuleLookupError::NotAVip {
                vip: v,
                cluster: config.cluster.name.clone(),
            });
        }
        // A rule naming the VIP wins over an `all` rule, as in the data path.
        return Ok(hits
            .iter()
            .copied()
            .find(|i| matches!(rules[*i].vip, RuleVip::Addr(_)))
            .or(hits.first().copied()));
    }
    match hits.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(*one)),
        several => Err(RuleLookupError::Ambiguous {
            port,
            rules: several.iter().map(|i| rules[*i].name.clone()).collect(),
        }),
    }
}

/// The rules as `NAME (VIP PORTS)`, for [`RuleLookupError::NoRule`]'s message.
fn rule_list(rules: &[PortRule]) -> String {
    rules
        .iter()
        .map(|r| format!("{} ({} {})", r.name, r.vip, r.ports_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The commands that take a host running `old` to `new` without a restart, with a
/// line for each change; or why that is not safe.
pub fn reload_plan(old: &Config, new: &Config) -> Result<(Vec<Command>, Vec<String>), ReloadError> {
    let differences = cluster_differences(&old.cluster, &new.cluster);
    if !differences.is_empty() {
        return Err(ReloadError::ClusterChanged(differences));
    }
    if old.cluster.key_file != new.cluster.key_file {
        return Err(ReloadError::KeyFileChanged);
    }
    if old.host.id != new.host.id {
        return Err(ReloadError::HostIdChanged);
    }
    if old.host.interface != new.host.interface {
        return Err(ReloadError::InterfaceChanged);
    }
    if old.host.address != new.host.address {
        return Err(ReloadError::AddressChanged);
    }
    let mut commands = Vec::new();
    let mut changes = Vec::new();
    for (i, (a, b)) in old.host.rules.iter().zip(&new.host.rules).enumerate() {
        let name = &old.cluster.rules[i].name;
        if a.priority != b.priority && old.cluster.rules[i].filtering == Filtering::Single {
            return Err(ReloadError::PriorityChanged {
                rule: name.clone(),
                old: a.priority,
                new: b.priority,
            });
        }
        if a.weight.value() != b.weight.value() {
            commands.push(Command::SetWeight {
                rule: i,
                weight: b.weight.value(),
            });
            changes.push(format!(
                "rule `{name}`: load weight {} -> {}",
                a.weight, b.weight
            ));
        }
    }
    if old.host.state != new.host.state {
        changes.push(format!(
            "initial state {} -> {} (applies at the next start)",
            old.host.state.as_str(),
            new.host.state.as_str()
        ));
    }
    Ok((commands, changes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::testing::{config, HOST};

    #[test]
    fn reload_applies_weights_and_refuses_what_needs_a_restart() {
        let old = config("");
        let weighted = config("[host.rule.http]\nweight = 80\n");
        let (commands, changes) = reload_plan(&old, &weighted).unwrap();
        assert_eq!(
            commands,
            vec![Command::SetWeight {
                rule: 0,
                weight: 80
            }]
        );
        assert_eq!(changes, vec!["rule `http`: load weight equal -> 80"]);
        assert_eq!(reload_plan(&old, &old).unwrap(), (vec![], vec![]));

        let prio = config("[host.rule.ssh]\npriority = 7\n");
        let e = reload_plan(&old, &prio).unwrap_err();
        assert_eq!(
            e,
            ReloadError::PriorityChanged {
                rule: "ssh".into(),
                old: 1,
                new: 7
            }
        );
        assert_eq!(
            e.to_string(),
            "the handling priority of rule `ssh` changed (1 -> 7); that needs a restart of nlbd"
        );

        let text = HOST.replace("80-443", "80-444");
        let other = Config::parse(std::path::Path::new("h.toml"), &text).unwrap();
        let e = reload_plan(&old, &other).unwrap_err();
        let fields = cluster_differences(&old.cluster, &other.cluster);
        assert_eq!(e, ReloadError::ClusterChanged(fields.clone()));
        assert_eq!(
            e.to_string(),
            format!(
                "the [cluster] part changed ({}): every host must run the same one, so \
                 change it on every host and restart them",
                fields.join("; ")
            )
        );

        let text = HOST.replace("id = 1", "id = 2");
        let other = Config::parse(std::path::Path::new("h.toml"), &text).unwrap();
        let e = reload_plan(&old, &other).unwrap_err();
        assert_eq!(e, ReloadError::HostIdChanged);
        assert_eq!(
            e.to_string(),
            "the host id changed; that needs a restart of nlbd"
        );
    }

    #[test]
    fn ports_name_rules() {
        let c = config("");
        let vip: IpAddr = "198.51.100.11".parse().unwrap();
        assert_eq!(rule_for_port(&c, None, 80), Ok(Some(0)));
        assert_eq!(rule_for_port(&c, Some(vip), 22), Ok(Some(1)));
        assert_eq!(rule_for_port(&c, None, 8), Ok(None));
        let e = rule_for_port(&c, Some("203.0.113.1".parse().unwrap()), 80).unwrap_err();
        assert!(matches!(e, RuleLookupError::NotAVip { .. }));
        assert_eq!(e.to_string(), "203.0.113.1 is not a VIP of cluster `web`");
        assert_eq!(select(&c, Target::All), Ok(RuleSelector::All));
        let e = select(&c, "8".parse().unwrap()).unwrap_err();
        assert!(matches!(e, RuleLookupError::NoRule { .. }));
        assert_eq!(
            e.to_string(),
            "no port rule covers 8; the rules are: http (all 80-443), ssh (all 22)"
        );
        // A rule for one VIP beside a rule for all of them: port 80 alone is ambiguous.
        let two = config("[[cluster.rule]]\nname = \"alt\"\nvip = \"198.51.100.11\"\nports = 80\n");
        let e = rule_for_port(&two, None, 80).unwrap_err();
        assert_eq!(
            e,
            RuleLookupError::Ambiguous {
                port: 80,
                rules: vec!["http".into(), "alt".into()]
            }
        );
        assert_eq!(
            e.to_string(),
            "port 80 is covered by 2 rules (http, alt); name the VIP as VIP:80"
        );
        assert_eq!(rule_for_port(&two, Some(vip), 80), Ok(Some(2)));
    }
}
