//! What the state machine's tests share: a configuration, and a lab of nodes whose
//! frames reach every other node at once while time advances in steps.

// Each test file uses only some of these.
#![allow(dead_code)]

use nlb_core::config::Config;
use nlb_core::convergence::{Event, Node, QueryState};
use nlb_core::mac::MacAddr;
use nlb_core::time::Time;
use std::path::Path;
use std::time::Duration;

pub const KEY: [u8; 32] = [42; 32];

pub fn config(id: u8, extra: &str) -> Config {
    let text = format!(
        r#"
[cluster]
name = "t"
vip = "198.51.100.10"
key_file = "k"
table_size = 251
{extra}
[[cluster.rule]]
name = "web"
ports = 80
protocol = "tcp"

[host]
id = {id}
interface = "eth0"
"#
    );
    Config::parse(Path::new("t.toml"), &text).unwrap()
}

/// The point `ms` milliseconds after the clock's origin.
pub fn at_ms(ms: u64) -> Time {
    Time::from_duration(Duration::from_millis(ms))
}

/// A node started at time zero with `key` (its MAC ends in its id).
pub fn lone(id: u8, key: [u8; 32]) -> Node {
    Node::new(
        &config(id, ""),
        key,
        1,
        0,
        MacAddr([2, 0, 0, 0, 0, id]),
        Time::ZERO,
    )
}

pub struct Lab {
    pub configs: Vec<Config>,
    pub nodes: Vec<Node>,
    pub now: Time,
    /// Nodes that neither send nor receive.
    pub cut: Vec<bool>,
    pub events: Vec<Vec<Event>>,
}

impl Lab {
    pub fn new(configs: &[Config]) -> Lab {
        let nodes: Vec<Node> = configs
            .iter()
            .enumerate()
            .map(|(i, c)| {
                Node::new(
                    c,
                    KEY,
                    100 + i as u64,
                    1000 * i as u64,
                    MacAddr([2, 0, 0, 0, 0, i as u8]),
                    Time::ZERO,
                )
            })
            .collect();
        let n = nodes.len();
        Lab {
            configs: configs.to_vec(),
            nodes,
            now: Time::ZERO,
            cut: vec![false; n],
            events: vec![vec![]; n],
        }
    }

    pub fn pump(&mut self) {
        loop {
            let mut frames = Vec::new();
            for (i, n) in self.nodes.iter_mut().enumerate() {
                while let Some(f) = n.poll_transmit() {
                    if !self.cut[i] {
                        frames.push((i, f));
                    }
                }
                while let Some(e) = n.poll_event() {
                    self.events[i].push(e);
                }
            }
            if frames.is_empty() {
                return;
            }
            for (from, f) in frames {
                for to in 0..self.nodes.len() {
                    if to != from && !self.cut[to] {
                        let _ = self.nodes[to].handle_frame(self.now, &f);
                    }
                }
            }
        }
    }

    pub fn run_for(&mut self, ms: u64) {
        for _ in 0..ms {
            self.now += Duration::from_millis(1);
            for n in &mut self.nodes {
                n.tick(self.now);
            }
            self.pump();
        }
    }

    /// A node started now with `nonce`.
    pub fn add(&mut self, config: Config, nonce: u64) {
        let i = self.nodes.len();
        self.configs.push(config.clone());
        self.nodes.push(Node::new(
            &config,
            KEY,
            nonce,
            1000 * i as u64,
            MacAddr([2, 0, 0, 0, 0, i as u8]),
            self.now,
        ));
        self.cut.push(false);
        self.events.push(vec![]);
    }

    /// Node `i` restarts now as a new incarnation with `nonce`.
    pub fn restart(&mut self, i: usize, nonce: u64) {
        let config = self.configs[i].clone();
        self.nodes[i] = Node::new(
            &config,
            KEY,
            nonce,
            77_000 + i as u64,
            MacAddr([2, 0, 0, 0, 0, i as u8]),
            self.now,
        );
    }

    /// Runs for `ms` and returns the frames node `i` sent meanwhile.
    pub fn capture(&mut self, i: usize, ms: u64) -> Vec<Vec<u8>> {
        let mut got = Vec::new();
        for _ in 0..ms {
            self.now += Duration::from_millis(1);
            for n in &mut self.nodes {
                n.tick(self.now);
            }
            let frames: Vec<Vec<u8>> =
                std::iter::from_fn(|| self.nodes[i].poll_transmit()).collect();
            for f in &frames {
                for to in 0..self.nodes.len() {
                    if to != i && !self.cut[to] {
                        let _ = self.nodes[to].handle_frame(self.now, f);
                    }
                }
            }
            got.extend(frames);
            self.pump();
        }
        got
    }

    /// Runs for `ms` in 10 ms steps (for minutes of simulated time).
    pub fn run_coarse(&mut self, ms: u64) {
        for _ in 0..ms / 10 {
            self.now += Duration::from_millis(10);
            for n in &mut self.nodes {
                n.tick(self.now);
            }
            self.pump();
        }
    }

    pub fn state(&self, i: usize) -> QueryState {
        self.nodes[i].snapshot(self.now).state
    }

    pub fn owned(&self, i: usize) -> usize {
        self.nodes[i]
            .slot_states(0)
            .iter()
            .filter(|s| s.admits_new_flows())
            .count()
    }
}
