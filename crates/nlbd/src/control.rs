//! The control socket: the abstract Unix socket `@nlb/<interface>`, root only. Its
//! protocol is `nlb_core::control`; this module only moves its lines.
//!
//! An abstract socket belongs to the network namespace and disappears with the
//! process, so a crashed nlbd leaves nothing to clean up, and binding it is how a
//! second nlbd on the same interface of the same namespace is refused.

use nlb_core::control::{socket_name, Reply, Request};
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::os::fd::AsRawFd;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixListener, UnixStream};
use std::time::Duration;

/// Requests longer than this are refused (a request is a few dozen bytes).
const MAX_REQUEST: u64 = 64 * 1024;

/// The listening socket.
pub struct ControlSocket {
    listener: UnixListener,
}

/// A client waiting for its reply.
pub struct Client {
    stream: UnixStream,
}

impl ControlSocket {
    /// Binds `@nlb/<interface>`; fails with a clear message when another nlbd holds it.
    pub fn bind(interface: &str) -> Result<Self, String> {
        let name = socket_name(interface);
        let addr = SocketAddr::from_abstract_name(name.as_bytes())
            .map_err(|e| format!("control socket @{name}: {e}"))?;
        let listener = UnixListener::bind_addr(&addr).map_err(|e| {
            if e.kind() == ErrorKind::AddrInUse {
                format!(
                    "another nlbd is running on {interface} in this network namespace \
                     (its control socket @{name} is bound); stop it first (`nlb stop` only \
                     leaves the cluster: stop the process, e.g. `systemctl stop nlbd@...`)"
                )
            } else {
                format!("control socket @{name}: {e}")
            }
        })?;
        listener
            .set_nonblocking(true)
            .map_err(|e| format!("control socket @{name}: {e}"))?;
        Ok(ControlSocket { listener })
    }

    /// Accepts the clients waiting now and reads their requests. Clients that are not
    /// root, or send something that is not a request, get their error reply here.
    pub fn poll(&self) -> Vec<(Client, Request)> {
        let mut out = Vec::new();
        while let Ok((stream, _)) = self.listener.accept() {
            let mut client = Client { stream };
            match client.read_request() {
                Ok(r) => out.push((client, r)),
                Err(message) => client.reply(&Reply::error(message)),
            }
        }
        out
    }
}

impl Client {
    fn read_request(&mut self) -> Result<Request, String> {
        // The listener is non-blocking; the accepted stream must not be.
        let _ = self.stream.set_nonblocking(false);
        let _ = self
            .stream
            .set_read_timeout(Some(Duration::from_millis(200)));
        let _ = self
            .stream
            .set_write_timeout(Some(Duration::from_millis(500)));
        match peer_uid(&self.stream) {
            Some(0) => {}
            Some(uid) => {
                return Err(format!(
                    "permission denied: nlbd's control socket answers root only (you are uid {uid})"
                ))
            }
            None => return Err("permission denied: cannot tell who is asking".into()),
        }
        let mut line = String::new();
        BufReader::new((&self.stream).take(MAX_REQUEST))
            .read_line(&mut line)
            .map_err(|e| format!("reading the request: {e}"))?;
        serde_json::from_str(line.trim()).map_err(|e| format!("not a request: {e}"))
    }

    /// Writes the reply and closes.
    pub fn reply(mut self, reply: &Reply) {
        if let Ok(mut text) = serde_json::to_string(reply) {
            text.push('\n');
            let _ = self.stream.write_all(text.as_bytes());
        }
    }
}

fn peer_uid(stream: &UnixStream) -> Option<u32> {
    let mut cred = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: SO_PEERCRED writes a ucred into the buffer we pass, of the size we pass.
    let rc = unsafe {
        libc::getsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut cred as *mut libc::ucred).cast(),
            &mut len,
        )
    };
    (rc == 0).then_some(cred.uid)
}
