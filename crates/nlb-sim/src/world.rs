//! The simulated world: hosts running [`Node`]s, a seeded faulty network, modelled
//! client connections with each host's connection table, an attacker, and the
//! invariant checks.

use crate::rng::Rng;
use crate::scenario::{Action, Scenario};
use crate::Report;
use nlb_core::classify::{locate, Flow, Ownership};
use nlb_core::config::Config;
use nlb_core::convergence::{
    owner_of, Command, Event, HandOff, Node, RuleSelector, SlotState, View,
};
use nlb_core::mac::MacAddr;
use nlb_core::rules::Transport;
use nlb_core::wire::{Heartbeat, HeartbeatView, WireState};
use std::cmp::Ordering;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::rc::Rc;
use std::time::Duration;

/// Slots per table in simulation: small and prime, so whole tables are checked often.
pub const SIM_TABLE_SIZE: u32 = 251;
const CHECK_EVERY: Duration = Duration::from_millis(5);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// The cluster every simulated host runs: a multiple-host rule (affinity none), a
/// single-host rule, and the default host's traffic.
pub fn sim_config(id: u8) -> Config {
    let text = format!(
        r#"
[cluster]
name = "sim"
vip = "198.51.100.10"
mode = "igmp-multicast"
key_file = "sim.key"
table_size = {SIM_TABLE_SIZE}

[[cluster.rule]]
name = "web"
ports = 80
protocol = "tcp"
affinity = "none"

[[cluster.rule]]
name = "admin"
ports = 22
protocol = "tcp"
filtering = "single"

[host]
id = {id}
interface = "sim0"
"#
    );
    Config::parse(Path::new("sim.toml"), &text).expect("simulation config is valid")
}

#[derive(Clone)]
enum Ev {
    /// `attacker`: None for the network's own deliveries; Some(true) for a replay of a
    /// genuine frame, Some(false) for a forged one.
    Deliver {
        to: usize,
        frame: Rc<Vec<u8>>,
        attacker: Option<bool>,
    },
    Tick {
        host: usize,
    },
    Open {
        conn: usize,
    },
    Packet {
        conn: usize,
    },
    Close {
        conn: usize,
    },
    Action(Action),
    Check,
    Attack,
    /// A host's successor process resumes what its predecessor handed off.
    Resume {
        host: usize,
        state: Box<HandOff>,
    },
    /// A paused host's process runs again.
    Unpause {
        host: usize,
    },
}

/// A fault planted in every host, to show that the invariant checks catch it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The data path admits new flows whatever the lease says.
    IgnoreLease,
    /// The data path reports no connection in released slots, however many it holds.
    ForgetHeld,
    /// Replay protection is broken: a replayed frame is taken as the sender's newest
    /// (modelled by re-issuing it, under the cluster key, with a sequence number above
    /// every real one).
    AcceptReplays,
}

/// The same heartbeat with another sequence number, signed again.
fn reissue(frame: &[u8], key: &[u8; 32], seq: u64) -> Option<Vec<u8>> {
    let v = HeartbeatView::parse(frame, key).ok()?;
    Some(
        Heartbeat {
            dst: v.dst(),
            src: v.src(),
            host_id: v.host_id(),
            state: v.state(),
            cluster_digest: v.cluster_digest(),
            boot_nonce: v.boot_nonce(),
            age: v.age(),
            seq,
            proposed: v.proposed(),
            committed: v.committed(),
            held: v.held(),
            rules: v.rules().collect(),
            view: v.view().collect(),
            held_filter: v.held_filter().to_vec(),
        }
        .encode(key),
    )
}

/// A host's clocks: a monotonic one that runs from its own origin at a rate off true
/// time by a bounded drift, and a wall clock that operators and NTP can step.
#[derive(Clone, Copy, Debug)]
struct Clock {
    origin_ns: u64,
    drift_ppm: i64,
    wall_offset_ns: i64,
}

/// The most a simulated host's clock runs fast or slow (a common crystal's bound).
const MAX_DRIFT_PPM: u64 = 100;

impl Clock {
    /// The host's monotonic time at true time `t`.
    fn local(&self, t: Duration) -> Duration {
        let n = t.as_nanos() as i128;
        let l = i128::from(self.origin_ns) + n + n * i128::from(self.drift_ppm) / 1_000_000;
        Duration::from_nanos(l as u64)
    }

