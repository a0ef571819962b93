//! Shoal's placement logic, pure: no I/O, no async, no clock.
//!
//! Given a snapshot of the nodes ([`NodeInfo`]) and pending tasks grouped
//! by what they need ([`TaskGroup`]), [`schedule`] decides where each task
//! runs, or explains why it fits nowhere, counting each cause
//! ("no suitable node (scheduling constraints not satisfied on 3 nodes;
//! insufficient resources on 2 nodes)").
//!
//! A pass sweeps each group's [`Filter`]s over the nodes once, then places
//! the group's tasks one by one: down the spread preferences to the label
//! value with the fewest tasks of the service, then to the best-ranked
//! node (fewer tasks of the service, then fewer tasks in all, nodes where
//! the service keeps failing last). See docs/scheduler.md.
#![forbid(unsafe_code)]

pub mod constraint;
mod filter;
mod node;
mod pipeline;
pub mod preference;
mod task;
mod tree;

pub use constraint::{Constraint, ConstraintError};
pub use filter::Filter;
pub use node::{HostPort, MAX_RECENT_FAILURES, NodeInfo, Resources, Role};
pub use pipeline::{Decisions, schedule};
pub use preference::{PreferenceError, Spread};
pub use task::{Requirements, TaskGroup};
