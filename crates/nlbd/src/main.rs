//! `nlbd`: makes this host a member of an NLB cluster. A thin shell around the
//! sans-IO core: it moves heartbeats between an AF_PACKET socket and the convergence
//! state machine, and slot states and the lease from the state machine into the XDP
//! program's maps.

mod control;
mod events;
mod install;
mod link;
mod link_monitor;
mod netlink;
mod requests;
mod state;
mod wait;

use events::EventLog;
use requests::{serve, status, Served};
use state::{undo, Changes};

use anyhow::{anyhow, bail, Context};
use clap::Parser;
use nlb_core::addressing::{ClusterAddressing, OperationMode};
use nlb_core::classify::{locate, Flow};
use nlb_core::config::Config;
use nlb_core::convergence::{Command, Event, Node, Rejection};
use nlb_core::rules::Transport;
use nlb_core::time::Time;
use nlb_dataplane::{ktime_now, Dataplane, Macs};
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tracing::{debug, error};

/// nlb's daemon: makes this host a member of the cluster its configuration file names.
///
/// Loads the XDP program on the cluster interface, puts the VIPs on the loopback
/// interface, joins the cluster's multicast group, and exchanges authenticated
/// heartbeats with the other hosts. SIGTERM or SIGINT leaves the cluster and restores
/// everything it changed.
#[derive(Parser)]
#[command(name = "nlbd", version)]
struct Args {
    /// The host's configuration file.
    #[arg(long)]
    config: PathBuf,
    /// Attach XDP in generic (skb) mode, for drivers without native XDP.
    #[arg(long)]
    generic_xdp: bool,
}

/// Heartbeats handled per turn of the loop at most (255 peers send 10 a second each).
const FRAMES_PER_TURN: usize = 512;

/// Heartbeat-type frames from sources not yet authenticated that the XDP program lets
/// through a second, per CPU (`HB_UNKNOWN_PER_SEC` in bpf/nlb_xdp.c). They come in a
/// burst when each CPU's second starts.
const UNKNOWN_PER_SEC_PER_CPU: usize = 200;

/// Receive buffer per frame it must hold: a full-size frame's skb (truesize), with room.
const BUFFER_PER_FRAME: usize = 4096;

/// The heartbeat socket's receive buffer: room for one second's budget of frames from
/// unknown sources on every CPU at once, and for a turn's worth of members' heartbeats
/// besides, so that a flood's burst never fills it ahead of a member's heartbeat. (The
/// default, about 200 KiB, held half of a 2-CPU burst: the rest was dropped, and so
/// would be a member's heartbeat arriving then.)
fn receive_buffer() -> usize {
    // libc: rustix has no sysconf(_SC_NPROCESSORS_CONF) (std's available_parallelism
    // counts the CPUs this process may run on, not those the program runs on).
    // SAFETY: sysconf has no preconditions.
    let cpus = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_CONF) }.clamp(1, 4096) as usize;
    ((cpus * UNKNOWN_PER_SEC_PER_CPU + FRAMES_PER_TURN) * BUFFER_PER_FRAME).min(64 << 20)
}

/// Heartbeat-type frames nlbd could not use, other than forged ones (the state machine
/// reports those), looked at once a second and logged as one line: a flood of junk
/// costs a line a second, not a line a frame.
#[derive(Default)]
struct Junk {
    /// Frames that do not parse as heartbeats.
    malformed: u64,
    /// The source MAC of the latest.
    latest: Option<nlb_core::mac::MacAddr>,
    /// When it was last looked at.
    checked_at: Option<Duration>,
}

impl Junk {
    /// Once a second: logs what came since, if anything did.
    fn report(&mut self, log: &mut EventLog, socket: &link::HeartbeatSocket, now: Duration) {
        if self
            .checked_at
            .is_some_and(|t| now < t + Duration::from_secs(1))
        {
            return;
        }
        self.checked_at = Some(now);
        let dropped = socket.take_drops().unwrap_or_else(|e| {
            debug!("reading the heartbeat socket's statistics: {e}");
            0
        });
        let mut parts = Vec::new();
        if self.malformed > 0 {
            parts.push(format!(
                "{} frame(s) that are no heartbeat (latest from {})",
                self.malformed,
                self.latest.map_or("?".into(), |m| m.to_string())
            ));
        }
        if dropped > 0 {
            parts.push(format!(
                "{dropped} frame(s) dropped, the socket's buffer full (members' heartbeats \
                 among them count as missed)"
            ));
        }
        if !parts.is_empty() {
            log.warn(now, format!("heartbeat socket: {}", parts.join("; ")));
        }
        self.malformed = 0;
        self.latest = None;
    }
}

