//! Host configuration files: one TOML file per host, with a `[cluster]` part that
//! must be identical on every host and a `[host]` part of its own.
//!
//! ```toml
//! [cluster]
//! name = "web"
//! vip = "198.51.100.10"
//! key_file = "web.key"
//!
//! [host]
//! id = 1
//! interface = "eth0"
//! ```
//!
//! Every error names the file, line, column and field, the bad value and what is
//! allowed; all errors of a file are reported at once. [`Config::load_with_key`] also
//! judges the key file (see [`crate::key`]): together they refuse everything nlbd
//! refuses to start with, so that `nlb config check` and nlbd cannot disagree.
//!
//! This module holds the types and the loading API; reading is split by part of the
//! file: `reader`'s helpers turn TOML values into fields with errors at their
//! place, `cluster` reads `[cluster]`, `host` reads `[host]`, and `check` compares
//! the files of several hosts.

mod check;
mod cluster;
mod host;
mod reader;

pub use check::{check_cluster, check_keys, cluster_differences, ClusterProblem};

use crate::addressing::OperationMode;
use crate::host::{HostId, HostRuleSettings, InitialState};
use crate::key::{read_key, ClusterKey};
use crate::rules::PortRule;
use cluster::{parse_cluster, ClusterOutline};
use host::parse_host;
use reader::{Ctx, Section};
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use toml::de::DeTable;

/// Heartbeat period default (ms): with the default loss tolerance a crashed host's
/// slots are taken over within a second, where Windows' 1000 ms x 5 needs ~8 s.
pub const DEFAULT_HEARTBEAT_PERIOD_MS: u32 = 100;
/// Allowed heartbeat periods (ms).
pub const HEARTBEAT_PERIOD_RANGE_MS: (u32, u32) = (10, 10_000);
/// Missed periods after which a host is lost, by default.
pub const DEFAULT_LOSS_TOLERANCE: u32 = 5;
/// Allowed loss tolerances. A host's lease runs `loss_tolerance - 1` periods past the
/// send time of its latest acknowledged frame, and an acknowledgement takes up to a
/// period to come back: at 3 the lease is renewed only just in time, and daemon jitter
/// fences new flows in steady state (measured: 5.1% of new connections failed at
/// 20 ms x 3). From 4 on it has a whole period to spare.
pub const LOSS_TOLERANCE_RANGE: (u32, u32) = (4, 100);
/// How long a TCP connection may go without a packet before the data path forgets it,
/// by default (s): three hours, longer than Linux's default TCP keepalive (two hours,
/// then nine probes 75 s apart), so a connection kept alive by keepalives is never
/// forgotten. Nothing else ends a connection's hold on a slot but its FIN or RST, or
/// its host leaving the cluster.
pub const DEFAULT_CONN_IDLE_TIMEOUT_S: u32 = 10_800;
/// Allowed connection idle timeouts (s): ten seconds to thirty days.
pub const CONN_IDLE_TIMEOUT_RANGE_S: (u32, u32) = (10, 2_592_000);

/// Allowed ownership table sizes (and they must be prime).
pub const TABLE_SIZE_RANGE: (u32, u32) = (251, 1_048_573);

/// The part of the configuration every host of the cluster must share.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterConfig {
    /// Cluster name; also seeds the flow hash unless `hash_seed` is given.
    pub name: String,
    /// Primary VIP: the cluster MAC and IGMP group derive from it.
    pub vip: IpAddr,
    /// Further VIPs, answered with the same cluster MAC.
    pub extra_vips: Vec<IpAddr>,
    /// Operation mode.
    pub mode: OperationMode,
    /// Heartbeat period in milliseconds.
    pub heartbeat_period_ms: u32,
    /// Missed heartbeat periods after which a host is lost.
    pub loss_tolerance: u32,
    /// How long a TCP connection may go without a packet before the data path forgets
    /// it, in seconds. A slot that changed owner stays in handover while its old owner
    /// holds a connection there, however long: this timeout, FIN/RST and the holder
    /// leaving the cluster are what end a connection's hold.
    pub conn_idle_timeout_s: u32,
    /// File holding the cluster key that authenticates heartbeats (not part of the digest:
    /// a wrong key shows as authentication failures instead).
    pub key_file: PathBuf,
    /// Seed of the flow hash and the ownership tables.
    pub hash_seed: u64,
    /// Slots per ownership table (prime). More slots move fewer extra flows when
    /// membership changes: at 65537, up to 32 hosts stay within 1.2x of the minimum;
    /// for 33..=64 hosts use 262147.
    pub table_size: u32,
    /// Port rules, in file order.
    pub rules: Vec<PortRule>,
}

