//! The connection table from the daemon's side: the program's set-associative table
//! of the TCP connections this host holds (`struct conn_bucket` in `bpf/nlb_xdp.c`),
//! mapped into this process. Reads follow the program's seqlock (a bucket read while
//! its sequence is odd, or changed under the read, is read again); writes take the
//! bucket's lock as the program's writers do.

use crate::mapped::Mapped;
use crate::Error;
use aya::maps::MapData;
use std::net::Ipv4Addr;
use std::sync::atomic::{fence, AtomicU32, Ordering};
use std::time::Duration;

use crate::abi::{
    Bucket, CONN_BUCKET_BITS, CONN_CONFIRMED as CONFIRMED, CONN_V6, CONN_V6_RULE_SHIFT,
    CONN_V6_SLOT_MASK, CONN_WAYS as WAYS,
};

/// Bits of a bucket index.
const BUCKET_BITS: u32 = CONN_BUCKET_BITS as u32;
/// Buckets.
pub(crate) const BUCKETS: usize = 1 << BUCKET_BITS;
/// How long an unconfirmed entry lives without a packet (`UNCONFIRMED_TIMEOUT_NS`).
pub const UNCONFIRMED_TIMEOUT: Duration = Duration::from_nanos(crate::abi::UNCONFIRMED_TIMEOUT_NS);

/// Who a connection is, as far as the table says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnFlow {
    /// An IPv4 connection: its addresses.
    V4 {
        /// Client address.
        client: Ipv4Addr,
        /// The VIP.
        vip: Ipv4Addr,
    },
    /// An IPv6 connection: the table keeps a fingerprint of its addresses, and the rule
    /// and slot the program classified it in when it admitted its SYN.
    V6 {
        /// The rule (the rule count: no rule, the default host's traffic).
        rule: usize,
        /// The slot.
        slot: u32,
    },
}

/// One entry of the connection table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Connection {
    /// Its addresses (IPv4) or its slot (IPv6).
    pub flow: ConnFlow,
    /// Client port.
    pub client_port: u16,
    /// Server port.
    pub server_port: u16,
    /// IP protocol (only TCP connections are tracked).
    pub proto: u8,
    /// When a packet of it was last seen (kernel monotonic clock, refreshed at most
    /// once a second).
    pub last_seen: Duration,
    /// Whether the client's ACK was seen: the handshake completed. Unconfirmed entries
    /// (spoofed SYNs among them) give way to new connections and expire in a minute.
    pub confirmed: bool,
    /// Where it was found: bucket, way, and the words it was stored as.
    place: (usize, usize, u64, u32),
}

/// The mapped table.
pub(crate) struct ConnTable {
    mem: Mapped,
}

impl ConnTable {
    /// Maps the program's `CONNS` map.
    pub(crate) fn new(map: &MapData) -> Result<Self, Error> {
        Ok(ConnTable {
            mem: Mapped::new::<Bucket>(map, BUCKETS)?,
        })
    }

    fn bucket(&self, i: usize) -> *mut Bucket {
        assert!(i < BUCKETS);
        // SAFETY: in bounds (checked above; `new` checked the map holds BUCKETS buckets);
        // values are 8-byte aligned.
        unsafe { self.mem.ptr().cast::<Bucket>().add(i) }
    }

    fn seq(&self, i: usize) -> &AtomicU32 {
        // SAFETY: `seq` is an aligned u32 inside the mapping, which lives as long as
        // `self`; the program changes it only with atomic instructions.
        unsafe { AtomicU32::from_ptr(std::ptr::addr_of_mut!((*self.bucket(i)).seq)) }
    }

    /// A consistent copy of bucket `i`.
    fn read(&self, i: usize) -> Bucket {
        loop {
            let before = self.seq(i).load(Ordering::Acquire);
            if before & 1 == 1 {
                std::hint::spin_loop();
                continue;
            }
            // SAFETY: a racy read of plain data, trusted only if the sequence did not
            // move (the seqlock's rule); volatile so it is really read.
            let copy = unsafe { std::ptr::read_volatile(self.bucket(i)) };
            fence(Ordering::Acquire);
            if self.seq(i).load(Ordering::Relaxed) == before {
                return copy;
            }
        }
    }

