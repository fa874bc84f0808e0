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

use crate::addressing::{check_unicast_host_id, validate_vip, OperationMode};
use crate::host::{HostId, HostRuleSettings, InitialState, LoadWeight};
use crate::key::{read_key, ClusterKey, KeyFingerprint};
use crate::rules::{Affinity, Filtering, PortRule, Protocol, RuleVip, MAX_RULES};
use crate::table::{is_prime, DEFAULT_TABLE_SIZE};
use std::fmt;
use std::net::IpAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use toml::de::{DeTable, DeValue};
use toml::Spanned;

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
    /// State on start.
    pub state: InitialState,
    /// Per-rule settings, parallel to [`ClusterConfig::rules`].
    pub rules: Vec<HostRuleSettings>,
}

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
        let config = cx.parse();
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
        match cx.parse() {
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

struct Ctx<'a> {
    file: &'a Path,
    text: &'a str,
    errors: Vec<ConfigError>,
    /// The key file named, and where, once read (even when other fields have errors).
    key_file: Option<(PathBuf, Range<usize>)>,
}

impl<'a> Ctx<'a> {
    fn new(file: &'a Path, text: &'a str) -> Self {
        Ctx {
            file,
            text,
            errors: Vec::new(),
            key_file: None,
        }
    }

    /// Reads the whole file, collecting every error; the configuration when there is none.
    fn parse(&mut self) -> Option<Config> {
        let root = match DeTable::parse(self.text) {
            Ok(t) => t,
            Err(e) => {
                let span = e.span().unwrap_or(0..0);
                self.error(
                    span,
                    "(syntax)",
                    format!("invalid TOML: {}", e.message().trim()),
                );
                return None;
            }
        };
        let root_span = root.span();
        let mut top = Section::new(root.get_ref(), "", root_span.clone());
        let cluster_t = top.table(self, "cluster");
        let host_t = top.table(self, "host");
        top.finish(self, &["cluster", "host"]);
        let (cluster, outline) = match cluster_t {
            Some((t, span)) => parse_cluster(self, t, span),
            None => {
                self.error(0..0, "cluster", "missing [cluster] table".into());
                (None, ClusterOutline::default())
            }
        };
        let host = match host_t {
            Some((t, span)) => parse_host(self, t, span, &outline, cluster.is_some()),
            None => {
                self.error(0..0, "host", "missing [host] table".into());
                None
            }
        };
        match (cluster, host) {
            (Some(cluster), Some(host)) if self.errors.is_empty() => Some(Config {
                path: self.file.to_path_buf(),
                cluster,
                host,
            }),
            _ => None,
        }
    }

    fn error(&mut self, span: Range<usize>, field: &str, message: String) {
        let (line, column) = if span == (0..0) && field != "(syntax)" {
            (0, 0)
        } else {
            line_col(self.text, span.start)
        };
        self.errors.push(ConfigError {
            file: self.file.to_path_buf(),
            line,
            column,
            field: field.to_string(),
            message,
        });
    }
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    (line, column)
}

type Value<'i> = Spanned<DeValue<'i>>;

/// A table being read: remembers which keys were used so unknown ones can be reported.
struct Section<'t, 'i> {
    table: &'t DeTable<'i>,
    path: String,
    span: Range<usize>,
    used: Vec<String>,
}

impl<'t, 'i> Section<'t, 'i> {
    fn new(table: &'t DeTable<'i>, path: &str, span: Range<usize>) -> Self {
        Section {
            table,
            path: path.to_string(),
            span,
            used: Vec::new(),
        }
    }

