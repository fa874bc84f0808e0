//! The lab's service and client. The service answers `host N` on accept and again to
//! every line it receives, so a test can hold a connection open and ask which host
//! serves it before and after a change. The client makes connections to the VIP.

use anyhow::Context;
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

/// Serves `host ID` on TCP port `port` of every address, IPv4 and IPv6, forever.
pub fn serve(id: u8, port: u16) -> anyhow::Result<()> {
    // An IPv6 socket takes IPv4 connections too (as ::ffff:a.b.c.d) unless the
    // namespace says otherwise (bindv6only), when it serves IPv6 only.
    let listener = TcpListener::bind(("::", port)).with_context(|| format!("port {port}"))?;
    for stream in listener.incoming().flatten() {
        std::thread::spawn(move || answer(id, stream));
    }
    Ok(())
}

fn answer(id: u8, stream: TcpStream) {
    let line = format!("host {id}\n");
    let mut writer = &stream;
    if writer.write_all(line.as_bytes()).is_err() {
        return;
    }
    let mut reader = BufReader::new(&stream);
    let mut buf = String::new();
    while matches!(reader.read_line(&mut buf), Ok(n) if n > 0) {
        buf.clear();
        if writer.write_all(line.as_bytes()).is_err() {
            return;
        }
    }
}

/// One connection's outcome.
#[derive(Clone, Debug, Serialize)]
pub struct Attempt {
    /// When it started, relative to the start of the run.
    pub at_ms: f64,
    /// The host that answered, or None on failure.
    pub host: Option<u8>,
}

/// Opens a connection and reads the host id; None when it fails within `timeout`.
pub fn ask(addr: SocketAddr, timeout: Duration) -> Option<u8> {
    let s = TcpStream::connect_timeout(&addr, timeout).ok()?;
    s.set_read_timeout(Some(timeout)).ok()?;
    read_host(&s)
}

/// Reads one `host N` line.
pub fn read_host(s: &TcpStream) -> Option<u8> {
    let mut line = String::new();
    BufReader::new(s).read_line(&mut line).ok()?;
    line.trim().strip_prefix("host ")?.parse().ok()
}

/// `connections` connections one after another.
pub fn burst(addr: SocketAddr, connections: usize, timeout: Duration) -> Vec<Attempt> {
    let start = Instant::now();
    (0..connections)
        .map(|_| Attempt {
            at_ms: start.elapsed().as_secs_f64() * 1e3,
            host: ask(addr, timeout),
        })
        .collect()
}

/// Served connections per host, and failures.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Tally {
    /// Connections answered, by host id.
    pub served: BTreeMap<u8, usize>,
    /// Connections that failed.
    pub failed: usize,
}

impl Tally {
    /// Counts attempts.
    pub fn of(attempts: &[Attempt]) -> Self {
        let mut t = Tally::default();
        for a in attempts {
            match a.host {
                Some(h) => *t.served.entry(h).or_default() += 1,
                None => t.failed += 1,
            }
        }
        t
    }

    /// All connections counted.
    pub fn total(&self) -> usize {
        self.served.values().sum::<usize>() + self.failed
    }
}