impl ClusterConfig {
    /// Every VIP, the primary first.
    pub fn vips(&self) -> impl Iterator<Item = IpAddr> + '_ {
        std::iter::once(self.vip).chain(self.extra_vips.iter().copied())
    }

    /// True when `ip` is one of the cluster's VIPs.
    pub fn is_vip(&self, ip: IpAddr) -> bool {
        self.vips().any(|v| v == ip)
    }

    /// The digest every host advertises in its heartbeats; hosts whose digests differ
    /// do not form one cluster. Covers everything that changes behaviour on the wire or
    /// who owns what.
    pub fn digest(&self) -> ClusterDigest {
        let mut h = blake3::Hasher::new();
        h.update(b"nlb cluster digest v1\0");
        let s = |h: &mut blake3::Hasher, t: &str| {
            h.update(&(t.len() as u32).to_le_bytes());
            h.update(t.as_bytes());
        };
        s(&mut h, &self.name);
        for v in self.vips() {
            s(&mut h, &v.to_string());
        }
        s(&mut h, self.mode.as_str());
        h.update(&self.heartbeat_period_ms.to_le_bytes());
        h.update(&self.loss_tolerance.to_le_bytes());
        h.update(&self.conn_idle_timeout_s.to_le_bytes());
        h.update(&self.hash_seed.to_le_bytes());
        h.update(&self.table_size.to_le_bytes());
        h.update(&(self.rules.len() as u32).to_le_bytes());
        for r in &self.rules {
            s(&mut h, &r.name);
            s(&mut h, &r.vip.to_string());
            h.update(&r.port_start.to_le_bytes());
            h.update(&r.port_end.to_le_bytes());
            s(&mut h, r.protocol.as_str());
            s(&mut h, r.filtering.as_str());
            s(&mut h, r.affinity.as_str());
        }
        let d = h.finalize();
        ClusterDigest(d.as_bytes()[..16].try_into().expect("16 bytes"))
    }
}

/// The default hash seed of a cluster: derived from its name.
pub fn seed_from_name(name: &str) -> u64 {
    let mut h = blake3::Hasher::new();
    h.update(b"nlb hash seed v1\0");
    h.update(name.as_bytes());
    u64::from_le_bytes(h.finalize().as_bytes()[..8].try_into().expect("8 bytes"))
}

/// A 128-bit digest of the cluster part of the configuration.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct ClusterDigest(pub [u8; 16]);

impl fmt::Display for ClusterDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// The part of the configuration that is the host's own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostConfig {
    /// Host id (Windows: host priority).
    pub id: HostId,
    /// The cluster interface.
    pub interface: String,
    /// The host's dedicated address and prefix length, if any.
    pub address: Option<(IpAddr, u8)>,
    /// State on start (what the operator last set, kept in `state_dir`, wins).
    pub state: InitialState,
    /// Per-rule settings, parallel to [`ClusterConfig::rules`].
    pub rules: Vec<HostRuleSettings>,
    /// Where nlbd keeps what an operator set (stopped, suspended, disabled or drained
    /// rules) across restarts of nlbd and of the host.
    pub state_dir: PathBuf,
    /// Where nlbd serves Prometheus metrics (`/metrics`), if anywhere.
    pub metrics: Option<std::net::SocketAddr>,
}

/// [`HostConfig::state_dir`] by default.
pub const DEFAULT_STATE_DIR: &str = "/var/lib/nlb";