    /// Runs `change` on bucket `i` holding its lock (the program's writers give up on
    /// a held bucket after a few tries, so it is held for a few writes only).
    fn with_lock(&self, i: usize, change: impl FnOnce(*mut Bucket)) {
        let seq = self.seq(i);
        loop {
            let s = seq.load(Ordering::Relaxed);
            if s & 1 == 0
                && seq
                    .compare_exchange_weak(s, s + 1, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
            {
                break;
            }
            std::hint::spin_loop();
        }
        change(self.bucket(i));
        seq.fetch_add(1, Ordering::Release);
    }

    /// Every connection in the table.
    pub(crate) fn entries(&self) -> Vec<Connection> {
        let mut out = Vec::new();
        for i in 0..BUCKETS {
            let b = self.read(i);
            for w in 0..WAYS {
                if b.addrs[w] != 0 {
                    out.push(decode(i, w, &b));
                }
            }
        }
        out
    }

    /// How many connections the table holds.
    pub(crate) fn count(&self) -> usize {
        (0..BUCKETS)
            .map(|i| self.read(i).addrs.iter().filter(|&&a| a != 0).count())
            .sum()
    }

    /// Sets the time connections were last seen, where they are still in the table,
    /// keeping whether they are confirmed.
    pub(crate) fn touch(&self, connections: &[Connection], at: Duration) {
        for c in connections {
            let at = (at.as_nanos() as u64 & !CONFIRMED) | u64::from(c.confirmed);
            let (i, w, addrs, ports) = c.place;
            self.with_lock(i, |b| {
                // SAFETY: `b` is bucket i, locked by us; the way is in bounds.
                unsafe {
                    if (*b).addrs[w] == addrs && (*b).ports[w] == ports {
                        std::ptr::write_volatile(std::ptr::addr_of_mut!((*b).seen_ns[w]), at);
                    }
                }
            });
        }
    }

    /// Forgets every connection.
    pub(crate) fn clear(&self) {
        for i in 0..BUCKETS {
            self.with_lock(i, |b| {
                // SAFETY: `b` is bucket i, locked by us.
                unsafe { std::ptr::write_volatile(std::ptr::addr_of_mut!((*b).addrs), [0; WAYS]) };
            });
        }
    }
}

impl Connection {
    /// The (rule, slot) it belongs to under `cluster`'s rules: an IPv4 connection is
    /// classified as the program does, an IPv6 one is where the program put it.
    pub fn slot(&self, cluster: &nlb_core::config::ClusterConfig) -> Option<(usize, u32)> {
        use nlb_core::classify::{locate, Flow};
        match self.flow {
            ConnFlow::V4 { client, vip } => locate(
                cluster,
                &Flow {
                    vip: vip.into(),
                    transport: nlb_core::rules::Transport::from_ip_proto(self.proto),
                    client: client.into(),
                    client_port: self.client_port,
                    server_port: self.server_port,
                },
            ),
            ConnFlow::V6 { rule, slot } => Some((rule, slot)),
        }
    }

    /// The client's IPv4 address (None for an IPv6 connection).
    pub fn client_v4(&self) -> Option<Ipv4Addr> {
        match self.flow {
            ConnFlow::V4 { client, .. } => Some(client),
            ConnFlow::V6 { .. } => None,
        }
    }

    /// Whether the data path counts it as gone by `now` (idle longer than
    /// `idle_timeout` when confirmed, than [`UNCONFIRMED_TIMEOUT`] when not), exactly
    /// as the program's `conn_idle` does.
    pub fn idle(&self, now: Duration, idle_timeout: Duration) -> bool {
        let limit = if self.confirmed {
            idle_timeout
        } else {
            UNCONFIRMED_TIMEOUT
        };
        now > self.last_seen && now - self.last_seen > limit
    }
}

/// The bucket the program keeps a connection in (`conn_bucket`).
#[cfg(test)]
pub(crate) fn bucket_index(conn_seed: u64, addrs: u64, ports: u32) -> usize {
    let h = fmix64(addrs ^ conn_seed) ^ u64::from(ports);
    (h.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - BUCKET_BITS)) as usize
}