    fn field(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{}", self.path, key)
        }
    }

    /// True when the table has `key` (without marking it used).
    fn has(&self, key: &str) -> bool {
        self.table.iter().any(|(k, _)| k.get_ref().as_ref() == key)
    }

    fn get(&mut self, key: &str) -> Option<&'t Value<'i>> {
        self.used.push(key.to_string());
        self.table
            .iter()
            .find(|(k, _)| k.get_ref().as_ref() == key)
            .map(|(_, v)| v)
    }

    fn required(&mut self, cx: &mut Ctx, key: &str, what: &str) -> Option<&'t Value<'i>> {
        let v = self.get(key);
        if v.is_none() {
            let field = self.field(key);
            cx.error(
                self.span.clone(),
                &field,
                format!("missing; expected {what}"),
            );
        }
        v
    }

    fn table(&mut self, cx: &mut Ctx, key: &str) -> Option<(&'t DeTable<'i>, Range<usize>)> {
        let v = self.get(key)?;
        match v.get_ref() {
            DeValue::Table(t) => Some((t, v.span())),
            other => {
                let field = self.field(key);
                cx.error(
                    v.span(),
                    &field,
                    format!("expected a table, found {}", other.type_str()),
                );
                None
            }
        }
    }

    fn str(&mut self, cx: &mut Ctx, key: &str, what: &str) -> Option<(&'t str, Range<usize>)> {
        let v = self.get(key)?;
        as_str(cx, v, &self.field(key), what)
    }

    fn parsed<T: FromStr<Err = &'static str>>(&mut self, cx: &mut Ctx, key: &str) -> Option<T> {
        let (s, span) = self.str(cx, key, "a string")?;
        match s.parse() {
            Ok(v) => Some(v),
            Err(allowed) => {
                cx.error(
                    span,
                    &self.field(key),
                    format!("`{s}` is not allowed; expected {allowed}"),
                );
                None
            }
        }
    }

    fn int(&mut self, cx: &mut Ctx, key: &str, lo: i64, hi: i64) -> Option<i64> {
        let v = self.get(key)?;
        as_int(cx, v, &self.field(key), lo, hi)
    }

    /// Reports every key that was never asked for.
    fn finish(self, cx: &mut Ctx, allowed: &[&str]) {
        for (k, _) in self.table.iter() {
            let name = k.get_ref().as_ref();
            if !self.used.iter().any(|u| u == name) {
                let field = self.field(name);
                let where_ = if self.path.is_empty() {
                    "at the top level".to_string()
                } else {
                    format!("in [{}]", self.path)
                };
                cx.error(
                    k.span(),
                    &field,
                    format!("unknown field {where_}; allowed: {}", allowed.join(", ")),
                );
            }
        }
    }
}

fn as_str<'t>(
    cx: &mut Ctx,
    v: &'t Value<'_>,
    field: &str,
    what: &str,
) -> Option<(&'t str, Range<usize>)> {
    match v.get_ref() {
        DeValue::String(s) => Some((s.as_ref(), v.span())),
        other => {
            cx.error(
                v.span(),
                field,
                format!(
                    "expected {what}, found {} {}",
                    other.type_str(),
                    show(other)
                ),
            );
            None
        }
    }
}

fn as_int(cx: &mut Ctx, v: &Value<'_>, field: &str, lo: i64, hi: i64) -> Option<i64> {
    let n = match v.get_ref() {
        DeValue::Integer(i) => i64::from_str_radix(i.as_str(), i.radix()).ok(),
        _ => None,
    };
    match n {
        Some(n) if (lo..=hi).contains(&n) => Some(n),
        Some(n) => {
            cx.error(
                v.span(),
                field,
                format!("{n} is out of range; allowed {lo}..={hi}"),
            );
            None
        }
        None => {
            cx.error(
                v.span(),
                field,
                format!(
                    "expected an integer in {lo}..={hi}, found {} {}",
                    v.get_ref().type_str(),
                    show(v.get_ref())
                ),
            );
            None
        }
    }
}

fn show(v: &DeValue<'_>) -> String {
    match v {
        DeValue::String(s) => format!("`{s}`"),
        DeValue::Integer(i) => format!("`{}`", i.as_str()),
        DeValue::Float(x) => format!("`{}`", x.as_str()),
        DeValue::Boolean(b) => format!("`{b}`"),
        _ => String::new(),
    }
}

