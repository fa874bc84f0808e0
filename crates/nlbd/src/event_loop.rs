//! The daemon's loop: one wait over the heartbeat socket, the control socket and the
//! link monitor; frames and time into the state machine; control requests served;
//! heartbeats, slot states and the lease out of it into the wire and the data path;
//! and the way out (stop, or the hand-off exit).

use crate::core_events::log_event;
use crate::events::EventLog;
use crate::probes::ProbeResponder;
use crate::requests::{serve, status, Served};
use crate::signals::Signals;
use crate::state::{self, Changes};
use crate::{control, link, link_monitor, wait};
use anyhow::Context;
use nlb_core::config::Config;
use nlb_core::control::Reply;
use nlb_core::convergence::{Command, Node, Rejection};
use nlb_core::mac::MacAddr;
use nlb_core::probe;
use nlb_core::time::Time;
use nlb_dataplane::{ktime_now, packet, Dataplane};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tracing::debug;

/// Heartbeats handled per turn of the loop at most (255 peers send 10 a second each).
pub const FRAMES_PER_TURN: usize = 512;

/// A daemon that has started, as `startup::start` made it, for the loop to drive.
/// Its fields are in the order startup made them; the loop binds them in that order
/// too, so that they drop as they always did, last made first: the link monitor and
/// the sockets, then the data path, then the record of changes, whose drop undoes
/// what the data path needed.
pub struct Daemon {
    /// The recent log, kept for `nlb display`.
    pub log: EventLog,
    /// The configuration; a reload may change its host part.
    pub config: Config,
    /// The control socket.
    pub control: control::ControlSocket,
    /// The VIPs.
    pub vips: Vec<IpAddr>,
    /// The cluster MAC of the cluster's mode: what ARP answers for the IPv4 VIPs.
    pub cluster_mac: MacAddr,
    /// What neighbour discovery answers for the IPv6 VIPs (the cluster MAC, or in
    /// IGMP-multicast mode the MLD group's).
    pub cluster_mac6: MacAddr,
    /// The source MAC of frames this host sends (its NIC's own).
    pub tx_mac: MacAddr,
    /// What signals asked for.
    pub signals: Signals,
    /// What nlbd changed on the host, undone when it is dropped.
    pub changes: Changes,
    /// The data path.
    pub dp: Dataplane,
    /// The attached XDP program's id, recorded for a successor by a hand-off.
    pub program_id: u32,
    /// The heartbeat socket.
    pub socket: link::HeartbeatSocket,
    /// Group memberships: the IGMP-multicast mode's groups, IPv6 VIPs' solicited-node
    /// groups.
    pub groups: link::GroupMemberships,
    /// Answers `nlb doctor`'s path MTU probes.
    pub probes: ProbeResponder,
    /// Keeps what the operator set across restarts.
    pub operator: crate::operator::Keeper,
    /// The Prometheus endpoint, if configured.
    pub metrics: Option<crate::metrics::MetricsServer>,
    /// The state machine.
    pub node: Node,
    /// The cluster interface's link changes.
    pub monitor: link_monitor::LinkMonitor,
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

/// Runs the daemon until it stops or hands off.
pub fn run(d: Daemon) -> anyhow::Result<()> {
    // In the order of the struct's fields: see `Daemon`.
    let Daemon {
        mut log,
        mut config,
        mut control,
        vips,
        cluster_mac,
        cluster_mac6,
        tx_mac,
        signals,
        mut changes,
        mut dp,
        program_id,
        socket,
        groups,
        mut probes,
        mut operator,
        metrics,
        mut node,
        mut monitor,
    } = d;
    // The cluster part never changes while nlbd runs (a reload refuses to).
    let cluster = &config.cluster.clone();
    let iface = &config.host.interface.clone();
    let period = Duration::from_millis(cluster.heartbeat_period_ms.into());
    let loss_window = period * cluster.loss_tolerance;
    let now = ktime_now();
    // Made last, dropped first: before the sockets it waits on.
    let mut waiter = wait::Waiter::new(&socket, &control, &monitor)
        .with_context(|| format!("setting up the wait on {iface}'s sockets"))?;
    let fence_span = period * (cluster.loss_tolerance - 1);
    let mut buf = vec![0u8; 2048];
    let mut generation = u64::MAX;
    let mut next_report = now;
    let mut next_igmp = now + Duration::from_secs(10);
    let mut next_vip_count = now;
    let mut next_metrics = now;
    let mut last_vip_count = (now, vip_frames(&dp));
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
                Ok(Some((n, wire_len))) if probe::is_probe(&buf[..n]) => {
                    probes.answer(&buf[..n], wire_len, &socket, &config, tx_mac, &mut log);
                }
                Ok(Some((n, _))) => {
                    match node.handle_frame(Time::from_duration(ktime_now()), &buf[..n]) {
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
                    }
                }
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
        // Not while leaving on a signal: a stop for a restart is no operator's stop.
        if !stopping {
            operator.keep(&node, &mut log);
        }
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
            log_event(&mut log, now, &e, config.cluster.mode);
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
            next_igmp = now + Duration::from_secs(10);
            if let Err(e) = groups.refresh() {
                log.warn(
                    ktime_now(),
                    format!("re-announcing the group memberships: {e}"),
                );
            }
        }
        // Announce the VIPs when this host becomes the one that answers ARP for them
        // (on start and on every convergence that makes it the default host), and when
        // its link changed.
        let responder = node.slot_state(cluster.rules.len(), 0).admits_new_flows();
        if responder && (!arp_responder || link_changed.is_some()) {
            for v in &vips {
                let frame = match v {
                    IpAddr::V4(v) => packet::gratuitous_arp(tx_mac.0, cluster_mac.0, *v),
                    IpAddr::V6(v) => {
                        packet::unsolicited_advertisement(tx_mac.0, cluster_mac6.0, *v)
                    }
                };
                if let Err(e) = socket.send(&frame) {
                    log.warn(ktime_now(), format!("announcing {v}: {e}"));
                }
            }
            log.info(
                ktime_now(),
                if cluster_mac6 == cluster_mac {
                    format!(
                        "announced the VIPs at {cluster_mac} (gratuitous ARP, unsolicited \
                         neighbour advertisement)"
                    )
                } else {
                    format!(
                        "announced the VIPs at {cluster_mac}, the IPv6 ones at {cluster_mac6} \
                         (gratuitous ARP, unsolicited neighbour advertisement)"
                    )
                },
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
        if let (Some(m), true) = (&metrics, now >= next_metrics) {
            // Once a second: the page a scrape gets (see the metrics module).
            next_metrics = now + Duration::from_secs(1);
            if let Reply::Status { status: s, .. } = status(&node, &config, &dp, &log, now, None) {
                m.publish(nlb_core::control::metrics::render(&s));
            }
        }
        if now >= next_vip_count {
            // VIP frames a second, for the heartbeats: members that see far fewer than
            // the others show a switch that delivers to some ports only.
            let seen = vip_frames(&dp);
            let span = (now - last_vip_count.0).as_secs_f64().max(0.001);
            let rate = (seen.saturating_sub(last_vip_count.1) as f64 / span).min(u32::MAX as f64);
            node.note_vip_frames(rate as u32);
            last_vip_count = (now, seen);
            next_vip_count = now + Duration::from_secs(1);
        }
        if !groups.groups().is_empty() && now >= next_igmp {
            // Every 10 s; every second while no peer is heard: the switch may have lost
            // this port's memberships (and with them the cluster's traffic, or the
            // neighbour solicitations for IPv6 VIPs), and a host that hears nobody must
            // not wait long to be found again.
            next_igmp = now
                + if node.hears_peers(Time::from_duration(now)) {
                    Duration::from_secs(10)
                } else {
                    Duration::from_secs(1)
                };
            if let Err(e) = groups.refresh() {
                log.warn(
                    ktime_now(),
                    format!("re-announcing the group memberships: {e}"),
                );
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
        if let Some(n) = c.slot(cluster).and_then(|key| held.get_mut(&key)) {
            *n += 1;
        }
    }
    node.report_held_many(Time::from_duration(now), held);
}

/// The VIP frames the data path has seen (every verdict on a packet to a VIP).
fn vip_frames(dp: &Dataplane) -> u64 {
    const VIP_VERDICTS: [&str; 8] = [
        "admit_established",
        "admit_new",
        "admit_owned",
        "drop_not_owned",
        "drop_fenced",
        "drop_disabled",
        "admit_fragment",
        "drop_fragment",
    ];
    dp.counters()
        .unwrap_or_default()
        .into_iter()
        .filter(|(name, _)| VIP_VERDICTS.contains(name))
        .map(|(_, n)| n)
        .sum()
}
