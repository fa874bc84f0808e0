//! What a lab's hosts say: each nlbd asked over its control socket from inside its
//! namespace, the wait for the cluster to converge, and connections from the client.

use super::service::{self, Tally};
use super::{netns, Lab, PORT, VIP};
use crate::client;
use anyhow::bail;
use nlb_core::control::{Reply, Request, Status};
use nlb_core::convergence::QueryState;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

impl Lab {
    /// Asks host `n`'s nlbd.
    pub fn request(&self, n: u8, request: Request) -> anyhow::Result<Reply> {
        netns::run_in(&self.ns(&format!("h{n}")), move || {
            client::request("eth0", &request)
        })?
    }

    /// Host `n`'s status, if its nlbd answers.
    pub fn status(&self, n: u8) -> Option<Status> {
        match self.request(n, Request::Query) {
            Ok(Reply::Status { status, .. }) => Some(*status),
            _ => None,
        }
    }

    /// Waits until every running host is converged with all the others.
    pub fn wait_converged(&self, running: &[u8], timeout: Duration) -> anyhow::Result<Duration> {
        let start = Instant::now();
        loop {
            let ok = running.iter().all(|&n| {
                self.status(n).is_some_and(|s| {
                    matches!(
                        s.state,
                        QueryState::Converged | QueryState::ConvergedAsDefault
                    ) && s.members == running
                })
            });
            if ok {
                return Ok(start.elapsed());
            }
            if start.elapsed() > timeout {
                let states: Vec<String> = running
                    .iter()
                    .map(|&n| match self.status(n) {
                        Some(s) => format!("h{n}: {} with {:?}", s.state, s.members),
                        None => format!(
                            "h{n}: nlbd not answering (see {}/h{n}-nlbd.log)",
                            self.dir().display()
                        ),
                    })
                    .collect();
                bail!(
                    "the cluster did not converge within {timeout:?}: {}",
                    states.join("; ")
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `connections` connections from the client, one after another. Each may take
    /// 1.5 s: a SYN sent while a slot changes hands is dropped (neither host admits
    /// new flows for the few heartbeat periods of the handover) and retransmitted
    /// after 1 s, as from any client.
    pub fn traffic(&self, connections: usize) -> anyhow::Result<Tally> {
        self.traffic_to(IpAddr::V4(VIP), connections)
    }

    /// [`Lab::traffic`] to one of the lab's VIPs.
    pub fn traffic_to(&self, vip: IpAddr, connections: usize) -> anyhow::Result<Tally> {
        let addr = SocketAddr::new(vip, PORT);
        let attempts = netns::run_in(&self.ns("c"), move || {
            service::burst(addr, connections, Duration::from_millis(1500))
        })?;
        Ok(Tally::of(&attempts))
    }
}