/// Reads a VIP: a unicast address nlbd can serve. nlbd's data path handles IPv4 only
/// so far, so an IPv6 VIP is refused here, where nlbd and `nlb config check` both see it
/// (the addressing module derives IPv6 addresses for when it does).
fn parse_vip(cx: &mut Ctx, s: &str, span: Range<usize>, field: &str) -> Option<IpAddr> {
    let ip: IpAddr = match s.parse() {
        Ok(ip) => ip,
        Err(_) => {
            cx.error(
                span,
                field,
                format!(
                    "`{s}` is not an IP address; expected an IPv4 address such as 198.51.100.10"
                ),
            );
            return None;
        }
    };
    if let Err(e) = validate_vip(ip) {
        cx.error(
            span,
            field,
            format!("`{s}`: {e}; expected a routable unicast IPv4 address such as 198.51.100.10"),
        );
        return None;
    }
    if ip.is_ipv6() {
        cx.error(
            span,
            field,
            format!("`{s}` is an IPv6 address; nlbd's data path handles IPv4 VIPs only so far: expected an IPv4 address such as 198.51.100.10"),
        );
        return None;
    }
    Some(ip)
}

const CLUSTER_FIELDS: &[&str] = &[
    "name",
    "vip",
    "extra_vips",
    "mode",
    "heartbeat_period_ms",
    "loss_tolerance",
    "conn_idle_timeout_s",
    "key_file",
    "hash_seed",
    "table_size",
    "rule",
];

/// What could be read of the cluster part, even when it has errors: enough for the
/// host part's checks to run in the same pass. `None` where a field itself is bad.
#[derive(Default)]
struct ClusterOutline {
    /// Every VIP that was read.
    vips: Vec<IpAddr>,
    /// The operation mode.
    mode: Option<OperationMode>,
    /// Each rule's name and filtering, in file order; `None` when the list itself is bad.
    rules: Option<Vec<RuleOutline>>,
}

/// A rule's name and filtering, each `None` when its field is bad.
struct RuleOutline {
    name: Option<String>,
    filtering: Option<Filtering>,
}

