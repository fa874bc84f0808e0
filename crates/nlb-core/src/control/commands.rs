//! From requests to the state machine's commands: the rules a target names, and what
//! a reload of the configuration changes.

use super::Target;
use crate::config::{cluster_differences, Config};
use crate::convergence::{Command, RuleSelector};
use crate::rules::{Filtering, RuleVip};
use std::net::IpAddr;

/// The rules a target names, as the state machine's selector; an error names the
/// target and the rules there are.
pub fn select(config: &Config, target: Target) -> Result<RuleSelector, String> {
    match target {
        Target::All => Ok(RuleSelector::All),
        Target::Port { vip, port } => rule_for_port(config, vip, port)?
            .map(RuleSelector::Index)
            .ok_or_else(|| {
                format!(
                    "no port rule covers {target}; the rules are: {}",
                    rule_list(config)
                )
            }),
    }
}

/// The index of the rule covering `port` of `vip` (any VIP when None: a rule for all
/// VIPs, else the only rule covering the port). `Ok(None)`: no rule covers it.
pub fn rule_for_port(
    config: &Config,
    vip: Option<IpAddr>,
    port: u16,
) -> Result<Option<usize>, String> {
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
            return Err(format!(
                "{v} is not a VIP of cluster `{}`",
                config.cluster.name
            ));
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
        several => Err(format!(
            "port {port} is covered by {} rules ({}); name the VIP as VIP:{port}",
            several.len(),
            several
                .iter()
                .map(|i| rules[*i].name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

fn rule_list(config: &Config) -> String {
    config
        .cluster
        .rules
        .iter()
        .map(|r| format!("{} ({} {})", r.name, r.vip, r.ports_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The commands that take a host running `old` to `new` without a restart, with a
/// line for each change; or why that is not safe.
pub fn reload_plan(old: &Config, new: &Config) -> Result<(Vec<Command>, Vec<String>), String> {
    let differences = cluster_differences(&old.cluster, &new.cluster);
    if !differences.is_empty() {
        return Err(format!(
            "the [cluster] part changed ({}): every host must run the same one, so change \
             it on every host and restart them",
            differences.join("; ")
        ));
    }
    if old.cluster.key_file != new.cluster.key_file {
        return Err("key_file changed; restart nlbd to use the new key".into());
    }
    let restart = |what: &str| Err(format!("{what} changed; that needs a restart of nlbd"));
    if old.host.id != new.host.id {
        return restart("the host id");
    }
    if old.host.interface != new.host.interface {
        return restart("the interface");
    }
    if old.host.address != new.host.address {
        return restart("the host address");
    }
    let mut commands = Vec::new();
    let mut changes = Vec::new();
    for (i, (a, b)) in old.host.rules.iter().zip(&new.host.rules).enumerate() {
        let name = &old.cluster.rules[i].name;
        if a.priority != b.priority && old.cluster.rules[i].filtering == Filtering::Single {
            return Err(format!(
                "the handling priority of rule `{name}` changed ({} -> {}); that needs a \
                 restart of nlbd",
                a.priority, b.priority
            ));
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
        assert!(e.contains("handling priority of rule `ssh`"), "{e}");

        let text = HOST.replace("80-443", "80-444");
        let other = Config::parse(std::path::Path::new("h.toml"), &text).unwrap();
        let e = reload_plan(&old, &other).unwrap_err();
        assert!(e.contains("[cluster] part changed"), "{e}");

        let text = HOST.replace("id = 1", "id = 2");
        let other = Config::parse(std::path::Path::new("h.toml"), &text).unwrap();
        assert!(reload_plan(&old, &other).unwrap_err().contains("host id"));
    }

    #[test]
    fn ports_name_rules() {
        let c = config("");
        let vip: IpAddr = "198.51.100.11".parse().unwrap();
        assert_eq!(rule_for_port(&c, None, 80), Ok(Some(0)));
        assert_eq!(rule_for_port(&c, Some(vip), 22), Ok(Some(1)));
        assert_eq!(rule_for_port(&c, None, 8), Ok(None));
        assert!(rule_for_port(&c, Some("203.0.113.1".parse().unwrap()), 80)
            .unwrap_err()
            .contains("not a VIP"));
        assert_eq!(select(&c, Target::All), Ok(RuleSelector::All));
        let e = select(&c, "8".parse().unwrap()).unwrap_err();
        assert!(e.contains("no port rule covers 8"), "{e}");
    }
}