/// What signals asked for, set by signal-hook's handlers and read by the loop.
struct Signals {
    /// SIGTERM or SIGINT: leave the cluster and restore everything.
    stop: Arc<AtomicBool>,
    /// SIGUSR2: the hand-off exit.
    hand_off: Arc<AtomicBool>,
}

impl Signals {
    fn register() -> anyhow::Result<Signals> {
        let signals = Signals {
            stop: Arc::new(AtomicBool::new(false)),
            hand_off: Arc::new(AtomicBool::new(false)),
        };
        let register = |signal, flag: &Arc<AtomicBool>| {
            signal_hook::flag::register(signal, Arc::clone(flag))
                .map(drop)
                .with_context(|| format!("installing the handler of signal {signal}"))
        };
        register(signal_hook::consts::SIGTERM, &signals.stop)?;
        register(signal_hook::consts::SIGINT, &signals.stop)?;
        register(signal_hook::consts::SIGUSR2, &signals.hand_off)?;
        Ok(signals)
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    // Logs go to stderr (journald under systemd); NLBD_LOG=debug shows every rejected
    // heartbeat with its reason.
    let level = std::env::var("NLBD_LOG")
        .ok()
        .and_then(|l| l.parse().ok())
        .unwrap_or(tracing::level_filters::LevelFilter::INFO);
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(level)
        .with_target(false)
        .init();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            error!("{e:#}");
            ExitCode::from(1)
        }
    }
}

/// 64 random bits from the kernel; a failure or a short read is an error (never a
/// predictable value).
fn random_u64() -> anyhow::Result<u64> {
    let mut b = [0u8; 8];
    let n = rustix::rand::getrandom(&mut b, rustix::rand::GetRandomFlags::empty())
        .map_err(std::io::Error::from)
        .context("reading random bytes (getrandom)")?;
    if n != b.len() {
        bail!("reading random bytes (getrandom): {n} of 8 bytes");
    }
    Ok(u64::from_ne_bytes(b))
}