fn parse_cluster(
    cx: &mut Ctx,
    t: &DeTable<'_>,
    span: Range<usize>,
) -> (Option<ClusterConfig>, ClusterOutline) {
    let before = cx.errors.len();
    let mut sec = Section::new(t, "cluster", span);

    let name = sec
        .required(cx, "name", "a cluster name")
        .and_then(|v| as_str(cx, v, "cluster.name", "a string"))
        .and_then(|(s, span)| {
            let ok = !s.is_empty()
                && s.len() <= 63
                && s.bytes()
                    .all(|c| c.is_ascii_alphanumeric() || b"-_.".contains(&c));
            if ok {
                Some(s.to_string())
            } else {
                cx.error(
                    span,
                    "cluster.name",
                    format!(
                        "`{s}` is not allowed; expected 1..=63 characters of A-Z a-z 0-9 - _ ."
                    ),
                );
                None
            }
        });

    let vip = sec
        .required(cx, "vip", "the primary VIP, e.g. \"198.51.100.10\"")
        .and_then(|v| as_str(cx, v, "cluster.vip", "an IP address string"))
        .and_then(|(s, span)| parse_vip(cx, s, span, "cluster.vip"));

    let mut extra_vips = Vec::new();
    if let Some(v) = sec.get("extra_vips") {
        match v.get_ref() {
            DeValue::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    let field = format!("cluster.extra_vips[{i}]");
                    if let Some((s, span)) = as_str(cx, item, &field, "an IP address string") {
                        if let Some(ip) = parse_vip(cx, s, span.clone(), &field) {
                            if Some(ip) == vip || extra_vips.contains(&ip) {
                                cx.error(
                                    span,
                                    &field,
                                    format!("`{s}` is listed twice; every VIP must be distinct"),
                                );
                            } else {
                                extra_vips.push(ip);
                            }
                        }
                    }
                }
            }
            other => cx.error(
                v.span(),
                "cluster.extra_vips",
                format!(
                    "expected an array of IP address strings, found {}",
                    other.type_str()
                ),
            ),
        }
    }

    let mode_outline = match sec.parsed::<ModeName>(cx, "mode") {
        Some(m) => Some(m.0),
        None if sec.has("mode") => None,
        None => Some(OperationMode::IgmpMulticast),
    };
    let mode = mode_outline.unwrap_or(OperationMode::IgmpMulticast);
    let (lo, hi) = HEARTBEAT_PERIOD_RANGE_MS;
    let heartbeat_period_ms = sec
        .int(cx, "heartbeat_period_ms", lo.into(), hi.into())
        .map_or(DEFAULT_HEARTBEAT_PERIOD_MS, |n| n as u32);
    let (lo, hi) = LOSS_TOLERANCE_RANGE;
    let loss_tolerance = sec
        .int(cx, "loss_tolerance", lo.into(), hi.into())
        .map_or(DEFAULT_LOSS_TOLERANCE, |n| n as u32);
    let (lo, hi) = CONN_IDLE_TIMEOUT_RANGE_S;
    let conn_idle_timeout_s = sec
        .int(cx, "conn_idle_timeout_s", lo.into(), hi.into())
        .map_or(DEFAULT_CONN_IDLE_TIMEOUT_S, |n| n as u32);
    if let Some(v) = sec.get("handover_timeout_ms") {
        cx.error(
            v.span(),
            "cluster.handover_timeout_ms",
            "removed: a moved slot's old owner now keeps every connection it holds there \
             until it closes, goes idle for conn_idle_timeout_s, or the host leaves; \
             delete this line (conn_idle_timeout_s sets the idle limit)"
                .to_string(),
        );
    }

    let key_file = sec
        .required(cx, "key_file", "the path of the cluster key file")
        .and_then(|v| as_str(cx, v, "cluster.key_file", "a path string"))
        .and_then(|(s, span)| {
            if s.is_empty() {
                cx.error(
                    span,
                    "cluster.key_file",
                    "the path is empty; expected the path of the cluster key file, e.g. \"web.key\" (make one with `nlb keygen web.key`)".into(),
                );
                return None;
            }
            let p = PathBuf::from(s);
            let p = if p.is_relative() {
                cx.file.parent().unwrap_or(Path::new("")).join(p)
            } else {
                p
            };
            cx.key_file = Some((p.clone(), span));
            Some(p)
        });

    let hash_seed = match sec.get("hash_seed") {
        Some(v) => as_int(cx, v, "cluster.hash_seed", 0, i64::MAX).map(|n| n as u64),
        None => name.as_deref().map(seed_from_name),
    };

    let table_size = match sec.get("table_size") {
        None => DEFAULT_TABLE_SIZE,
        Some(v) => match as_int(
            cx,
            v,
            "cluster.table_size",
            TABLE_SIZE_RANGE.0.into(),
            TABLE_SIZE_RANGE.1.into(),
        ) {
            Some(n) if is_prime(n as u32) => n as u32,
            Some(n) => {
                cx.error(
                    v.span(),
                    "cluster.table_size",
                    format!("{n} is not prime; expected a prime such as 65537 or 262147"),
                );
                DEFAULT_TABLE_SIZE
            }
            None => DEFAULT_TABLE_SIZE,
        },
    };

    let mut vips_known: Vec<IpAddr> = vip.into_iter().collect();
    vips_known.extend(&extra_vips);
    let (rules, rule_outline) = match sec.get("rule") {
        None => {
            let r = PortRule::default_rule();
            let outline = RuleOutline {
                name: Some(r.name.clone()),
                filtering: Some(r.filtering),
            };
            (vec![r], Some(vec![outline]))
        }
        Some(v) => parse_rules(cx, v, &vips_known),
    };
    sec.finish(cx, CLUSTER_FIELDS);

    let outline = ClusterOutline {
        vips: vips_known,
        mode: mode_outline,
        rules: rule_outline,
    };
    if cx.errors.len() != before {
        return (None, outline);
    }
    let config = (|| {
        Some(ClusterConfig {
            name: name?,
            vip: vip?,
            extra_vips,
            mode,
            heartbeat_period_ms,
            loss_tolerance,
            conn_idle_timeout_s,
            key_file: key_file?,
            hash_seed: hash_seed?,
            table_size,
            rules,
        })
    })();
    (config, outline)
}

/// `OperationMode`'s parser with the `&'static str` error the section helpers want.
struct ModeName(OperationMode);
impl FromStr for ModeName {
    type Err = &'static str;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse()
            .map(ModeName)
            .map_err(|_| "one of unicast, multicast, igmp-multicast")
    }
}

