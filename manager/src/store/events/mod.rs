//! The cluster's events: what each applied change means, in Docker's
//! event shape (`service update web`, `replicas.old=1`, `replicas.new=3`),
//! kept for a bounded window so `shoal events --since` can look back.
//!
//! Events are derived from the committed entries as they are applied,
//! stamped with the time their batch was proposed: every manager derives
//! the same ones, so the history survives a change of leader, and a
//! restarted manager derives again those of the entries it replays.

mod derive;
mod filter;
mod log;

pub use derive::{Recorded, derive};
pub use filter::{FilterError, Filters};
pub use log::{EventLog, Limits};