fn run(args: &Args) -> anyhow::Result<()> {
    let mut log = EventLog::default();
    // Everything nlbd refuses in a configuration (the key file included) is refused
    // here, by the same code `nlb config check` runs, with every problem listed.
    let (mut config, key) = Config::load_with_key(&args.config).map_err(|e| {
        anyhow!(
            "{} has {} problem(s); nothing was changed:\n{e}",
            args.config.display(),
            e.0.len()
        )
    })?;
    let key = key.heartbeat_key();
    // The cluster part never changes while nlbd runs (a reload refuses to).
    let cluster = &config.cluster.clone();
    let iface = &config.host.interface.clone();
    // First, before changing anything: refuse if another nlbd serves this interface.
    let mut control = control::ControlSocket::bind(iface)?;
    let vips: Vec<Ipv4Addr> = cluster
        .vips()
        .map(|v| match v {
            IpAddr::V4(a) => Ok(a),
            // The configuration parser refuses IPv6 VIPs; this stays as a guard.
            IpAddr::V6(a) => Err(anyhow!(
                "VIP {a} (from {}): nlbd's data path handles IPv4 VIPs only so far",
                config.path.display()
            )),
        })
        .collect::<anyhow::Result<_>>()?;
    let ifindex = link::ifindex(iface)
        .with_context(|| format!("interface {iface} (from {})", config.path.display()))?;
    let lo_index = link::ifindex("lo")?;
    let addressing = ClusterAddressing::new(cluster.vip)?;
    let cluster_mac = addressing.cluster_mac(cluster.mode);
    let unicast = cluster.mode == OperationMode::Unicast;
    let masked_mac = addressing.masked_source_mac(config.host.id.get());
    let period = Duration::from_millis(cluster.heartbeat_period_ms.into());
    let loss_window = period * cluster.loss_tolerance;
    // What an earlier nlbd left: a data path handed off to us, adopted if it is fresh
    // and fits; anything else (a crash, a stale or unfitting hand-off) is undone first.
    let mut adopted = None;
    if let Some(mut left) = state::leftover(iface) {
        if let Some(h) = left.handoff.take() {
            let tx = if unicast {
                masked_mac
            } else {
                link::mac(iface).with_context(|| iface.clone())?
            };
            match adopt(&config, key, &h, tx, loss_window) {
                Ok((dp, node)) => {
                    log.info(
                        ktime_now(),
                        format!(
                            "adopted the data path handed off {} ms ago (program {})",
                            ktime_now().saturating_sub(h.at).as_millis(),
                            h.program_id
                        ),
                    );
                    adopted = Some((dp, node, left.clone(), h.program_id));
                }
                Err(why) => log.warn(
                    ktime_now(),
                    format!("not adopting the data path left on {iface}: {why}"),
                ),
            }
        }
        if adopted.is_none() {
            log.info(
                ktime_now(),
                format!(
                    "undoing what an nlbd that did not stop cleanly left on {iface}: {}",
                    serde_json::to_string(&left).unwrap_or_default()
                ),
            );
            undo(iface, ifindex, lo_index, &left);
            state::remove(iface);
        }
    }
    // nlbd puts the VIPs on lo itself; one already on another interface would make
    // this host's kernel answer ARP for it with its own MAC.
    for v in &vips {
        let holders = link::interfaces_with(*v, "lo");
        if !holders.is_empty() {
            bail!(
                "VIP {v} (from {}) is already assigned to {}; nlbd adds the VIPs to lo \
                 itself: remove it there (ip addr del {v}/... dev {})",
                config.path.display(),
                holders.join(", "),
                holders[0]
            );
        }
    }
    let nic_mac = link::mac(iface).with_context(|| iface.clone())?;
    // Unicast: the NIC takes the cluster MAC and frames leave with the masked MAC.
    let (own_mac, tx_mac) = if unicast {
        (cluster_mac, masked_mac)
    } else {
        (nic_mac, nic_mac)
    };

    let signals = Signals::register()?;

    let mut changes = Changes {
        interface: iface.clone(),
        ifindex,
        lo_index,
        changed: state::Changed::default(),
    };
    let (mut dp, resumed, program_id) = match adopted {
        Some((dp, node, changed, program_id)) => {
            // Everything the predecessor changed is ours to undo now.
            changes.changed = changed;
            changes.record(|c| c.handoff = None)?;
            (dp, Some(node), program_id)
        }
        None => {
            let dp = install::install(
                &install::Host {
                    cluster,
                    iface,
                    ifindex,
                    lo_index,
                    vips: &vips,
                    macs: Macs {
                        cluster: cluster_mac,
                        own: own_mac,
                        tx: tx_mac,
                    },
                    nic_mac,
                    generic_xdp: args.generic_xdp,
                },
                &mut changes,
                &mut log,
            )?;
            let program_id = dp.program_id()?;
            (dp, None, program_id)
        }
    };
    let socket = link::HeartbeatSocket::open(ifindex)
        .with_context(|| format!("heartbeat socket on {iface}"))?;
    if let Err(e) = socket.set_receive_buffer(receive_buffer()) {
        log.warn(
            ktime_now(),
            format!(
                "enlarging the heartbeat socket's buffer to {} KiB: {e}; a flood of \
                 heartbeat-type frames may crowd members' heartbeats out of it",
                receive_buffer() >> 10
            ),
        );
    }
    if !unicast {
        socket
            .add_multicast(cluster_mac)
            .with_context(|| format!("multicast filter of {iface}"))?;
    }
    let igmp = match (cluster.mode, addressing.igmp_group()) {
        (OperationMode::IgmpMulticast, IpAddr::V4(g)) => Some(
            link::IgmpMembership::join(g, ifindex)
                .with_context(|| format!("joining {g} on {iface}"))?,
        ),
        _ => None,
    };

    let now = ktime_now();
    let mut node = match resumed {
        Some(node) => node,
        // The incarnation nonce is random: no clock grows across restarts for sure (a
        // VM restored from a snapshot, a host without an RTC, NTP stepping back).
        None => Node::new(
            &config,
            key,
            random_u64()?,
            random_u64()? >> 2,
            tx_mac,
            Time::from_duration(now),
        ),
    };
    log.info(
        ktime_now(),
        format!(
            "host {} on {iface}: cluster `{}` ({}, {}), cluster MAC {}",
            config.host.id, cluster.name, cluster.vip, cluster.mode, cluster_mac
        ),
    );

    let mut monitor = link_monitor::LinkMonitor::open(ifindex)
        .with_context(|| format!("watching {iface}'s link through rtnetlink"))?;
    let mut waiter = wait::Waiter::new(&socket, &control, &monitor)
        .with_context(|| format!("setting up the wait on {iface}'s sockets"))?;
    let fence_span = period * (cluster.loss_tolerance - 1);
    let mut buf = vec![0u8; 2048];
    let mut generation = u64::MAX;
    let mut next_report = now;
    let mut next_igmp = now + Duration::from_secs(10);
    let mut rejected = 0u64;
    let mut junk = Junk::default();
    let mut trusted_sources = std::collections::BTreeSet::new();
    let mut stopping = false;
    let mut ticked_at = now;
    let mut arp_responder = false;
    loop {
        let now = ktime_now();
        if signals.stop.load(Ordering::SeqCst) && !stopping {
            stopping = true;
            log.info(ktime_now(), "leaving the cluster".to_string());
            let _ = node.command(Time::from_duration(now), Command::Stop);
        }
        // Frames and time into the state machine. One wait over both sockets, up to
        // the next deadline (a quarter period at most).
        let deadline = node.next_deadline(Time::from_duration(now)).as_duration();
        let ready = waiter
            .wait(deadline.saturating_sub(now).min(period / 4))
            .context("waiting for input")?;
        // The frames that have arrived; at most a bounded number per turn, so that a
        // flood cannot keep the loop from its own heartbeats.
        let mut accepted = false;
        let frames = if ready.heartbeats { FRAMES_PER_TURN } else { 0 };
        for _ in 0..frames {
            match socket.recv(&mut buf) {
                Ok(Some(n)) => match node.handle_frame(Time::from_duration(ktime_now()), &buf[..n])
                {
                    Ok(()) => {
                        accepted = true;
                        // An authenticated sender: the data path lets all its frames
                        // through from now on, whatever floods the EtherType.
                        let src = nlb_core::mac::MacAddr(
                            buf[6..12].try_into().expect("a heartbeat has a header"),
                        );
                        if trusted_sources.insert(src) {
                            if let Err(e) = dp.trust_heartbeat_source(src) {
                                log.warn(ktime_now(), format!("trusting {src}: {e}"));
                            }
                        }
                    }
                    Err(reason) => {
                        rejected += 1;
                        debug!(?reason, "heartbeat rejected");
                        if let Rejection::Malformed(_) = reason {
                            junk.malformed += 1;
                            junk.latest = buf[..n]
                                .get(6..12)
                                .and_then(|m| m.try_into().ok())
                                .map(nlb_core::mac::MacAddr);
                        }
                    }
                },
                Ok(None) => break,
                Err(e) => {
                    log.warn(ktime_now(), format!("heartbeat socket: {e}"));
                    break;
                }
            }
        }
        let now = ktime_now();
        // Time into the state machine when one of its deadlines is due, at least every
        // quarter period (for what its deadline does not name), and after frames it
        // took. Not after frames it refused: each would cost a whole evaluation (tens of
        // microseconds with a large table), and frames that pass the data path's filter
        // one at a time (a sender forging a member's source MAC) would keep nlbd busy.
        if stopping || accepted || now >= deadline || now >= ticked_at + period / 4 {
            node.tick(Time::from_duration(now));
            ticked_at = now;
        }
        junk.report(&mut log, &socket, now);
        // Control requests act on the state machine now; their replies go out once
        // the data path reflects them (a reply saying "Draining" must be true).
        let served: Vec<_> = control
            .poll()
            .into_iter()
            .map(|(client, request)| {
                let served = serve(request, &mut node, &mut config, &dp, &mut log, now);
                (client, served)
            })
            .collect();
        // Frames, events, slot states and the lease out of it.
        while let Some(f) = node.poll_transmit() {
            if let Err(e) = socket.send(&f) {
                log.warn(ktime_now(), format!("sending a heartbeat: {e}"));
            }
        }
        while let Some(e) = node.poll_event() {
            log_event(&mut log, now, &e);
        }
        sync_slots(&node, &mut dp, &mut generation)?;
        // The link changed (carrier, hardware address, master): the switch behind it
        // may hold no membership for this port and stale MAC entries. Re-send the
        // membership at once, and re-announce the VIPs if this host answers for them.
        let link_changed = match ready.link.then(|| monitor.changes()) {
            Some(Ok(what)) => what,
            Some(Err(e)) => {
                log.warn(ktime_now(), format!("reading {iface}'s link changes: {e}"));
                None
            }
            None => None,
        };
        if let Some(what) = &link_changed {
            log.info(
                ktime_now(),
                format!("{iface}: {what}; re-announcing membership and VIPs"),
            );
            if let Some(m) = &igmp {
                next_igmp = now + Duration::from_secs(10);
                if let Err(e) = m.refresh() {
                    log.warn(
                        ktime_now(),
                        format!("re-announcing the IGMP membership: {e}"),
                    );
                }
            }
        }
        // Announce the VIPs when this host becomes the one that answers ARP for them
        // (on start and on every convergence that makes it the default host), and when
        // its link changed.
        let responder = node.slot_state(cluster.rules.len(), 0).admits_new_flows();
        if responder && (!arp_responder || link_changed.is_some()) {
            for v in &vips {
                let garp = nlb_dataplane::packet::gratuitous_arp(tx_mac.0, cluster_mac.0, *v);
                if let Err(e) = socket.send(&garp) {
                    log.warn(ktime_now(), format!("announcing {v}: {e}"));
                }
            }
            log.info(
                ktime_now(),
                format!("announced the VIPs at {cluster_mac} (gratuitous ARP)"),
            );
        }
        arp_responder = responder;
        let lease = node
            .lease_expiry()
            .map_or(Duration::MAX, Time::as_duration)
            .min(now + fence_span);
        dp.set_lease_deadline(lease)?;
        if now >= next_report {
            next_report = now + period;
            report_held(&mut node, &mut dp, cluster, now);
        }
        for (client, served) in served {
            let reply = match served {
                Served::Reply(r) => r,
                Served::HandOff(r) => {
                    signals.hand_off.store(true, Ordering::SeqCst);
                    r
                }
                Served::Changed(message) => {
                    // Count what the released slots hold now, so the reply (and
                    // drainstop --wait) shows connections, not unreported slots.
                    report_held(&mut node, &mut dp, cluster, now);
                    sync_slots(&node, &mut dp, &mut generation)?;
                    status(&node, &config, &dp, &log, now, Some(message))
                }
            };
            client.reply(&reply);
        }
        if signals.hand_off.load(Ordering::SeqCst) {
            let record = state::HandOffRecord {
                program_id,
                at: ktime_now(),
                node: node.hand_off(),
            };
            changes.record(|c| c.handoff = Some(record))?;
            // Everything stays in place for the successor, which takes it over.
            std::mem::forget(changes);
            log.info(
                ktime_now(),
                format!(
                    "handed off: the data path runs on; a successor started within {} ms adopts it",
                    loss_window.as_millis()
                ),
            );
            return Ok(());
        }
        if let Some(m) = &igmp {
            if now >= next_igmp {
                // Every 10 s; every second while no peer is heard: the switch may have
                // lost this port's membership (and with it the cluster's traffic), and
                // a host that hears nobody must not wait long to be found again.
                next_igmp = now
                    + if node.hears_peers(Time::from_duration(now)) {
                        Duration::from_secs(10)
                    } else {
                        Duration::from_secs(1)
                    };
                if let Err(e) = m.refresh() {
                    log.warn(
                        ktime_now(),
                        format!("re-announcing the IGMP membership: {e}"),
                    );
                }
            }
        }
        if stopping {
            log.info(
                ktime_now(),
                format!("stopped ({rejected} heartbeats rejected in all)"),
            );
            drop(dp);
            drop(changes);
            return Ok(());
        }
    }
}