const RULE_FIELDS: &[&str] = &["name", "vip", "ports", "protocol", "filtering", "affinity"];

/// Reads `[[cluster.rule]]`: the rules without errors, and every rule's outline.
/// Duplicate names are found among all rules whose names could be read, whatever
/// other errors the rules have.
fn parse_rules(
    cx: &mut Ctx,
    v: &Value<'_>,
    vips: &[IpAddr],
) -> (Vec<PortRule>, Option<Vec<RuleOutline>>) {
    let items: Vec<&Value<'_>> = match v.get_ref() {
        DeValue::Array(a) => a.iter().collect(),
        other => {
            cx.error(
                v.span(),
                "cluster.rule",
                format!(
                    "expected [[cluster.rule]] tables, found {}",
                    other.type_str()
                ),
            );
            return (Vec::new(), None);
        }
    };
    if items.len() > MAX_RULES {
        cx.error(
            v.span(),
            "cluster.rule",
            format!("{} rules given; at most {MAX_RULES} allowed", items.len()),
        );
    }
    let mut rules: Vec<(PortRule, Range<usize>)> = Vec::new();
    let mut outline: Vec<RuleOutline> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let path = format!("cluster.rule[{}]", i + 1);
        let DeValue::Table(t) = item.get_ref() else {
            cx.error(item.span(), &path, "expected a table".into());
            outline.push(RuleOutline {
                name: None,
                filtering: None,
            });
            continue;
        };
        let before = cx.errors.len();
        let mut sec = Section::new(t, &path, item.span());
        let name = match sec.str(cx, "name", "a string") {
            Some((s, _)) => Some(s.to_string()),
            None if sec.has("name") => None,
            None => Some(format!("rule{}", i + 1)),
        };
        if let Some(n) = &name {
            if outline.iter().any(|o| o.name.as_ref() == Some(n)) {
                cx.error(
                    item.span(),
                    &format!("{path}.name"),
                    format!("`{n}` names two rules; rule names must be unique"),
                );
            }
        }
        let rule_vip = match sec.str(cx, "vip", "\"all\" or one of the cluster's VIPs") {
            None => Some(RuleVip::All),
            Some(("all", _)) => Some(RuleVip::All),
            Some((s, span)) => match s.parse::<IpAddr>() {
                Ok(ip) if vips.contains(&ip) => Some(RuleVip::Addr(ip)),
                _ => {
                    let list: Vec<String> = vips.iter().map(|v| v.to_string()).collect();
                    cx.error(
                        span,
                        &sec.field("vip"),
                        format!(
                            "`{s}` is not one of the cluster's VIPs; allowed: all, {}",
                            list.join(", ")
                        ),
                    );
                    None
                }
            },
        };
        let ports = match sec.get("ports") {
            None => Some((0, 65535)),
            Some(v) => parse_ports(cx, v, &sec.field("ports")),
        };
        let protocol = sec
            .parsed::<Protocol>(cx, "protocol")
            .unwrap_or(Protocol::Both);
        let filtering = match sec.parsed::<Filtering>(cx, "filtering") {
            Some(f) => Some(f),
            None if sec.has("filtering") => None,
            None => Some(Filtering::Multiple),
        };
        outline.push(RuleOutline {
            name: name.clone(),
            filtering,
        });
        let affinity = sec
            .parsed::<Affinity>(cx, "affinity")
            .unwrap_or(Affinity::Single);
        sec.finish(cx, RULE_FIELDS);
        if cx.errors.len() != before {
            continue;
        }
        let (Some(name), Some(vip), Some((port_start, port_end)), Some(filtering)) =
            (name, rule_vip, ports, filtering)
        else {
            continue;
        };
        let rule = PortRule {
            name,
            vip,
            port_start,
            port_end,
            protocol,
            filtering,
            affinity,
        };
        // Two rules of one name are reported above.
        for (earlier, _) in rules.iter().filter(|(e, _)| e.name != rule.name) {
            if earlier.overlaps(&rule) {
                cx.error(item.span(), &path, format!("rule `{}` ({}) overlaps rule `{}` ({}); rules with the same VIP must not share a port and protocol", rule.name, rule, earlier.name, earlier));
            }
        }
        rules.push((rule, item.span()));
    }
    (rules.into_iter().map(|(r, _)| r).collect(), Some(outline))
}

