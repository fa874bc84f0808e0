//! Talking to nlbd over its control socket (`@nlb/<interface>` in this network
//! namespace; see `nlb_core::control`).

use anyhow::{bail, Context};
use nlb_core::control::{Envelope, Reply, Request};
use std::io::{BufRead, BufReader, ErrorKind};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixStream};
use std::time::Duration;

/// The interfaces with an nlbd in this network namespace, from `/proc/net/unix`.
pub fn running_interfaces() -> Vec<String> {
    let text = std::fs::read_to_string("/proc/net/unix").unwrap_or_default();
    let mut out: Vec<String> = text
        .lines()
        .filter_map(|l| l.split_whitespace().nth(7))
        .filter_map(|p| p.strip_prefix("@nlb/"))
        .map(str::to_string)
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The interface to talk to: the one given, or the only nlbd running.
pub fn pick_interface(given: Option<&str>) -> anyhow::Result<String> {
    if let Some(i) = given {
        return Ok(i.to_string());
    }
    match running_interfaces().as_slice() {
        [] => bail!(
            "nlbd is not running in this network namespace (no control socket \
             @nlb/<interface>); start it, e.g. `systemctl start nlbd@web`"
        ),
        [one] => Ok(one.clone()),
        many => bail!(
            "nlbd runs on several interfaces here ({}); choose one with --interface",
            many.join(", ")
        ),
    }
}

/// Sends one request and reads the reply. An error reply is returned as `Ok`: the
/// caller shows nlbd's reason.
pub fn request(interface: &str, request: &Request) -> anyhow::Result<Reply> {
    let name = nlb_core::control::socket_name(interface);
    let addr = SocketAddr::from_abstract_name(name.as_bytes())
        .with_context(|| format!("the control socket's name @{name}"))?;
    let stream = match UnixStream::connect_addr(&addr) {
        Ok(s) => s,
        Err(e) if matches!(e.kind(), ErrorKind::ConnectionRefused | ErrorKind::NotFound) => bail!(
            "nlbd is not running on {interface} in this network namespace \
             (nothing listens on @{name})"
        ),
        Err(e) => return Err(e).with_context(|| format!("connecting to nlbd (@{name})")),
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut line = serde_json::to_string(request).context("encoding the request")?;
    line.push('\n');
    // nlbd may answer (and close) before the request is written, refusing a client
    // that is not root: its reply is read even when the write failed.
    let sent = send_all(&stream, line.as_bytes());
    let mut answer = String::new();
    let read = BufReader::new(&stream).read_line(&mut answer);
    if answer.is_empty() {
        sent.context("sending to nlbd")?;
        read.context("reading nlbd's reply")?;
        bail!("nlbd closed the connection without replying");
    }
    Ok(serde_json::from_str::<Envelope>(&answer)
        .context("nlbd's reply is not understood")?
        .open()?)
}

/// Writes all of `bytes` with MSG_NOSIGNAL: a peer that closed first is an error to
/// report, not a SIGPIPE that ends this process (main restores its default).
fn send_all(stream: &UnixStream, mut bytes: &[u8]) -> std::io::Result<()> {
    while !bytes.is_empty() {
        match rustix::net::send(stream, bytes, rustix::net::SendFlags::NOSIGNAL) {
            Ok(n) => bytes = &bytes[n..],
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}