/// Adopts a data path and state machine a predecessor handed off.
fn adopt(
    config: &Config,
    key: [u8; 32],
    h: &state::HandOffRecord,
    tx: nlb_core::mac::MacAddr,
    loss_window: Duration,
) -> anyhow::Result<(Dataplane, Node)> {
    let age = ktime_now().saturating_sub(h.at);
    if age >= loss_window {
        bail!(
            "it was handed off {} ms ago, beyond the loss window ({} ms): its peers have \
             taken its slots over",
            age.as_millis(),
            loss_window.as_millis()
        );
    }
    let dp = Dataplane::adopt(&config.cluster, h.program_id)?;
    let node = Node::resume(
        config,
        key,
        h.node.clone(),
        tx,
        Time::from_duration(ktime_now()),
    )?;
    Ok((dp, node))
}

/// Rewrites the data path's slot tables when the state machine's have changed.
fn sync_slots(node: &Node, dp: &mut Dataplane, generation: &mut u64) -> anyhow::Result<()> {
    if node.slots_generation() != *generation {
        *generation = node.slots_generation();
        for r in 0..=node.cluster().rules.len() {
            dp.set_slots(r, node.slot_states(r))?;
        }
    }
    Ok(())
}

/// Tells the state machine how many connections the data path still holds in each
/// released slot: the live ones (idle entries the program has not yet met a packet of
/// count as gone, as they are to the program).
fn report_held(
    node: &mut Node,
    dp: &mut Dataplane,
    cluster: &nlb_core::config::ClusterConfig,
    now: Duration,
) {
    let mut held: BTreeMap<(usize, u32), u32> = node.released_slots().map(|k| (k, 0)).collect();
    if held.is_empty() {
        return;
    }
    for c in dp.live_connections(ktime_now()) {
        let flow = Flow {
            vip: IpAddr::V4(c.vip),
            transport: Transport::from_ip_proto(c.proto),
            client: IpAddr::V4(c.client),
            client_port: c.client_port,
            server_port: c.server_port,
        };
        if let Some(n) = locate(cluster, &flow).and_then(|key| held.get_mut(&key)) {
            *n += 1;
        }
    }
    node.report_held_many(Time::from_duration(now), held);
}