fn parse_ports(cx: &mut Ctx, v: &Value<'_>, field: &str) -> Option<(u16, u16)> {
    const ALLOWED: &str = "a port 0..=65535 or a range \"FIRST-LAST\" such as \"8000-8080\"";
    match v.get_ref() {
        DeValue::Integer(_) => as_int(cx, v, field, 0, 65535).map(|p| (p as u16, p as u16)),
        DeValue::String(s) => {
            let parsed = match s.split_once('-') {
                Some((a, b)) => a
                    .trim()
                    .parse::<u16>()
                    .ok()
                    .zip(b.trim().parse::<u16>().ok()),
                None => s.trim().parse::<u16>().ok().map(|p| (p, p)),
            };
            match parsed {
                Some((a, b)) if a <= b => Some((a, b)),
                Some((a, b)) => {
                    cx.error(
                        v.span(),
                        field,
                        format!("`{s}`: first port {a} is above last port {b}; expected {ALLOWED}"),
                    );
                    None
                }
                None => {
                    cx.error(
                        v.span(),
                        field,
                        format!("`{s}` is not a port range; expected {ALLOWED}"),
                    );
                    None
                }
            }
        }
        other => {
            cx.error(
                v.span(),
                field,
                format!("expected {ALLOWED}, found {}", other.type_str()),
            );
            None
        }
    }
}

const HOST_FIELDS: &[&str] = &[
    "id",
    "interface",
    "address",
    "state",
    "weight",
    "priority",
    "rule",
];
const HOST_RULE_FIELDS: &[&str] = &["weight", "priority"];

fn parse_weight(cx: &mut Ctx, v: &Value<'_>, field: &str) -> Option<LoadWeight> {
    match v.get_ref() {
        DeValue::String(s) if s.as_ref() == "equal" => Some(LoadWeight::Equal),
        DeValue::Integer(_) => as_int(cx, v, field, 0, 100).map(|w| LoadWeight::Weight(w as u8)),
        other => {
            cx.error(
                v.span(),
                field,
                format!(
                    "{} {} is not allowed; expected \"equal\" or an integer in 0..=100",
                    other.type_str(),
                    show(other)
                ),
            );
            None
        }
    }
}

