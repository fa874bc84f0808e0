//! Checks across the files of several hosts: what only shows when they are compared.

use super::{ClusterConfig, Config};
use crate::host::HostId;
use crate::key::KeyFingerprint;
use crate::rules::Filtering;
use std::fmt;
use std::path::{Path, PathBuf};

/// A problem that only shows when the files of several hosts are checked together.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClusterProblem {
    /// A file's cluster part differs from the first file's.
    DigestMismatch {
        /// The first file, the reference.
        reference: PathBuf,
        /// The differing file.
        file: PathBuf,
        /// Which fields differ.
        fields: Vec<String>,
    },
    /// Two files use one host id.
    DuplicateHostId {
        /// The id.
        id: HostId,
        /// The files.
        files: Vec<PathBuf>,
    },
    /// The hosts' key files hold different keys (the hosts could not authenticate
    /// each other's heartbeats). Told by fingerprints, which reveal nothing of a key.
    KeyMismatch {
        /// Each distinct key's fingerprint with the hosts that have it, the most
        /// common key first.
        keys: Vec<(KeyFingerprint, Vec<(HostId, PathBuf)>)>,
    },
    /// Two hosts have the same handling priority for a single-host rule.
    DuplicatePriority {
        /// The rule.
        rule: String,
        /// The priority.
        priority: u8,
        /// The hosts.
        hosts: Vec<HostId>,
    },
}

impl fmt::Display for ClusterProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClusterProblem::DigestMismatch { reference, file, fields } => write!(
                f,
                "{}: the [cluster] part differs from {} in: {}; every host needs an identical [cluster] part",
                file.display(),
                reference.display(),
                fields.join(", ")
            ),
            ClusterProblem::DuplicateHostId { id, files } => {
                let names: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
                write!(f, "host id {id} is used by {}; host ids must be unique", names.join(" and "))
            }
            ClusterProblem::KeyMismatch { keys } => {
                let groups: Vec<String> = keys
                    .iter()
                    .map(|(fp, hosts)| {
                        let ids: Vec<String> = hosts
                            .iter()
                            .map(|(h, p)| format!("{h} ({})", p.display()))
                            .collect();
                        let (noun, verb) = if hosts.len() == 1 { ("host", "has") } else { ("hosts", "have") };
                        format!("{noun} {} {verb} key fingerprint {fp}", ids.join(", "))
                    })
                    .collect();
                write!(f, "the hosts have different cluster keys: {}; they cannot authenticate each other's heartbeats: copy one key file to every host", groups.join("; "))
            }
            ClusterProblem::DuplicatePriority { rule, priority, hosts } => {
                let ids: Vec<String> = hosts.iter().map(|h| h.to_string()).collect();
                write!(f, "rule `{rule}`: hosts {} share handling priority {priority}; priorities of a single-host rule must be unique", ids.join(", "))
            }
        }
    }
}

/// Which fields of two cluster parts differ.
pub fn cluster_differences(a: &ClusterConfig, b: &ClusterConfig) -> Vec<String> {
    let mut d = Vec::new();
    let mut cmp = |name: &str, same: bool| {
        if !same {
            d.push(name.to_string());
        }
    };
    cmp("name", a.name == b.name);
    cmp("vip", a.vip == b.vip);
    cmp("extra_vips", a.extra_vips == b.extra_vips);
    cmp("mode", a.mode == b.mode);
    cmp(
        "heartbeat_period_ms",
        a.heartbeat_period_ms == b.heartbeat_period_ms,
    );
    cmp("loss_tolerance", a.loss_tolerance == b.loss_tolerance);
    cmp(
        "conn_idle_timeout_s",
        a.conn_idle_timeout_s == b.conn_idle_timeout_s,
    );
    cmp("hash_seed", a.hash_seed == b.hash_seed);
    cmp("table_size", a.table_size == b.table_size);
    if a.rules.len() != b.rules.len() {
        d.push(format!(
            "rule (count {} vs {})",
            a.rules.len(),
            b.rules.len()
        ));
    } else {
        for (i, (x, y)) in a.rules.iter().zip(&b.rules).enumerate() {
            if x != y {
                d.push(format!("rule[{}] ({} vs {})", i + 1, x, y));
            }
        }
    }
    d
}

/// Checks that several hosts have one cluster key, by the keys' fingerprints: at
/// most one [`ClusterProblem::KeyMismatch`].
pub fn check_keys(hosts: &[(&Config, KeyFingerprint)]) -> Vec<ClusterProblem> {
    let mut keys: Vec<(KeyFingerprint, Vec<(HostId, PathBuf)>)> = Vec::new();
    for (c, fp) in hosts {
        let host = (c.host.id, c.path.clone());
        match keys.iter_mut().find(|(k, _)| k == fp) {
            Some((_, hs)) => hs.push(host),
            None => keys.push((*fp, vec![host])),
        }
    }
    if keys.len() < 2 {
        return Vec::new();
    }
    // Most common first (stable: ties keep the order the files were given in).
    keys.sort_by_key(|(_, hs)| std::cmp::Reverse(hs.len()));
    vec![ClusterProblem::KeyMismatch { keys }]
}

/// Checks the files of several hosts as one cluster.
pub fn check_cluster(configs: &[Config]) -> Vec<ClusterProblem> {
    let mut problems = Vec::new();
    let Some(first) = configs.first() else {
        return problems;
    };
    for c in &configs[1..] {
        if c.cluster.digest() != first.cluster.digest() {
            problems.push(ClusterProblem::DigestMismatch {
                reference: first.path.clone(),
                file: c.path.clone(),
                fields: cluster_differences(&first.cluster, &c.cluster),
            });
        }
    }
    let mut ids: Vec<(HostId, &Path)> = configs
        .iter()
        .map(|c| (c.host.id, c.path.as_path()))
        .collect();
    ids.sort();
    for group in ids.chunk_by(|a, b| a.0 == b.0) {
        if group.len() > 1 {
            problems.push(ClusterProblem::DuplicateHostId {
                id: group[0].0,
                files: group.iter().map(|(_, p)| p.to_path_buf()).collect(),
            });
        }
    }
    for (i, rule) in first.cluster.rules.iter().enumerate() {
        if rule.filtering != Filtering::Single {
            continue;
        }
        let mut prios: Vec<(u8, HostId)> = configs
            .iter()
            .filter_map(|c| c.host.rules.get(i).map(|s| (s.priority, c.host.id)))
            .collect();
        prios.sort();
        for group in prios.chunk_by(|a, b| a.0 == b.0) {
            let mut hosts: Vec<HostId> = group.iter().map(|(_, h)| *h).collect();
            hosts.dedup();
            if hosts.len() > 1 {
                problems.push(ClusterProblem::DuplicatePriority {
                    rule: rule.name.clone(),
                    priority: group[0].0,
                    hosts,
                });
            }
        }
    }
    problems
}
