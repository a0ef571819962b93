//! Shoal's placement logic, pure: no I/O, no async, no clock.
//!
//! Given a snapshot of the nodes ([`NodeInfo`]) and a batch of pending
//! tasks ([`TaskRequest`]), [`schedule`] decides where each task runs, or
//! explains why it fits nowhere. The manager's scheduler loop builds the
//! snapshot from the store and writes the decisions back through raft.
//!
//! A pass runs every task through a pipeline of [`Filter`]s, then ranks
//! the nodes that pass: fewer tasks of the same service first, then fewer
//! tasks in total, so replicas spread evenly.
#![forbid(unsafe_code)]

mod filter;
mod node;
mod pipeline;

pub use filter::Filter;
pub use node::{NodeInfo, TaskRequest};
pub use pipeline::{Decisions, schedule};