/// Reads `[host]`, checking it against as much of the cluster part as could be read
/// (`outline`), so that its errors show in the same pass as the cluster part's. The
/// host configuration is returned only when the cluster part is valid too (`cluster_ok`).
fn parse_host(
    cx: &mut Ctx,
    t: &DeTable<'_>,
    span: Range<usize>,
    outline: &ClusterOutline,
    cluster_ok: bool,
) -> Option<HostConfig> {
    let before = cx.errors.len();
    let mut sec = Section::new(t, "host", span);
    let id_value = sec.required(cx, "id", "an integer in 1..=255");
    let id = id_value
        .and_then(|v| as_int(cx, v, "host.id", 1, 255))
        .map(|n| HostId(n as u8));
    if let (Some(v), Some(HostId(n)), Some(OperationMode::Unicast)) = (id_value, id, outline.mode) {
        if let Err(e) = check_unicast_host_id(n) {
            cx.error(v.span(), "host.id", e.to_string());
        }
    }
    let interface = sec
        .required(cx, "interface", "the cluster interface, e.g. \"eth0\"")
        .and_then(|v| as_str(cx, v, "host.interface", "an interface name"))
        .and_then(|(s, span)| {
            let ok = !s.is_empty() && s.len() <= 15 && !s.contains(['/', ' ', '\t', ':']);
            if ok {
                Some(s.to_string())
            } else {
                cx.error(span, "host.interface", format!("`{s}` is not a Linux interface name; expected 1..=15 characters without /, : or spaces"));
                None
            }
        });
    let address = sec.str(cx, "address", "an address with prefix, e.g. \"198.51.100.21/24\"").and_then(|(s, span)| {
        let parsed = s.split_once('/').and_then(|(a, p)| {
            let ip: IpAddr = a.parse().ok()?;
            let p: u8 = p.parse().ok()?;
            let max = if ip.is_ipv4() { 32 } else { 128 };
            (p <= max && !ip.is_unspecified() && !ip.is_multicast()).then_some((ip, p))
        });
        match parsed {
            Some((ip, _)) if outline.vips.contains(&ip) => {
                cx.error(span, "host.address", format!("`{s}` is a cluster VIP; the dedicated address must be the host's own"));
                None
            }
            Some(a) => Some(a),
            None => {
                cx.error(span, "host.address", format!("`{s}` is not allowed; expected a unicast address with prefix length, e.g. \"198.51.100.21/24\""));
                None
            }
        }
    });
    let state = sec
        .parsed::<InitialState>(cx, "state")
        .unwrap_or(InitialState::Started);
    let default_weight = match sec.get("weight") {
        Some(v) => parse_weight(cx, v, "host.weight"),
        None => Some(LoadWeight::Equal),
    };
    let default_priority = match sec.int(cx, "priority", 1, 255) {
        Some(p) => Some(p as u8),
        None => id.map(|i| i.0),
    };
    let mut rules: Vec<HostRuleSettings> = outline
        .rules
        .iter()
        .flatten()
        .map(|_| HostRuleSettings {
            weight: default_weight.unwrap_or(LoadWeight::Equal),
            priority: default_priority.unwrap_or(1),
        })
        .collect();
    if let Some((rt, _)) = sec.table(cx, "rule") {
        for (k, v) in rt.iter() {
            let name: &str = k.get_ref().as_ref();
            let path = format!("host.rule.{name}");
            let known = outline.rules.as_deref().unwrap_or(&[]);
            let idx = known.iter().position(|r| r.name.as_deref() == Some(name));
            // A name is unknown only when every rule's name could be read.
            let all_named = outline.rules.is_some() && known.iter().all(|r| r.name.is_some());
            if idx.is_none() && all_named {
                let names: Vec<&str> = known.iter().filter_map(|r| r.name.as_deref()).collect();
                cx.error(
                    k.span(),
                    &path,
                    format!(
                        "no rule is named `{name}`; the cluster's rules are: {}",
                        names.join(", ")
                    ),
                );
                continue;
            }
            let DeValue::Table(t) = v.get_ref() else {
                cx.error(
                    v.span(),
                    &path,
                    format!(
                        "expected a table with weight and/or priority, found {}",
                        v.get_ref().type_str()
                    ),
                );
                continue;
            };
            // None when the rule or its filtering could not be read: then the values
            // are still checked, but not whether they fit the rule.
            let filtering = idx.and_then(|i| known[i].filtering);
            let mut rs = Section::new(t, &path, v.span());
            if let Some(wv) = rs.get("weight") {
                match filtering {
                    Some(f) if f != Filtering::Multiple => cx.error(wv.span(), &format!("{path}.weight"), format!("rule `{name}` is {}; a load weight applies only to multiple-host rules", f.as_str())),
                    _ => {
                        if let (Some(w), Some(i)) = (parse_weight(cx, wv, &format!("{path}.weight")), idx) {
                            rules[i].weight = w;
                        }
                    }
                }
            }
            if let Some(pv) = rs.get("priority") {
                match filtering {
                    Some(f) if f != Filtering::Single => cx.error(pv.span(), &format!("{path}.priority"), format!("rule `{name}` is {}; a handling priority applies only to single-host rules", f.as_str())),
                    _ => {
                        if let (Some(p), Some(i)) = (as_int(cx, pv, &format!("{path}.priority"), 1, 255), idx) {
                            rules[i].priority = p as u8;
                        }
                    }
                }
            }
            rs.finish(cx, HOST_RULE_FIELDS);
        }
    }
    sec.finish(cx, HOST_FIELDS);
    if cx.errors.len() != before || !cluster_ok {
        return None;
    }
    Some(HostConfig {
        id: id?,
        interface: interface?,
        address,
        state,
        rules,
    })
}

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
