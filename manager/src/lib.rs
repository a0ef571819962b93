//! Shoal's manager: the replicated store (openraft on RocksDB), the
//! control API the CLI talks to, the dispatcher workers talk to, and the
//! leader-only loops that keep services converged (orchestrator,
//! scheduler, task reaper).
#![forbid(unsafe_code)]

pub mod allocator;
pub mod raft;
pub mod store;

pub mod ca;
mod config;
pub mod control;
pub mod dependencies;
pub mod dispatcher;
pub mod history;
pub mod ids;
#[cfg(test)]
mod imports;
pub mod keys;
mod leader;
pub mod leadership;
mod manager;
mod membership;
pub mod metrics;
pub mod ops;
pub mod orchestrator;
pub mod proposer;
mod reachability;
pub mod recover;
mod roles;
pub mod scheduler;
pub mod standing;
#[cfg(test)]
mod testing;
mod watch;

pub use config::{ManagerConfig, ManagerError};
pub use manager::{InitOptions, Manager};