    /// The earliest true time at which the host's monotonic clock reads at least
    /// `local` (with a microsecond to spare for rounding).
    fn global(&self, local: Duration) -> Duration {
        let l = local.as_nanos() as i128 - i128::from(self.origin_ns);
        if l <= 0 {
            return Duration::ZERO;
        }
        let den = 1_000_000 + i128::from(self.drift_ppm);
        let t = (l * 1_000_000 + den - 1) / den + 1_000;
        Duration::from_nanos(t as u64)
    }

    /// The wall clock at true time `t`, in ns since the epoch.
    fn wall(&self, t: Duration) -> u64 {
        (t.as_nanos() as i128 + i128::from(self.wall_offset_ns)) as u64
    }
}

struct Queued {
    at: Duration,
    seq: u64,
    ev: Ev,
}

impl PartialEq for Queued {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.seq) == (o.at, o.seq)
    }
}
impl Eq for Queued {}
impl PartialOrd for Queued {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Queued {
    fn cmp(&self, o: &Self) -> Ordering {
        // Reversed: BinaryHeap is a max-heap and we want the earliest first.
        (o.at, o.seq).cmp(&(self.at, self.seq))
    }
}

struct Host {
    config: Config,
    node: Option<Node>,
    /// The incarnation nonce of its running node.
    nonce: u64,
    mac: MacAddr,
    /// Connections this host's data path holds: conn -> (rule, slot).
    conntrack: BTreeMap<usize, (usize, u32)>,
    reported: BTreeMap<(usize, u32), u32>,
    scheduled_tick: Option<Duration>,
    /// Slots whose state admits new flows (lease not applied), one bit per slot.
    admit_bits: Vec<Vec<u64>>,
    group: usize,
    last_trace: Option<(Option<u64>, u64)>,
    clock: Clock,
    /// The process is frozen: it neither sends, receives nor ticks; its data path runs.
    paused: bool,
}

struct Conn {
    rule: usize,
    slot: u32,
    holder: Option<usize>,
    closes_at: Duration,
    alive: bool,
    /// Time between its packets, in ms: least and most.
    gap_ms: (u64, u64),
}

/// The network's behaviour.
#[derive(Clone, Copy)]
struct Net {
    loss: f64,
    dup: f64,
    delay_min_us: u64,
    delay_jitter_us: u64,
}

impl Net {
    /// A calm network: no loss, sub-millisecond delay.
    fn calm(rng: &mut Rng) -> Net {
        Net {
            loss: 0.0,
            dup: 0.0,
            delay_min_us: rng.range(20, 100),
            delay_jitter_us: rng.range(100, 1000),
        }
    }

