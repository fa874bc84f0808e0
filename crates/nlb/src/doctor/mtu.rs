//! Path MTU to each peer over the heartbeat channel: probe requests of growing size go
//! to every member at once (broadcast), each member's nlbd answers with a frame of the
//! same size (`nlb_core::probe`), and a binary search finds, per peer, the largest frame
//! that makes the round trip. Layer 2 only: a switch port with a smaller MTU drops
//! larger frames without a word, which is exactly what this finds.

use super::socket::PacketSocket;
use nlb_core::mac::MacAddr;
use nlb_core::probe::{Probe, ProbeKind, MIN_FRAME};
use nlb_core::wire::{ETHERTYPE, ETH_HEADER_LEN};
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// How long replies to one round of requests are awaited.
const ROUND: Duration = Duration::from_millis(150);
/// Requests per size: a frame lost by chance is not taken for a short path.
const TRIES: usize = 2;

/// What the probes found for one peer.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct PeerPath {
    /// The peer's host id.
    pub host: u8,
    /// Its interface MTU, as it reported it.
    pub peer_mtu: u32,
    /// The largest Ethernet payload (the MTU's measure) that made the round trip.
    pub largest_payload: usize,
}

/// Probes every member reachable on the interface (`ifindex`, MTU `mtu`) from `own`
/// with `key`; `own_id` marks this host's requests.
pub fn probe_peers(
    ifindex: u32,
    own: MacAddr,
    own_id: u8,
    mtu: usize,
    key: &[u8; 32],
) -> anyhow::Result<Vec<PeerPath>> {
    let socket = PacketSocket::open(ifindex, ETHERTYPE)?;
    let mut token = rand_token();
    let mut buf = vec![0u8; 2048];
    // One round: who answers a request of `payload` bytes (their reported MTUs); done
    // early once every host of `expect` answered.
    let mut round = |payload: usize, expect: &[u8]| -> anyhow::Result<BTreeMap<u8, u32>> {
        let mut answered = BTreeMap::new();
        for _ in 0..TRIES {
            token = token.wrapping_add(1);
            let request = Probe {
                kind: ProbeKind::Request,
                host_id: own_id,
                token,
                len: (ETH_HEADER_LEN + payload).max(MIN_FRAME),
                mtu: mtu as u32,
            };
            // A request larger than this interface's MTU cannot leave: nobody answers.
            let _ = socket.send(&request.encode(MacAddr([0xff; 6]), own, key));
            let deadline = Instant::now() + ROUND;
            while let Some((n, wire)) = socket.recv_until(&mut buf, deadline)? {
                if let Ok(p) = Probe::parse(&buf[..n], wire, key) {
                    if p.kind == ProbeKind::Reply && p.token == token && p.host_id != own_id {
                        answered.insert(p.host_id, p.mtu);
                    }
                }
                if !expect.is_empty() && expect.iter().all(|h| answered.contains_key(h)) {
                    return Ok(answered);
                }
            }
        }
        Ok(answered)
    };
    let small = MIN_FRAME - ETH_HEADER_LEN;
    let peers = round(small, &[])?;
    let hosts: Vec<u8> = peers.keys().copied().collect();
    let full = round(mtu, &hosts)?;
    let mut paths = Vec::new();
    // Per peer: the largest payload known to pass, and the smallest known to fail.
    let mut bounds: BTreeMap<u8, (usize, usize)> = BTreeMap::new();
    for (&host, &peer_mtu) in &peers {
        if full.contains_key(&host) {
            paths.push(PeerPath {
                host,
                peer_mtu,
                largest_payload: mtu,
            });
        } else {
            bounds.insert(host, (small, mtu));
        }
    }
    // Binary search to the byte, every unfinished peer in the same round.
    while let Some(&(lo, hi)) = bounds.values().find(|&&(lo, hi)| hi - lo > 1) {
        let mid = lo + (hi - lo) / 2;
        let asked: Vec<u8> = bounds
            .iter()
            .filter(|(_, b)| b.0 < mid && mid < b.1)
            .map(|(h, _)| *h)
            .collect();
        let answered = round(mid, &asked)?;
        for host in asked {
            let b = bounds.get_mut(&host).expect("asked");
            if answered.contains_key(&host) {
                b.0 = mid;
            } else {
                b.1 = mid;
            }
        }
    }
    for (host, (lo, _)) in bounds {
        paths.push(PeerPath {
            host,
            peer_mtu: peers[&host],
            largest_payload: lo,
        });
    }
    paths.sort_by_key(|p| p.host);
    Ok(paths)
}

fn rand_token() -> u64 {
    let mut b = [0u8; 8];
    let _ = rustix::rand::getrandom(&mut b, rustix::rand::GetRandomFlags::empty());
    u64::from_ne_bytes(b)
}
