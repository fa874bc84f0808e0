//! The simulated world: hosts running [`Node`]s on their own clocks, the event queue,
//! and the scenario's actions. Each other concern is its own part: the network, the
//! clocks, the clients, the attacker and the checkers.

mod attacker;
mod checkers;
mod clients;
mod clock;
mod network;

pub use checkers::Fault;
use clients::Conn;
use clock::{Clock, MAX_DRIFT_PPM};
use network::Net;

use crate::rng::Rng;
use crate::scenario::{Action, Scenario};
use crate::Report;
use nlb_core::classify::{locate, Flow, Ownership};
use nlb_core::config::Config;
use nlb_core::convergence::{Command, Event, HandOff, Node, RuleSelector};
use nlb_core::mac::MacAddr;
use nlb_core::rules::Transport;
use nlb_core::time::Time;
use nlb_core::wire::WireState;
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
    /// When the current (or last) partition began and when it healed.
    partition_at: Option<Duration>,
    healed_at: Duration,
    /// Until when the last partition, which lasted long enough for each side to know
    /// the other dead, excuses resets across it (see `reset_excused`).
    long_cut_until: Duration,
    /// I1 is not checked across hosts cut apart until this time (a partition and the
    /// convergence after it heals).
    partition_grace_until: Duration,
    fault_since: Option<Duration>,
    crash_at: Option<Duration>,
    truth_cache: HashMap<u64, Rc<Ownership>>,
    pub(crate) report: Report,
    pub(crate) trace: Vec<(Duration, usize, Option<u64>, u64)>,
    convergence_bound: Duration,
    /// The scenario's end, the start of its quiet end, and its draining host.
    end: Duration,
    quiet_from: Duration,
    drain_host: Option<usize>,
}

impl World {
    /// A world of `hosts` hosts for `scenario`, seeded by `seed`, with everything
    /// scheduled and nothing run yet; with an attacker that forges frames, and if
    /// `replays` also replays captured ones; with a fault planted in every host, if any.
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
            partition_at: None,
            healed_at: Duration::ZERO,
            long_cut_until: Duration::ZERO,
            partition_grace_until: Duration::ZERO,
            fault_since: None,
            crash_at: None,
            truth_cache: HashMap::new(),
            report: Report::new(seed, hosts.len(), scenario),
            trace: Vec::new(),
            convergence_bound: period * (config.loss_tolerance + 5),
            hosts,
            end: Duration::ZERO,
            quiet_from: Duration::ZERO,
            drain_host: None,
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
                opens_at: t,
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
                    opens_at: at,
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
        w.end = plan.end;
        w.quiet_from = plan.quiet_from;
        w.drain_host = plan.drain_host;
        w
    }

    /// Runs the scenario to its end and checks what holds at the end.
    pub fn run(mut self) -> World {
        self.run_until(self.end);
        self.finish(self.quiet_from, self.drain_host);
        self
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

    // ----- after a host handled an input -----

    /// Host `h`'s monotonic time now.
    fn local(&self, h: usize) -> Time {
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

    fn fault(&mut self) {
        self.fault_since = Some(self.now);
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
                self.partition_at = Some(now);
                self.partition_grace_until = Duration::MAX;
            }
            Action::Heal => {
                for host in &mut self.hosts {
                    host.group = 0;
                }
                self.partitioned = false;
                self.partition_grace_until = now + self.convergence_bound;
                self.healed_at = now;
                if self
                    .partition_at
                    .is_some_and(|t| now - t >= self.dead_after())
                {
                    self.long_cut_until = self.partition_grace_until;
                }
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
}