#[cfg(test)]
fn fmix64(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^ (x >> 33)
}

fn decode(bucket: usize, way: usize, b: &Bucket) -> Connection {
    let (addrs, ports, v6) = (b.addrs[way], b.ports[way], b.v6_slots[way]);
    let flow = if v6 & CONN_V6 != 0 {
        ConnFlow::V6 {
            rule: ((v6 & !CONN_V6) >> CONN_V6_RULE_SHIFT) as usize,
            slot: v6 & CONN_V6_SLOT_MASK,
        }
    } else {
        ConnFlow::V4 {
            client: Ipv4Addr::from((addrs as u32).to_ne_bytes()),
            vip: Ipv4Addr::from(((addrs >> 32) as u32).to_ne_bytes()),
        }
    };
    Connection {
        flow,
        client_port: ports as u16,
        server_port: (ports >> 16) as u16,
        proto: 6,
        last_seen: Duration::from_nanos(b.seen_ns[way] & !CONFIRMED),
        confirmed: b.seen_ns[way] & CONFIRMED != 0,
        place: (bucket, way, addrs, ports),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::{self, tcp_flags};
    use crate::{ktime_now, Dataplane, UNCONFIRMED_TIMEOUT, XDP_DROP, XDP_PASS};
    use nlb_core::convergence::SlotState;

    #[test]
    fn the_program_trusts_no_bucket_a_writer_holds() {
        let (cluster, mut dp) = owned_web();
        let slots = cluster.table_size as usize;
        let (vip, client) = (
            Ipv4Addr::new(198, 51, 100, 10),
            Ipv4Addr::new(203, 0, 113, 7),
        );
        let mac = [2, 0, 0, 0, 0, 9];
        let syn = packet::tcp(mac, client, vip, 40000, 80, tcp_flags::SYN);
        let ack = packet::tcp(mac, client, vip, 40000, 80, tcp_flags::ACK);
        assert_eq!(dp.test_run(&syn, 1).unwrap().action, XDP_PASS);
        dp.set_slots(0, &vec![SlotState::ReleasedDraining; slots])
            .unwrap();
        assert_eq!(dp.test_run(&ack, 1).unwrap().action, XDP_PASS);
        let held = dp.connections_list().unwrap();
        assert_eq!(held.len(), 1);
        let bucket = held[0].place.0;
        dp.conns.with_lock(bucket, |_| {
            assert_eq!(
                dp.test_run(&ack, 1).unwrap().action,
                XDP_DROP,
                "read while a writer holds the bucket: not trusted"
            );
            let fin = packet::tcp(mac, client, vip, 40000, 80, tcp_flags::FIN);
            assert_eq!(dp.test_run(&fin, 1).unwrap().action, XDP_DROP);
        });
        assert_eq!(
            dp.test_run(&ack, 1).unwrap().action,
            XDP_PASS,
            "trusted again"
        );
        assert_eq!(dp.connections().unwrap(), 1);
    }

    fn owned_web() -> (nlb_core::config::ClusterConfig, Dataplane) {
        let text = "[cluster]\nname = \"ct\"\nvip = \"198.51.100.10\"\nkey_file = \"k\"\n\
            conn_idle_timeout_s = 600\n\
            [[cluster.rule]]\nports = 80\nprotocol = \"tcp\"\n\
            [host]\nid = 1\ninterface = \"eth0\"\n";
        let cluster = nlb_core::config::Config::parse(std::path::Path::new("ct.toml"), text)
            .unwrap()
            .cluster;
        let mut dp = Dataplane::load(&cluster).expect("load the XDP program (run as root)");
        dp.set_lease_deadline(ktime_now() + Duration::from_secs(3600))
            .unwrap();
        dp.set_slots(0, &vec![SlotState::Owned; cluster.table_size as usize])
            .unwrap();
        (cluster, dp)
    }

    const VIP: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 10);
    const MAC: [u8; 6] = [2, 0, 0, 0, 0, 9];

    fn key_words(client: Ipv4Addr, port: u16) -> (u64, u32) {
        let c = u32::from_ne_bytes(client.octets());
        let v = u32::from_ne_bytes(VIP.octets());
        ((v as u64) << 32 | c as u64, 80 << 16 | port as u32)
    }

    #[test]
    fn fully_owned_connections_age_by_their_own_packets_only() {
        let (c, mut dp) = owned_web();
        let client = Ipv4Addr::new(203, 0, 113, 7);
        let syn = packet::tcp(MAC, client, VIP, 40000, 80, tcp_flags::SYN);
        let ack = packet::tcp(MAC, client, VIP, 40000, 80, tcp_flags::ACK);
        assert_eq!(dp.test_run(&syn, 1).unwrap().action, XDP_PASS);
        assert!(!dp.connections_list().unwrap()[0].confirmed);
        assert_eq!(dp.test_run(&ack, 1).unwrap().action, XDP_PASS);
        assert!(
            dp.connections_list().unwrap()[0].confirmed,
            "the client's ACK confirms it, in a fully owned slot too"
        );
        // 500 s without a packet (the idle timeout is 600 s): a packet in a fully
        // owned slot refreshes it.
        let stale = ktime_now() - Duration::from_secs(500);
        dp.touch(&dp.connections_list().unwrap(), stale).unwrap();
        assert_eq!(dp.test_run(&ack, 1).unwrap().action, XDP_PASS);
        let seen = dp.connections_list().unwrap()[0].last_seen;
        assert!(seen > stale + Duration::from_secs(400), "refreshed");
        // Idle past conn_idle_timeout_s: gone for the daemon's count at once, and for
        // the program at its next packet (which, in a released slot, is dropped).
        dp.touch(
            &dp.connections_list().unwrap(),
            ktime_now() - Duration::from_secs(601),
        )
        .unwrap();
        assert!(dp.live_connections(ktime_now()).is_empty());
        dp.set_slots(0, &vec![SlotState::ReleasedDraining; c.table_size as usize])
            .unwrap();
        assert_eq!(dp.test_run(&ack, 1).unwrap().action, XDP_DROP);
        assert_eq!(dp.connections().unwrap(), 0);
        // An unconfirmed entry (a SYN and nothing after) lives a minute only.
        dp.set_slots(0, &vec![SlotState::Owned; c.table_size as usize])
            .unwrap();
        assert_eq!(dp.test_run(&syn, 1).unwrap().action, XDP_PASS);
        let now = ktime_now();
        assert_eq!(dp.live_connections(now).len(), 1);
        dp.touch(
            &dp.connections_list().unwrap(),
            now - UNCONFIRMED_TIMEOUT - Duration::from_secs(1),
        )
        .unwrap();
        assert!(dp.live_connections(ktime_now()).is_empty());
    }

    #[test]
    fn a_syn_flood_never_evicts_an_established_connection() {
        let (_, dp) = owned_web();
        let seed = dp.config.fixed.conn_seed;
        let victim = (Ipv4Addr::new(203, 0, 113, 7), 40000);
        let (a, p) = key_words(victim.0, victim.1);
        let bucket = bucket_index(seed, a, p);
        let syn = |(c, port): (Ipv4Addr, u16)| packet::tcp(MAC, c, VIP, port, 80, tcp_flags::SYN);
        let ack = |(c, port): (Ipv4Addr, u16)| packet::tcp(MAC, c, VIP, port, 80, tcp_flags::ACK);
        assert_eq!(dp.test_run(&syn(victim), 1).unwrap().action, XDP_PASS);
        assert_eq!(dp.test_run(&ack(victim), 1).unwrap().action, XDP_PASS);
        // Spoofed sources whose flows land in the victim's bucket.
        let spoofed: Vec<(Ipv4Addr, u16)> = (0..=255u8)
            .flat_map(|h| (1024..65535u16).map(move |port| (Ipv4Addr::new(198, 51, 100, h), port)))
            .filter(|&(c, port)| {
                let (a, p) = key_words(c, port);
                bucket_index(seed, a, p) == bucket
            })
            .take(40)
            .collect();
        assert_eq!(spoofed.len(), 40, "enough flows share the bucket");
        for &f in &spoofed {
            assert_eq!(dp.test_run(&syn(f), 1).unwrap().action, XDP_PASS);
        }
        let in_bucket = |dp: &Dataplane| {
            dp.connections_list()
                .unwrap()
                .into_iter()
                .filter(|c| c.place.0 == bucket)
                .collect::<Vec<_>>()
        };
        let held = in_bucket(&dp);
        assert_eq!(held.len(), WAYS);
        assert!(
            held.iter()
                .any(|c| (c.client_v4().unwrap(), c.client_port) == victim && c.confirmed),
            "the established connection stays"
        );
        let counters: std::collections::BTreeMap<_, _> =
            dp.counters().unwrap().into_iter().collect();
        assert_eq!(counters["conn_evicted_unconfirmed"], 40 - (WAYS as u64 - 1));
        // A bucket of established connections only: a new one goes untracked (it is
        // still admitted in a fully owned slot) and evicts none of them.
        let unconfirmed: Vec<(Ipv4Addr, u16)> = held
            .iter()
            .filter(|c| !c.confirmed)
            .map(|c| (c.client_v4().unwrap(), c.client_port))
            .collect();
        for &f in &unconfirmed {
            assert_eq!(dp.test_run(&ack(f), 1).unwrap().action, XDP_PASS);
        }
        assert!(in_bucket(&dp).iter().all(|c| c.confirmed));
        let newcomer = *spoofed.iter().find(|f| !unconfirmed.contains(f)).unwrap();
        assert_eq!(dp.test_run(&syn(newcomer), 1).unwrap().action, XDP_PASS);
        let counters: std::collections::BTreeMap<_, _> =
            dp.counters().unwrap().into_iter().collect();
        assert_eq!(counters["conn_table_full"], 1);
        assert!(in_bucket(&dp)
            .iter()
            .any(|c| (c.client_v4().unwrap(), c.client_port) == victim));
    }

    #[test]
    fn decodes_the_program_words() {
        let mut b = Bucket {
            seq: 0,
            pad: 0,
            addrs: [0; WAYS],
            ports: [0; WAYS],
            seen_ns: [0; WAYS],
            v6_slots: [0; WAYS],
        };
        let client = u32::from_ne_bytes([203, 0, 113, 7]);
        let vip = u32::from_ne_bytes([198, 51, 100, 10]);
        b.addrs[3] = (vip as u64) << 32 | client as u64;
        b.ports[3] = 80 << 16 | 40000;
        b.seen_ns[3] = 5;
        let c = decode(9, 3, &b);
        assert!(c.confirmed);
        assert_eq!(
            c.flow,
            ConnFlow::V4 {
                client: Ipv4Addr::new(203, 0, 113, 7),
                vip: Ipv4Addr::new(198, 51, 100, 10)
            }
        );
        assert_eq!((c.client_port, c.server_port), (40000, 80));
        assert_eq!(c.last_seen, Duration::from_nanos(4));
        b.addrs[4] = 0x1234_5678_9abc_def1;
        b.ports[4] = 443 << 16 | 50000;
        b.v6_slots[4] = 0x8000_0000 | 2 << 20 | 65536;
        let c = decode(9, 4, &b);
        assert_eq!(
            c.flow,
            ConnFlow::V6 {
                rule: 2,
                slot: 65536
            }
        );
        assert_eq!((c.client_port, c.server_port), (50000, 443));
    }
}
