//! Flow classification: which live host owns a flow.
//!
//! Find the rule (a rule naming the VIP wins over an `all` rule); a disabled rule has
//! no owner; a single-host rule belongs to the live host with the lowest handling
//! priority; a multiple-host rule hashes the affinity's inputs into the rule's
//! ownership table. Traffic no rule covers goes to the default host: the live host
//! with the lowest id.

use crate::config::ClusterConfig;
use crate::hash::{flow_hash, slot_of, HashInput};
use crate::host::{HostId, HostRuleSettings};
use crate::rules::{find_rule, Filtering, Transport};
use crate::table::{OwnershipTable, Participant};
use std::net::IpAddr;

/// A flow as the data path sees its first packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Flow {
    /// The VIP it is addressed to.
    pub vip: IpAddr,
    /// Its transport protocol.
    pub transport: Transport,
    /// The client's address.
    pub client: IpAddr,
    /// The client's port (0 for protocols without ports).
    pub client_port: u16,
    /// The server port on the VIP (0 for protocols without ports).
    pub server_port: u16,
}

/// How a live host takes part in one rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Participation {
    /// Load weight for a multiple-host rule; 0 takes no slots.
    pub weight: u8,
    /// Handling priority for a single-host rule.
    pub priority: u8,
    /// False when the host must not handle the rule at all (rule drained or
    /// disabled, host draining): it is then skipped for single-host rules.
    pub eligible: bool,
}

impl From<HostRuleSettings> for Participation {
    fn from(s: HostRuleSettings) -> Self {
        Participation {
            weight: s.weight.value(),
            priority: s.priority,
            eligible: true,
        }
    }
}

/// A live host and how it takes part in every rule, as the heartbeats advertise it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveHost {
    /// The host.
    pub id: HostId,
    /// Its participation, parallel to the cluster's rules.
    pub rules: Vec<Participation>,
    /// False for a draining host: it cannot be the default host.
    pub default_eligible: bool,
}

impl LiveHost {
    /// A fully participating host with its configured settings.
    pub fn from_settings(id: HostId, settings: &[HostRuleSettings]) -> Self {
        LiveHost {
            id,
            rules: settings.iter().map(|&s| s.into()).collect(),
            default_eligible: true,
        }
    }
}

/// Who owns a rule's traffic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RuleOwnership {
    /// Multiple-host rule: the table decides per flow.
    Multiple(OwnershipTable),
    /// Single-host rule: this host (none when no host is live).
    Single(Option<HostId>),
    /// Disabled rule: nobody.
    Disabled,
}

/// The outcome of classifying one flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The destination is not a VIP of the cluster: not ours to filter.
    NotClusterTraffic,
    /// No rule covers the flow: the default host owns it.
    Default {
        /// The default host, if any host is live.
        owner: Option<HostId>,
    },
    /// A disabled rule covers it: every host drops it.
    Disabled {
        /// Index of the rule.
        rule: usize,
    },
    /// A single-host rule covers it.
    Single {
        /// Index of the rule.
        rule: usize,
        /// The live host with the lowest handling priority.
        owner: Option<HostId>,
    },
    /// A multiple-host rule covers it.
    Multiple {
        /// Index of the rule.
        rule: usize,
        /// The flow's slot in the rule's table.
        slot: u32,
        /// The slot's owner.
        owner: Option<HostId>,
    },
}

impl Verdict {
    /// The host that owns the flow, if any.
    pub fn owner(&self) -> Option<HostId> {
        match *self {
            Verdict::Default { owner }
            | Verdict::Single { owner, .. }
            | Verdict::Multiple { owner, .. } => owner,
            Verdict::NotClusterTraffic | Verdict::Disabled { .. } => None,
        }
    }
}

/// Who owns what, for one set of live hosts: computed identically on every host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ownership {
    /// Per rule, parallel to the cluster's rules.
    pub rules: Vec<RuleOwnership>,
    /// The default host: the live host with the lowest id.
    pub default_host: Option<HostId>,
}

impl Ownership {
    /// Computes ownership of every rule for the live hosts.
    pub fn build(cluster: &ClusterConfig, live: &[LiveHost]) -> Self {
        let rules = cluster
            .rules
            .iter()
            .enumerate()
            .map(|(i, rule)| match rule.filtering {
                Filtering::Disabled => RuleOwnership::Disabled,
                Filtering::Single => RuleOwnership::Single(
                    live.iter()
                        .filter_map(|h| {
                            h.rules
                                .get(i)
                                .filter(|p| p.eligible)
                                .map(|p| (p.priority, h.id))
                        })
                        .min()
                        .map(|(_, id)| id),
                ),
                Filtering::Multiple => {
                    let participants: Vec<Participant> = live
                        .iter()
                        .filter_map(|h| {
                            h.rules.get(i).filter(|p| p.eligible).map(|p| Participant {
                                host: h.id,
                                weight: p.weight,
                            })
                        })
                        .collect();
                    RuleOwnership::Multiple(OwnershipTable::build(
                        cluster.table_size,
                        cluster.hash_seed,
                        rule.identity(),
                        &participants,
                    ))
                }
            })
            .collect();
        Ownership {
            rules,
            default_host: live
                .iter()
                .filter(|h| h.default_eligible)
                .map(|h| h.id)
                .min(),
        }
    }

    /// Classifies a flow.
    pub fn classify(&self, cluster: &ClusterConfig, flow: &Flow) -> Verdict {
        let Some((rule, slot)) = locate(cluster, flow) else {
            return Verdict::NotClusterTraffic;
        };
        match self.rules.get(rule) {
            None => Verdict::Default {
                owner: self.default_host,
            },
            Some(RuleOwnership::Disabled) => Verdict::Disabled { rule },
            Some(RuleOwnership::Single(owner)) => Verdict::Single {
                rule,
                owner: *owner,
            },
            Some(RuleOwnership::Multiple(table)) => Verdict::Multiple {
                rule,
                slot,
                owner: table.owner(slot),
            },
        }
    }
}

/// Where a flow lands, whoever owns it: the covering rule's index and the flow's slot
/// in it, indexed as the data path indexes its tables (a rule count of rules stands for
/// traffic no rule covers; single-host and disabled rules have one slot, 0). `None`
/// when the flow is not addressed to a VIP of the cluster.
pub fn locate(cluster: &ClusterConfig, flow: &Flow) -> Option<(usize, u32)> {
    if !cluster.is_vip(flow.vip) {
        return None;
    }
    let Some(i) = find_rule(&cluster.rules, flow.vip, flow.transport, flow.server_port) else {
        return Some((cluster.rules.len(), 0));
    };
    let rule = &cluster.rules[i];
    if rule.filtering != Filtering::Multiple {
        return Some((i, 0));
    }
    let input = HashInput::new(rule.affinity, flow.client, flow.client_port);
    Some((
        i,
        slot_of(flow_hash(cluster.hash_seed, &input), cluster.table_size),
    ))
}