    /// A flaky one: loss, duplicates, and delays that reorder frames.
    fn flaky(rng: &mut Rng) -> Net {
        Net {
            loss: rng.range(3, 15) as f64 / 100.0,
            dup: rng.range(0, 10) as f64 / 100.0,
            delay_min_us: rng.range(50, 500),
            delay_jitter_us: rng.range(5_000, 40_000),
        }
    }
}

/// One simulation run.
pub struct World {
    now: Duration,
    seq: u64,
    queue: BinaryHeap<Queued>,
    hosts: Vec<Host>,
    conns: Vec<Conn>,
    net: Net,
    calm: Net,
    flaky: Net,
    fault: Option<Fault>,
    net_rng: Rng,
    traffic_rng: Rng,
    attack_rng: Rng,
    attacker: bool,
    /// Whether the attacker's replays are delivered (its forgeries always are).
    replays: bool,
    captured: Vec<(Duration, Rc<Vec<u8>>)>,
    key: [u8; 32],
    partitioned: bool,
    /// I1 is not checked across hosts cut apart until this time (a partition and the
    /// convergence after it heals).
    partition_grace_until: Duration,
    fault_since: Option<Duration>,
    crash_at: Option<Duration>,
    truth_cache: HashMap<u64, Rc<Ownership>>,
    pub(crate) report: Report,
    pub(crate) trace: Vec<(Duration, usize, Option<u64>, u64)>,
    convergence_bound: Duration,
}

impl World {
    /// A world of `hosts` hosts for `scenario`, seeded by `seed`; with an attacker that
    /// forges frames, and if `replays` also replays captured ones; with a fault planted
    /// in every host, if any.
    pub fn new(
        hosts: usize,
        seed: u64,
        scenario: Scenario,
        attacker: bool,
        replays: bool,
        fault: Option<Fault>,
    ) -> World {
        let mut rng = Rng::new(seed);
        let net_rng = rng.fork(1);
        let traffic_rng = rng.fork(2);
        let mut setup = rng.fork(3);
        let attack_rng = rng.fork(4);
        let mut env = rng.fork(5);
        let calm = Net::calm(&mut env);
        let flaky = Net::flaky(&mut env);
        // Distinct host ids spread over 1..=255.
        let mut ids: Vec<u8> = Vec::new();
        while ids.len() < hosts {
            let id = setup.range(1, 255) as u8;
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        let hosts: Vec<Host> = ids
            .iter()
            .map(|&id| Host {
                config: sim_config(id),
                node: None,
                nonce: 0,
                mac: MacAddr([0x02, 0, 0, 0, 0, id]),
                conntrack: BTreeMap::new(),
                reported: BTreeMap::new(),
                scheduled_tick: None,
                admit_bits: vec![vec![0; 4], vec![0; 1], vec![0; 1]],
                group: 0,
                last_trace: None,
                clock: Clock {
                    // Each host's monotonic clock has its own origin (its uptime) and
                    // rate; wall clocks agree to within a second, around 2026.
                    origin_ns: env.range(1, 1_000_000) * 1_000_000,
                    drift_ppm: env.range(0, 2 * MAX_DRIFT_PPM) as i64 - MAX_DRIFT_PPM as i64,
                    wall_offset_ns: 1_790_000_000_000_000_000 + env.below(1_000_000_000) as i64,
                },
                paused: false,
            })
            .collect();
        let config = &hosts[0].config.cluster;
        let period = Duration::from_millis(config.heartbeat_period_ms.into());
        let mut key = [0u8; 32];
        for (i, b) in key.iter_mut().enumerate() {
            *b = (seed >> (i % 8)) as u8 ^ i as u8;
        }
        let mut w = World {
            now: Duration::ZERO,
            seq: 0,
            queue: BinaryHeap::new(),
            conns: Vec::new(),
            net: calm,
            calm,
            flaky,
            fault,
            net_rng,
            traffic_rng,
            attack_rng,
            attacker,
            replays,
            captured: Vec::new(),
            key,
            partitioned: false,
            partition_grace_until: Duration::ZERO,
            fault_since: None,
            crash_at: None,
            truth_cache: HashMap::new(),
            report: Report::new(seed, hosts.len(), scenario),
            trace: Vec::new(),
            convergence_bound: period * (config.loss_tolerance + 5),
            hosts,
        };
        let plan = scenario.plan(w.hosts.len(), &mut setup);
        for (at, action) in plan.actions {
            w.push(at, Ev::Action(action));
        }
        w.push(Duration::ZERO, Ev::Check);
        // Clients open connections through the run, except the quiet end.
        let mut t = ms(500);
        let traffic_end = plan.end.saturating_sub(ms(2000));
        while t < traffic_end {
            let conn = w.conns.len();
            let rule = if w.traffic_rng.chance(0.1) { 1 } else { 0 };
            let client = IpAddr::V4(Ipv4Addr::new(
                203,
                0,
                113,
                w.traffic_rng.range(1, 254) as u8,
            ));
            let port = w.traffic_rng.range(1024, 65535) as u16;
            let flow = Flow {
                vip: w.hosts[0].config.cluster.vip,
                transport: Transport::Tcp,
                client,
                client_port: port,
                server_port: if rule == 0 { 80 } else { 22 },
            };
            let (located, slot) = locate(&w.hosts[0].config.cluster, &flow).expect("to the VIP");
            debug_assert_eq!(located, rule);
            let closes_at = t + ms(w.traffic_rng.range(300, 6000));
            w.conns.push(Conn {
                rule,
                slot,
                holder: None,
                closes_at,
                alive: false,
                gap_ms: (100, 250),
            });
            w.push(t, Ev::Open { conn });
            t += Duration::from_micros(w.traffic_rng.range(5_000, 60_000));
        }
        if scenario == Scenario::LongLived {
            // Connections that outlive every timer, idle up to 90 s between packets.
            for _ in 0..40 {
                let conn = w.conns.len();
                let at = ms(w.traffic_rng.range(500, 10_000));
                let client = Ipv4Addr::new(203, 0, 113, w.traffic_rng.range(1, 254) as u8);
                let flow = Flow {
                    vip: w.hosts[0].config.cluster.vip,
                    transport: Transport::Tcp,
                    client: IpAddr::V4(client),
                    client_port: w.traffic_rng.range(1024, 65535) as u16,
                    server_port: 80,
                };
                let (rule, slot) = locate(&w.hosts[0].config.cluster, &flow).expect("to the VIP");
                w.conns.push(Conn {
                    rule,
                    slot,
                    holder: None,
                    closes_at: ms(w.traffic_rng.range(100_000, 170_000)),
                    alive: false,
                    gap_ms: (1_000, 90_000),
                });
                w.push(at, Ev::Open { conn });
            }
        }
        if attacker {
            w.push(ms(50), Ev::Attack);
        }
        w.report.end_ms = plan.end.as_millis() as u64;
        w.run_until(plan.end);
        w.finish(plan.quiet_from, plan.drain_host);
        w
    }

    fn push(&mut self, at: Duration, ev: Ev) {
        self.seq += 1;
        self.queue.push(Queued {
            at,
            seq: self.seq,
            ev,
        });
    }

    fn run_until(&mut self, end: Duration) {
        while let Some(q) = self.queue.pop() {
            if q.at > end {
                break;
            }
            self.now = q.at;
            self.report.events += 1;
            match q.ev {
                Ev::Deliver {
                    to,
                    frame,
                    attacker,
                } => self.deliver(to, &frame, attacker),
                Ev::Tick { host } => {
                    if self.hosts[host].scheduled_tick == Some(self.now) {
                        self.hosts[host].scheduled_tick = None;
                        if self.hosts[host].paused {
                            continue;
                        }
                        let local = self.local(host);
                        if let Some(n) = self.hosts[host].node.as_mut() {
                            n.tick(local);
                        }
                        self.after(host);
                    }
                }
                Ev::Unpause { host } => {
                    self.hosts[host].paused = false;
                    let local = self.local(host);
                    if let Some(n) = self.hosts[host].node.as_mut() {
                        n.tick(local);
                    }
                    self.after(host);
                }
                Ev::Open { conn } => self.open(conn),
                Ev::Packet { conn } => self.packet(conn),
                Ev::Close { conn } => self.close(conn),
                Ev::Action(a) => self.act(a),
                Ev::Resume { host, state } => {
                    let local = self.local(host);
                    let h = &mut self.hosts[host];
                    let node = Node::resume(&h.config, self.key, *state, h.mac, local)
                        .expect("the successor runs the same configuration");
                    h.node = Some(node);
                    self.after(host);
                }
                Ev::Check => {
                    self.check();
                    self.push(self.now + CHECK_EVERY, Ev::Check);
                }
                Ev::Attack => {
                    self.attack();
                    let next = self.now + Duration::from_micros(self.attack_rng.range(500, 4000));
                    self.push(next, Ev::Attack);
                }
            }
        }
        self.now = end;
    }

    // ----- the network -----

    fn broadcast(&mut self, from: usize, frame: Vec<u8>) {
        let frame = Rc::new(frame);
        self.report.frames_sent += 1;
        if self.attacker {
            self.captured.push((self.now, frame.clone()));
            if self.captured.len() > 4096 {
                self.captured.drain(..2048);
            }
        }
        for to in 0..self.hosts.len() {
            if to == from || self.hosts[to].group != self.hosts[from].group {
                continue;
            }
            if self.net_rng.chance(self.net.loss) {
                continue;
            }
            let copies = if self.net_rng.chance(self.net.dup) {
                2
            } else {
                1
            };
            for _ in 0..copies {
                let d = self.net.delay_min_us + self.net_rng.below(self.net.delay_jitter_us + 1);
                let at = self.now + Duration::from_micros(d);
                self.push(
                    at,
                    Ev::Deliver {
                        to,
                        frame: frame.clone(),
                        attacker: None,
                    },
                );
            }
        }
    }

    fn deliver(&mut self, to: usize, frame: &[u8], attacker: Option<bool>) {
        let now = self.now;
        let local = self.local(to);
        if self.hosts[to].paused {
            return;
        }
        let Some(node) = self.hosts[to].node.as_mut() else {
            return;
        };
        let result = node.handle_frame(local, frame);
        if let Some(replay) = attacker {
            self.report.attacker_frames += 1;
            // A forged frame must never pass. A replayed genuine frame may be recorded by
            // a host that has heard nothing newer from its sender (it cannot know it is
            // old); the trace comparison checks that it changes nothing.
            if result.is_ok() && !replay {
                self.report.violation(
                    now,
                    format!(
                        "I4: host {} accepted a forged frame",
                        self.hosts[to].config.host.id
                    ),
                );
            }
            if result.is_ok() && replay {
                self.report.replays_recorded += 1;
            }
        } else {
            self.report.frames_delivered += 1;
        }
        self.after(to);
    }

    // ----- after a host handled an input -----

    /// Host `h`'s monotonic time now.
    fn local(&self, h: usize) -> Duration {
        self.hosts[h].clock.local(self.now)
    }

    fn after(&mut self, h: usize) {
        if self.hosts[h].paused {
            // A frozen process does nothing; its data path's tables stay as they were.
            self.check_i1(h);
            return;
        }
        let now = self.local(h);
        let forget_held = self.fault == Some(Fault::ForgetHeld);
        for _ in 0..8 {
            let Some(node) = self.hosts[h].node.as_mut() else {
                return;
            };
            let mut out = Vec::new();
            while let Some(f) = node.poll_transmit() {
                out.push(f);
            }
            let id = node.id().0;
            while let Some(e) = node.poll_event() {
                if let Event::StateChanged {
                    to: WireState::Stopped,
                    ..
                } = e
                {
                    self.report.hosts_stopped.push(id);
                }
            }
            for f in out {
                self.broadcast(h, f);
            }
            // The data path reports connections it holds in released slots.
            let node = self.hosts[h].node.as_mut().expect("checked");
            let released: Vec<(usize, u32)> = node.released_slots().collect();
            let host = &mut self.hosts[h];
            host.reported.retain(|k, _| released.contains(k));
            let mut changes = Vec::new();
            for key in released {
                let mut held = host.conntrack.values().filter(|&&k| k == key).count() as u32;
                if forget_held {
                    held = 0;
                }
                if host.reported.insert(key, held) != Some(held) {
                    changes.push((key, held));
                }
            }
            if changes.is_empty() {
                break;
            }
            host.node
                .as_mut()
                .expect("checked")
                .report_held_many(now, changes);
        }
        self.update_admits(h);
        self.check_i1(h);
        self.trace(h);
        self.schedule_tick(h);
    }

    fn schedule_tick(&mut self, h: usize) {
        let now = self.now;
        let local = self.local(h);
        let host = &mut self.hosts[h];
        let Some(node) = host.node.as_ref() else {
            host.scheduled_tick = None;
            return;
        };
        let d = host.clock.global(node.next_deadline(local)).max(now);
        if host.scheduled_tick.is_none_or(|s| d < s || s < now) {
            host.scheduled_tick = Some(d);
            self.push(d, Ev::Tick { host: h });
        }
    }

    fn update_admits(&mut self, h: usize) {
        let host = &mut self.hosts[h];
        for bits in host.admit_bits.iter_mut() {
            bits.fill(0);
        }
        let Some(node) = host.node.as_ref() else {
            return;
        };
        for (r, bits) in host.admit_bits.iter_mut().enumerate() {
            for (s, st) in node.slot_states(r).iter().enumerate() {
                if st.admits_new_flows() {
                    bits[s / 64] |= 1 << (s % 64);
                }
            }
        }
    }

    fn lease_ok(&self, h: usize) -> bool {
        let local = self.local(h);
        self.hosts[h].node.as_ref().is_some_and(|n| {
            self.fault == Some(Fault::IgnoreLease) || n.lease_expiry().is_none_or(|e| local < e)
        })
    }

    /// A partitioned cluster cannot tell a dead peer from an unreachable one: each side
    /// carries on alone (as Windows NLB does), so hosts cut apart, and every host until
    /// the convergence bound after the partition heals, are not held to I1 and I3.
    fn exempt(&self, a: usize, b: usize) -> bool {
        if self.partitioned {
            self.hosts[a].group != self.hosts[b].group
        } else {
            self.now < self.partition_grace_until
        }
    }

    /// I1: at most one host admits new flows in any slot.
    fn check_i1(&mut self, h: usize) {
        if !self.lease_ok(h) {
            return;
        }
        for g in 0..self.hosts.len() {
            if g == h || !self.lease_ok(g) || self.exempt(h, g) {
                continue;
            }
            for r in 0..self.hosts[h].admit_bits.len() {
                for w in 0..self.hosts[h].admit_bits[r].len() {
                    let both = self.hosts[h].admit_bits[r][w] & self.hosts[g].admit_bits[r][w];
                    if both != 0 {
                        let slot = w * 64 + both.trailing_zeros() as usize;
                        let msg = format!(
                            "I1: hosts {} and {} both admit new flows in rule {r} slot {slot}",
                            self.hosts[h].config.host.id, self.hosts[g].config.host.id
                        );
                        self.report.violation(self.now, msg);
                        return;
                    }
                }
            }
        }
    }

    fn trace(&mut self, h: usize) {
        let host = &mut self.hosts[h];
        let entry = match host.node.as_ref() {
            None => (None, 0),
            Some(n) => {
                let mut x = 0xcbf2_9ce4_8422_2325u64;
                for r in 0..host.admit_bits.len() {
                    for s in n.slot_states(r) {
                        x = (x ^ *s as u64).wrapping_mul(0x100_0000_01b3);
                    }
                }
                (n.committed_digest(), x)
            }
        };
        if host.last_trace != Some(entry) {
            host.last_trace = Some(entry);
            self.trace.push((self.now, h, entry.0, entry.1));
        }
    }

    // ----- ground truth and convergence -----

    /// The ownership the live hosts should converge to, from what they really are.
    fn truth(&mut self) -> Option<Rc<Ownership>> {
        let members: Vec<_> = self
            .hosts
            .iter()
            .filter_map(|h| h.node.as_ref()?.as_member())
            .collect();
        if members.is_empty() {
            return None;
        }
        let view = View::new(members);
        let d = view.digest();
        if let Some(o) = self.truth_cache.get(&d) {
            return Some(o.clone());
        }
        let o = Rc::new(Ownership::build(
            &self.hosts[0].config.cluster,
            &view.live_hosts(),
        ));
        self.truth_cache.insert(d, o.clone());
        Some(o)
    }

    /// True when every slot is admitted by exactly the host the live hosts should agree on.
    fn converged(&mut self) -> usize {
        let truth = self.truth();
        let mut wrong = 0;
        let leases: Vec<bool> = (0..self.hosts.len()).map(|h| self.lease_ok(h)).collect();
        for r in 0..3usize {
            let n = self.hosts[0].admit_bits[r].len() * 64;
            let slots = match r {
                0 => SIM_TABLE_SIZE as usize,
                _ => 1,
            }
            .min(n);
            for s in 0..slots {
                let want = truth.as_ref().and_then(|o| owner_of(o, r, s as u32));
                let mut admitting =
                    self.hosts.iter().enumerate().filter(|(i, h)| {
                        leases[*i] && h.admit_bits[r][s / 64] & (1 << (s % 64)) != 0
                    });
                let first = admitting.next().map(|(_, h)| h.config.host.id);
                let more = admitting.next().is_some();
                if more || first != want {
                    wrong += 1;
                }
            }
        }
        wrong
    }

    fn check(&mut self) {
        if let Some(since) = self.fault_since {
            if !self.partitioned && self.converged() == 0 {
                let took = self.now - since;
                self.report
                    .convergences_ms
                    .push(took.as_secs_f64() * 1000.0);
                if let Some(c) = self.crash_at.take() {
                    let failover = self.now - c;
                    self.report.failover_ms = Some(failover.as_secs_f64() * 1000.0);
                    if failover > ms(1000) {
                        self.report.violation(
                            self.now,
                            format!(
                                "failover took {} ms, more than 1000 ms",
                                failover.as_millis()
                            ),
                        );
                    }
                }
                self.fault_since = None;
            }
        }
    }

    fn fault(&mut self) {
        self.fault_since = Some(self.now);
    }

    // ----- clients -----

    fn open(&mut self, c: usize) {
        let now = self.now;
        let (rule, slot) = (self.conns[c].rule, self.conns[c].slot);
        let admitting: Vec<usize> = (0..self.hosts.len())
            .filter(|&h| {
                self.hosts[h].node.as_ref().is_some_and(|n| {
                    n.slot_state(rule, slot).admits_new_flows() && self.lease_ok(h)
                })
            })
            .collect();
        self.report.connections += 1;
        match admitting.as_slice() {
            [] => self.report.refused_new_flows += 1,
            [h] => {
                let h = *h;
                self.conns[c].holder = Some(h);
                self.conns[c].alive = true;
                self.hosts[h].conntrack.insert(c, (rule, slot));
                let (lo, hi) = self.conns[c].gap_ms;
                let next = now + ms(self.traffic_rng.range(lo, hi));
                self.push(next, Ev::Packet { conn: c });
                let close = self.conns[c].closes_at;
                self.push(close, Ev::Close { conn: c });
                self.after(h);
            }
            many => {
                // I1 is reported by the slot check; here the client sees two answers.
                self.report.duplicate_answers += 1;
                let _ = many;
            }
        }
    }

    fn packet(&mut self, c: usize) {
        if !self.conns[c].alive {
            return;
        }
        let Some(holder) = self.conns[c].holder else {
            return;
        };
        if !self.hosts[holder].conntrack.contains_key(&c) {
            self.conns[c].alive = false;
            self.report.lost_with_host += 1;
            return;
        }
        let (rule, slot) = (self.conns[c].rule, self.conns[c].slot);
        let holder_id = self.hosts[holder].config.host.id;
        let holder_nonce = self.hosts[holder].nonce;
        for g in 0..self.hosts.len() {
            if g == holder || !self.lease_ok(g) {
                continue;
            }
            let Some(node) = self.hosts[g].node.as_ref() else {
                continue;
            };
            if node.slot_state(rule, slot) != SlotState::Owned {
                continue;
            }
            // Host g takes a segment of a connection it does not know: its kernel resets it.
            let holder_is_member = node
                .committed_view()
                .is_some_and(|v| v.contains(holder_id, holder_nonce));
            self.conns[c].alive = false;
            self.hosts[holder].conntrack.remove(&c);
            if holder_is_member && !self.exempt(holder, g) {
                self.report.broken_connections += 1;
                let msg = format!(
                    "I3: host {} reset a connection held by host {} in rule {rule} slot {slot}",
                    self.hosts[g].config.host.id, holder_id
                );
                self.report.violation(self.now, msg);
            } else {
                self.report.excused_resets += 1;
            }
            self.after(holder);
            return;
        }
        let (lo, hi) = self.conns[c].gap_ms;
        let next = self.now + ms(self.traffic_rng.range(lo, hi));
        self.push(next, Ev::Packet { conn: c });
    }

    fn close(&mut self, c: usize) {
        if !self.conns[c].alive {
            return;
        }
        self.conns[c].alive = false;
        self.report.completed += 1;
        if let Some(h) = self.conns[c].holder {
            self.hosts[h].conntrack.remove(&c);
            self.after(h);
        }
    }

    // ----- scenario actions -----

    fn act(&mut self, a: Action) {
        let now = self.now;
        let local = |w: &World, h: usize| w.local(h);
        match a {
            Action::Boot(h) => {
                let local = local(self, h);
                let host = &mut self.hosts[h];
                if host.node.is_some() {
                    return;
                }
                host.conntrack.clear();
                host.reported.clear();
                let seq_start = self.net_rng.next_u64() >> 1;
                // The incarnation nonce is the wall clock, as a naive daemon would take
                // it: the core must not depend on it growing (see ClockStep).
                let nonce = host.clock.wall(now);
                host.nonce = nonce;
                host.node = Some(Node::new(
                    &host.config,
                    self.key,
                    nonce,
                    seq_start,
                    host.mac,
                    local,
                ));
                self.fault();
                self.after(h);
            }
            Action::Crash(h) => {
                if self.hosts[h].node.take().is_some() {
                    self.hosts[h].conntrack.clear();
                    self.hosts[h].scheduled_tick = None;
                    self.update_admits(h);
                    self.fault();
                    // The one-second failover bound holds on a healthy network.
                    if self.crash_at.is_none() && self.net.loss == 0.0 {
                        self.crash_at = Some(now);
                    }
                }
            }
            Action::HandOff(h, gap) => {
                // Between the processes nothing runs: no frame is sent or handled, and
                // (conservatively) the data path admits nothing; connections stay.
                let Some(node) = self.hosts[h].node.take() else {
                    return;
                };
                let state = Box::new(node.hand_off());
                self.hosts[h].scheduled_tick = None;
                self.update_admits(h);
                self.push(now + gap, Ev::Resume { host: h, state });
            }
            Action::Command(h, cmd) => {
                let local = local(self, h);
                let Some(node) = self.hosts[h].node.as_mut() else {
                    return;
                };
                if node.command(local, cmd).is_ok() {
                    match cmd {
                        Command::Stop | Command::Suspend => self.hosts[h].conntrack.clear(),
                        Command::Disable(sel) => self.hosts[h].conntrack.retain(|_, (r, _)| {
                            !(sel == RuleSelector::All || sel == RuleSelector::Index(*r))
                        }),
                        _ => {}
                    }
                    self.fault();
                }
                self.after(h);
            }
            Action::Partition(side) => {
                for (i, host) in self.hosts.iter_mut().enumerate() {
                    host.group = usize::from(side.contains(&i));
                }
                self.partitioned = true;
                self.partition_grace_until = Duration::MAX;
            }
            Action::Heal => {
                for host in &mut self.hosts {
                    host.group = 0;
                }
                self.partitioned = false;
                self.partition_grace_until = now + self.convergence_bound;
                self.fault();
            }
            Action::Flaky(on) => self.net = if on { self.flaky } else { self.calm },
            Action::Pause(h, span) => {
                if self.hosts[h].node.is_some() {
                    self.hosts[h].paused = true;
                    self.fault();
                    self.push(now + span, Ev::Unpause { host: h });
                }
            }
            Action::StepClock(h, by_ms) => {
                self.hosts[h].clock.wall_offset_ns += by_ms * 1_000_000;
            }
        }
    }

    // ----- the attacker -----

    fn attack(&mut self) {
        let now = self.now;
        let to = self.attack_rng.below(self.hosts.len() as u64) as usize;
        let kind = self.attack_rng.below(5);
        let replay = kind <= 1;
        let frame: Vec<u8> = match kind {
            // Replay a frame captured at least three periods ago (a fresher "replay" is
            // just a slow network, and carries true news).
            0 | 1 => {
                let old: Vec<&(Duration, Rc<Vec<u8>>)> = self
                    .captured
                    .iter()
                    .filter(|(t, _)| now.saturating_sub(*t) >= ms(300))
                    .collect();
                if old.is_empty() {
                    return;
                }
                let i = self.attack_rng.below(old.len() as u64) as usize;
                let frame = old[i].1.as_ref().clone();
                if self.fault == Some(Fault::AcceptReplays) {
                    let seq = (1 << 63) + self.report.attacker_frames;
                    reissue(&frame, &self.key, seq).unwrap_or(frame)
                } else {
                    frame
                }
            }
            // A captured frame with bits flipped.
            2 => {
                let Some((_, f)) = self.captured.last() else {
                    return;
                };
                let mut g = f.as_ref().clone();
                let i = self.attack_rng.below(g.len() as u64) as usize;
                g[i] ^= 1 << self.attack_rng.below(8);
                g
            }
            // A well-formed heartbeat under a guessed key, claiming a member's id.
            3 => {
                let victim = self.hosts[self.attack_rng.below(self.hosts.len() as u64) as usize]
                    .config
                    .host
                    .id;
                let mut key = [0u8; 32];
                for b in &mut key {
                    *b = self.attack_rng.next_u64() as u8;
                }
                Heartbeat {
                    dst: MacAddr::BROADCAST,
                    src: MacAddr([2, 0xde, 0xad, 0, 0, victim.0]),
                    host_id: victim.0,
                    state: WireState::Started,
                    cluster_digest: self.hosts[0].config.cluster.digest().0,
                    boot_nonce: u64::MAX,
                    age: Duration::from_secs(3600),
                    seq: u64::MAX,
                    proposed: 1,
                    committed: Some(1),
                    held: 0,
                    rules: vec![],
                    view: vec![],
                    held_filter: vec![],
                }
                .encode(&key)
            }
            // Noise.
            _ => {
                let n = self.attack_rng.range(0, 200) as usize;
                (0..n).map(|_| self.attack_rng.next_u64() as u8).collect()
            }
        };
        if replay && !self.replays {
            return;
        }
        self.push(
            now,
            Ev::Deliver {
                to,
                frame: Rc::new(frame),
                attacker: Some(replay),
            },
        );
    }

    // ----- the end -----

    fn finish(&mut self, quiet_from: Duration, drain_host: Option<usize>) {
        // I2: after the network has been stable for the convergence bound, every slot
        // has exactly one owner among the live, started hosts.
        if self.now >= quiet_from + self.convergence_bound {
            let wrong = self.converged();
            if wrong > 0 {
                let msg = format!(
                    "I2: {wrong} slots without exactly their one rightful owner {} ms after the network became stable",
                    (self.now - quiet_from).as_millis()
                );
                self.report.violation(self.now, msg);
            }
        }
        if let Some(h) = drain_host {
            let state = self.hosts[h].node.as_ref().map(|n| n.state());
            if state != Some(WireState::Stopped) {
                let msg = format!(
                    "drainstop: host {} is {:?} at the end, not stopped",
                    self.hosts[h].config.host.id, state
                );
                self.report.violation(self.now, msg);
            }
        }
        self.report.max_convergence_ms = self
            .report
            .convergences_ms
            .iter()
            .copied()
            .fold(0.0, f64::max);
    }
}
