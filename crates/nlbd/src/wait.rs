//! The daemon's one wait: over the heartbeat socket, the control socket and the link
//! monitor at once, with a timeout for the state machine's next deadline. Whatever becomes readable
//! first ends the wait, so a control request is served at once and a heartbeat is
//! never waited for behind anything else.

use polling::{Event, Events, PollMode, Poller};
use std::io;
use std::os::fd::{AsFd, AsRawFd};
use std::time::Duration;

const HEARTBEATS: usize = 0;
const CONTROL: usize = 1;
const LINK: usize = 2;

/// What is ready after a wait.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ready {
    /// Frames wait on the heartbeat socket.
    pub heartbeats: bool,
    /// A client waits on the control socket.
    pub control: bool,
    /// The link monitor has notifications.
    pub link: bool,
}

/// The sources the daemon waits on, registered once.
pub struct Waiter {
    poller: Poller,
    events: Events,
}

impl Waiter {
    /// Waits on `heartbeats`, `control` and `link` from now on (level-triggered: what
    /// is left unread ends the next wait at once). All must outlive the waiter.
    pub fn new(heartbeats: &impl AsFd, control: &impl AsFd, link: &impl AsFd) -> io::Result<Self> {
        let poller = Poller::new()?;
        // SAFETY: both sources are owned by the daemon's loop for as long as this
        // waiter, which is dropped first (it is declared after them).
        unsafe {
            poller.add_with_mode(
                heartbeats.as_fd().as_raw_fd(),
                Event::readable(HEARTBEATS),
                PollMode::Level,
            )?;
            poller.add_with_mode(
                control.as_fd().as_raw_fd(),
                Event::readable(CONTROL),
                PollMode::Level,
            )?;
            poller.add_with_mode(
                link.as_fd().as_raw_fd(),
                Event::readable(LINK),
                PollMode::Level,
            )?;
        }
        Ok(Waiter {
            poller,
            events: Events::new(),
        })
    }

    /// Waits until a source is readable or `timeout` passes (a signal ends it too).
    pub fn wait(&mut self, timeout: Duration) -> io::Result<Ready> {
        self.events.clear();
        match self.poller.wait(&mut self.events, Some(timeout)) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(Ready::default()),
            Err(e) => return Err(e),
        }
        let mut ready = Ready::default();
        for e in self.events.iter() {
            match e.key {
                HEARTBEATS => ready.heartbeats = true,
                CONTROL => ready.control = true,
                LINK => ready.link = true,
                _ => {}
            }
        }
        Ok(ready)
    }
}