/// Logs a state machine event.
fn log_event(log: &mut EventLog, now: Duration, e: &Event) {
    let hex = |d: &[u8]| d.iter().map(|b| format!("{b:02x}")).collect::<String>();
    match e {
        Event::HostJoined { host } => log.info(now, format!("host {host} joined")),
        Event::HostLost { host, reason } => log.info(now, format!("host {host} lost: {reason:?}")),
        Event::Converged { members, digest } => {
            let ids: Vec<String> = members.iter().map(|h| h.to_string()).collect();
            log.info(
                now,
                format!("converged: hosts {} (view {digest:016x})", ids.join(", ")),
            );
        }
        Event::OwnershipChanged {
            rule,
            gained,
            released,
        } => log.info(
            now,
            format!("rule {rule}: gained {gained} slots, released {released}"),
        ),
        Event::ConfigMismatch {
            host,
            theirs,
            we_stand_aside,
        } => log.warn(
            now,
            format!(
                "host {host} advertises another cluster configuration (digest {}); {}",
                hex(theirs),
                if *we_stand_aside {
                    "this host stands aside"
                } else {
                    "it is not admitted"
                }
            ),
        ),
        Event::DuplicateHostId { theirs, we_refuse } => log.warn(
            now,
            format!(
                "another host uses this host's id (boot {theirs}); {}",
                if *we_refuse {
                    "this newer host refuses to join"
                } else {
                    "the newer one must refuse"
                }
            ),
        ),
        Event::AuthenticationFailures { src, count } => log.warn(
            now,
            format!("{count} heartbeats failed authentication (latest from {src})"),
        ),
        Event::StateChanged { from, to } => log.info(now, format!("state {from:?} -> {to:?}")),
        Event::DrainTimedOut { held } => log.warn(
            now,
            format!("drainstop timed out: stopped with {held} connection(s) still open (dropped)"),
        ),
        Event::Stalled { gap } => log.warn(
            now,
            format!(
                "nlbd did not run for {} ms (a paused VM or a starved CPU): peers are not \
                 judged silent over that time, and new flows wait until they hear this host again",
                gap.as_millis()
            ),
        ),
        Event::PeerUnverified { host, frames } => log.warn(
            now,
            format!(
                "host {host} is heard but not admitted: {frames} of its heartbeats carry an \
                 incarnation that acknowledges none of this host's recent ones; either it \
                 cannot hear this host (check the path from here to it), or someone replays \
                 its old heartbeats"
            ),
        ),
    }
}
