//! The Prometheus endpoint (`[host] metrics = "127.0.0.1:9810"`, off unless set): a
//! thread of its own serves `GET /metrics` with the page the event loop last published
//! (once a second), so a scrape, slow or stuck, never holds up a heartbeat.

use anyhow::Context;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long a client may take to send its request or take the answer.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(2);

/// The endpoint: the page to serve.
pub struct MetricsServer {
    page: Arc<Mutex<String>>,
}

impl MetricsServer {
    /// Listens on `addr` and serves from a thread.
    pub fn start(addr: SocketAddr) -> anyhow::Result<Self> {
        let listener =
            TcpListener::bind(addr).with_context(|| format!("the metrics endpoint on {addr}"))?;
        let page = Arc::new(Mutex::new(String::new()));
        let serving = Arc::clone(&page);
        std::thread::Builder::new()
            .name("metrics".into())
            .spawn(move || {
                for stream in listener.incoming().flatten() {
                    let page = serving.lock().map(|p| p.clone()).unwrap_or_default();
                    let _ = answer(stream, &page);
                }
            })
            .context("starting the metrics thread")?;
        Ok(MetricsServer { page })
    }

    /// Makes `text` the page served from now on.
    pub fn publish(&self, text: String) {
        if let Ok(mut p) = self.page.lock() {
            *p = text;
        }
    }
}

/// Reads one request (its first line and headers) and answers it.
fn answer(stream: TcpStream, page: &str) -> std::io::Result<()> {
    stream.set_read_timeout(Some(CLIENT_TIMEOUT))?;
    stream.set_write_timeout(Some(CLIENT_TIMEOUT))?;
    let mut reader = BufReader::new(&stream);
    let mut request = String::new();
    reader.read_line(&mut request)?;
    // The headers, up to the empty line (bounded: a client cannot make us read forever).
    let mut line = String::new();
    for _ in 0..100 {
        line.clear();
        if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
            break;
        }
    }
    let path = request.split_whitespace().nth(1).unwrap_or("");
    let (status, kind, body) =
        if request.starts_with("GET ") && (path == "/metrics" || path.starts_with("/metrics?")) {
            ("200 OK", "text/plain; version=0.0.4; charset=utf-8", page)
        } else {
            (
                "404 Not Found",
                "text/plain; charset=utf-8",
                "nlbd serves /metrics only\n",
            )
        };
    let mut w = &stream;
    write!(
        w,
        "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    w.flush()
}
