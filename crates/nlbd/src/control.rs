//! The control socket: the abstract Unix socket `@nlb/<interface>`, root only. Its
//! protocol is `nlb_core::control`; this module only moves its lines.
//!
//! An abstract socket belongs to the network namespace and disappears with the
//! process, so a crashed nlbd leaves nothing to clean up, and binding it is how a
//! second nlbd on the same interface of the same namespace is refused.
//!
//! Nothing here blocks the daemon's loop: clients are accepted and read without
//! waiting, a partial request waits for the next turn, and a client that says nothing
//! for a second is dropped.

use anyhow::Context;
use nlb_core::control::{socket_name, Reply, Request};
use std::io::{ErrorKind, Read, Write};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixListener, UnixStream};
use std::time::{Duration, Instant};

/// Requests longer than this are refused (a request is a few dozen bytes).
const MAX_REQUEST: usize = 64 * 1024;
/// How long a client may take to send its whole request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(1);
/// Clients waiting for their request to arrive; more are refused at once.
const MAX_PENDING: usize = 64;

/// The listening socket and the clients still sending their request.
pub struct ControlSocket {
    listener: UnixListener,
    pending: Vec<Pending>,
}

struct Pending {
    stream: UnixStream,
    received: Vec<u8>,
    deadline: Instant,
}

/// A client waiting for its reply.
pub struct Client {
    stream: UnixStream,
}

impl std::os::fd::AsFd for ControlSocket {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.listener.as_fd()
    }
}

impl ControlSocket {
    /// Binds `@nlb/<interface>`; fails with a clear message when another nlbd holds it.
    pub fn bind(interface: &str) -> anyhow::Result<Self> {
        let name = socket_name(interface);
        let addr = SocketAddr::from_abstract_name(name.as_bytes())
            .with_context(|| format!("control socket @{name}"))?;
        let listener = UnixListener::bind_addr(&addr).map_err(|e| {
            if e.kind() == ErrorKind::AddrInUse {
                anyhow::anyhow!(
                    "another nlbd is running on {interface} in this network namespace \
                     (its control socket @{name} is bound); stop it first (`nlb stop` only \
                     leaves the cluster: stop the process, e.g. `systemctl stop nlbd@...`)"
                )
            } else {
                anyhow::Error::new(e).context(format!("control socket @{name}"))
            }
        })?;
        listener
            .set_nonblocking(true)
            .with_context(|| format!("control socket @{name}"))?;
        Ok(ControlSocket {
            listener,
            pending: Vec::new(),
        })
    }

    /// Accepts new clients and reads what has arrived, without waiting. Returns the
    /// clients whose request is complete. Clients that are not root, send something
    /// that is not a request, or take too long get their error reply here.
    pub fn poll(&mut self) -> Vec<(Client, Request)> {
        let now = Instant::now();
        while let Ok((stream, _)) = self.listener.accept() {
            let client = Client { stream };
            if self.pending.len() >= MAX_PENDING {
                client.reply(&Reply::error("too many clients at once; try again"));
                continue;
            }
            match peer_uid(&client.stream) {
                Some(0) => {}
                Some(uid) => {
                    client.reply(&Reply::error(format!(
                        "permission denied: nlbd's control socket answers root only (you are uid {uid})"
                    )));
                    continue;
                }
                None => {
                    client.reply(&Reply::error(
                        "permission denied: cannot tell who is asking",
                    ));
                    continue;
                }
            }
            if client.stream.set_nonblocking(true).is_err() {
                continue;
            }
            self.pending.push(Pending {
                stream: client.stream,
                received: Vec::new(),
                deadline: now + REQUEST_TIMEOUT,
            });
        }
        let mut ready = Vec::new();
        let mut still = Vec::new();
        for mut p in self.pending.drain(..) {
            let mut chunk = [0u8; 4096];
            let outcome = loop {
                match p.stream.read(&mut chunk) {
                    Ok(0) => break Some(Err(None)),
                    Ok(n) => {
                        p.received.extend_from_slice(&chunk[..n]);
                        if p.received.contains(&b'\n') {
                            break Some(Ok(()));
                        }
                        if p.received.len() > MAX_REQUEST {
                            break Some(Err(Some("the request is too long".to_string())));
                        }
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break None,
                    Err(e) => break Some(Err(Some(format!("reading the request: {e}")))),
                }
            };
            let client = Client { stream: p.stream };
            match outcome {
                Some(Ok(())) => {
                    let line = p.received.split(|b| *b == b'\n').next().unwrap_or(&[]);
                    match serde_json::from_slice::<Request>(line) {
                        Ok(r) => ready.push((client, r)),
                        Err(e) => client.reply(&Reply::error(format!("not a request: {e}"))),
                    }
                }
                // The client went away: nobody to answer.
                Some(Err(None)) => {}
                Some(Err(Some(message))) => client.reply(&Reply::error(message)),
                None if now >= p.deadline => {
                    client.reply(&Reply::error("no request within a second"));
                }
                None => still.push(Pending {
                    stream: client.stream,
                    received: p.received,
                    deadline: p.deadline,
                }),
            }
        }
        self.pending = still;
        ready
    }
}

impl Client {
    /// Writes the reply and closes. A client that does not read it loses it.
    ///
    /// The write does not wait for the client: a reply (a few KB, a status with every
    /// peer and rule) fits in the socket's send buffer (208 KiB by default), which
    /// the kernel charges to this socket whether or not the client reads. The timeout
    /// only bounds what would otherwise be unbounded. `verbs_against_a_lab_cluster`
    /// (tests/lab.rs of nlb) holds clients that never read beside the heartbeats.
    pub fn reply(self, reply: &Reply) {
        let _ = self.stream.set_nonblocking(false);
        let _ = self
            .stream
            .set_write_timeout(Some(Duration::from_millis(100)));
        let envelope = nlb_core::control::Envelope::new(reply.clone());
        if let Ok(mut text) = serde_json::to_string(&envelope) {
            text.push('\n');
            let _ = (&self.stream).write_all(text.as_bytes());
        }
    }
}

/// The user id of the process that connected (SO_PEERCRED), if the kernel tells.
fn peer_uid(stream: &UnixStream) -> Option<u32> {
    rustix::net::sockopt::socket_peercred(stream)
        .ok()
        .map(|c| c.uid.as_raw())
}
