//! The convergence protocol: authenticated heartbeats, membership, agreement on
//! ownership and connection-preserving handover, as a sans-IO state machine.

mod held;
mod node;
mod slots;
mod view;

pub use held::HeldFilter;
pub use node::{
    owner_of, Command, CommandError, Counters, Event, HandOff, LossReason, Node, PeerSnapshot,
    QueryState, Rejection, RuleMode, RuleSelector, RuleSnapshot, Snapshot,
};
pub use slots::{SlotCounts, SlotState};
pub use view::{settings_digest, Member, View};
