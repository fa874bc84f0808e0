//! The convergence protocol: authenticated heartbeats, membership, agreement on
//! ownership and connection-preserving handover, as a sans-IO state machine.

mod api;
mod held;
mod node;
mod slots;
mod view;

pub use api::{
    Command, CommandError, Counters, Event, LossReason, PeerSnapshot, QueryState, Reception,
    Rejection, RuleMode, RuleSelector, RuleSnapshot, Snapshot,
};
pub use held::HeldFilter;
pub use node::{owner_of, HandOff, Node, ResumeError};
pub use slots::{SlotCounts, SlotState};
pub use view::{settings_digest, Member, View};
