//! Watching the cluster interface through rtnetlink: carrier, hardware address and
//! master (the bridge or bond it belongs to). A VM moved to another host or port, a
//! cable replugged, a NIC team reshuffled: after any of these the switch may hold no
//! IGMP membership for the port and a stale MAC entry for the VIPs, and nothing in the
//! kernel tells it otherwise (Linux sends no membership report on carrier up). The
//! daemon re-announces both as soon as the link says it changed.

use netlink_packet_core::{NetlinkMessage, NetlinkPayload};
use netlink_packet_route::link::{LinkAttribute, LinkFlags, LinkMessage};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};
use std::io;
use std::os::fd::{AsFd, BorrowedFd};

/// The rtnetlink multicast group of link changes (RTNLGRP_LINK).
const RTNLGRP_LINK: u32 = 1;

/// What of the link matters to the switch.
#[derive(Clone, Debug, PartialEq, Eq)]
struct LinkState {
    carrier: bool,
    address: Vec<u8>,
    master: Option<u32>,
}

impl LinkState {
    fn of(m: &LinkMessage) -> LinkState {
        let mut s = LinkState {
            carrier: m.header.flags.contains(LinkFlags::LowerUp),
            address: Vec::new(),
            master: None,
        };
        for a in &m.attributes {
            match a {
                LinkAttribute::Address(mac) => s.address = mac.clone(),
                LinkAttribute::Controller(i) => s.master = Some(*i),
                _ => {}
            }
        }
        s
    }
}

/// A subscription to one interface's link changes.
pub struct LinkMonitor {
    socket: Socket,
    ifindex: u32,
    last: Option<LinkState>,
}

impl AsFd for LinkMonitor {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.socket.as_fd()
    }
}

impl LinkMonitor {
    /// Subscribes to the link changes of `ifindex`.
    pub fn open(ifindex: u32) -> io::Result<Self> {
        let mut socket = Socket::new(NETLINK_ROUTE)?;
        socket.bind(&SocketAddr::new(0, 0))?;
        socket.add_membership(RTNLGRP_LINK)?;
        socket.set_non_blocking(true)?;
        Ok(LinkMonitor {
            socket,
            ifindex,
            last: None,
        })
    }

    /// Reads every queued notification; returns what changed on the interface since
    /// the last one, if anything did (the first notification only sets the baseline,
    /// unless it shows the carrier up).
    pub fn changes(&mut self) -> io::Result<Option<String>> {
        let mut buf = vec![0u8; 1 << 16];
        let mut changed = Vec::new();
        loop {
            let n = match self.socket.recv(&mut &mut buf[..], 0) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e),
            };
            let mut at = 0;
            while at < n {
                let Ok(m) = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&buf[at..n]) else {
                    break;
                };
                let len = m.header.length as usize;
                if let NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewLink(link)) = &m.payload
                {
                    if link.header.index == self.ifindex {
                        let now = LinkState::of(link);
                        changed.extend(describe(self.last.as_ref(), &now));
                        self.last = Some(now);
                    }
                }
                if len == 0 {
                    break;
                }
                at += len;
            }
        }
        changed.dedup();
        Ok((!changed.is_empty()).then(|| changed.join(", ")))
    }
}

/// What differs between two states of the link, in words.
fn describe(before: Option<&LinkState>, now: &LinkState) -> Vec<String> {
    let mut out = Vec::new();
    match before {
        None => {
            if now.carrier {
                out.push("carrier up".to_string());
            }
        }
        Some(b) => {
            if b.carrier != now.carrier {
                out.push(
                    if now.carrier {
                        "carrier up"
                    } else {
                        "carrier down"
                    }
                    .to_string(),
                );
            }
            if b.address != now.address {
                out.push("hardware address changed".to_string());
            }
            if b.master != now.master {
                out.push("master changed".to_string());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn says_what_changed() {
        let up = LinkState {
            carrier: true,
            address: vec![2, 0, 0, 0, 0, 1],
            master: Some(4),
        };
        let down = LinkState {
            carrier: false,
            ..up.clone()
        };
        let moved = LinkState {
            master: Some(9),
            ..up.clone()
        };
        assert_eq!(describe(None, &up), ["carrier up"]);
        assert!(describe(None, &down).is_empty());
        assert_eq!(describe(Some(&up), &down), ["carrier down"]);
        assert_eq!(describe(Some(&down), &up), ["carrier up"]);
        assert_eq!(describe(Some(&up), &moved), ["master changed"]);
        assert!(describe(Some(&up), &up).is_empty());
    }
}