/// One host's whole configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// The file it was read from.
    pub path: PathBuf,
    /// The shared part.
    pub cluster: ClusterConfig,
    /// The host's own part.
    pub host: HostConfig,
}

/// One problem in a configuration file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// The file.
    pub file: PathBuf,
    /// 1-based line (0 when the problem is not at a place in the file).
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// Dotted field path, e.g. `cluster.rule[2].ports`.
    pub field: String,
    /// What is wrong and what is allowed.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(
                f,
                "{}: {}: {}",
                self.file.display(),
                self.field,
                self.message
            )
        } else {
            write!(
                f,
                "{}:{}:{}: {}: {}",
                self.file.display(),
                self.line,
                self.column,
                self.field,
                self.message
            )
        }
    }
}

/// All problems found in one file. Displayed one per line, without an `error:`
/// prefix (whoever prints them adds their own).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

impl Config {
    /// Reads and validates a configuration file (not the key file it names: see
    /// [`Config::load_with_key`]).
    pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
        let text = read_text(path)?;
        Self::parse(path, &text)
    }

    /// Reads and validates a configuration file and the cluster key file it names
    /// ([`crate::key::read_key`]): everything nlbd refuses to start with, every problem
    /// of the file reported in one pass, key problems under `cluster.key_file`.
    pub fn load_with_key(path: &Path) -> Result<(Config, ClusterKey), ConfigErrors> {
        let text = read_text(path)?;
        let mut cx = Ctx::new(path, &text);
        let config = parse_file(&mut cx);
        let key = match cx.key_file.take() {
            Some((file, span)) => match read_key(&file) {
                Ok(k) => Some(k),
                Err(problems) => {
                    for p in problems {
                        cx.error(span.clone(), "cluster.key_file", p.to_string());
                    }
                    None
                }
            },
            None => None,
        };
        match (config, key) {
            (Some(c), Some(k)) if cx.errors.is_empty() => Ok((c, k)),
            _ => Err(ConfigErrors(cx.errors)),
        }
    }

    /// Validates configuration text; `path` names it in errors and anchors a relative `key_file`.
    pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigErrors> {
        let mut cx = Ctx::new(path, text);
        match parse_file(&mut cx) {
            Some(c) if cx.errors.is_empty() => Ok(c),
            _ => Err(ConfigErrors(cx.errors)),
        }
    }
}

fn read_text(path: &Path) -> Result<String, ConfigErrors> {
    std::fs::read_to_string(path).map_err(|e| {
        ConfigErrors(vec![ConfigError {
            file: path.to_path_buf(),
            line: 0,
            column: 0,
            field: "(file)".into(),
            message: format!("cannot read: {e}"),
        }])
    })
}

/// Reads the whole file, collecting every error in `cx`; the configuration when there
/// is none.
fn parse_file(cx: &mut Ctx) -> Option<Config> {
    let root = match DeTable::parse(cx.text) {
        Ok(t) => t,
        Err(e) => {
            let span = e.span().unwrap_or(0..0);
            cx.error(
                span,
                "(syntax)",
                format!("invalid TOML: {}", e.message().trim()),
            );
            return None;
        }
    };
    let root_span = root.span();
    let mut top = Section::new(root.get_ref(), "", root_span.clone());
    let cluster_t = top.table(cx, "cluster");
    let host_t = top.table(cx, "host");
    top.finish(cx, &["cluster", "host"]);
    let (cluster, outline) = match cluster_t {
        Some((t, span)) => parse_cluster(cx, t, span),
        None => {
            cx.error(0..0, "cluster", "missing [cluster] table".into());
            (None, ClusterOutline::default())
        }
    };
    let host = match host_t {
        Some((t, span)) => parse_host(cx, t, span, &outline, cluster.is_some()),
        None => {
            cx.error(0..0, "host", "missing [host] table".into());
            None
        }
    };
    match (cluster, host) {
        (Some(cluster), Some(host)) if cx.errors.is_empty() => Some(Config {
            path: cx.file.to_path_buf(),
            cluster,
            host,
        }),
        _ => None,
    }
}
