//! What a service spec means, for the CLI and the managers alike: specs
//! checked with Swarm's defaults filled in (every refusal names the field
//! and what was expected), and what a task's state says about its service
//! (dirty, up, done, withdrawn), judged the same by the managers' loops
//! and by the CLI that waits for a service to converge.
#![forbid(unsafe_code)]

pub mod engine_opts;
pub mod files;
pub mod network;
pub mod ports;
pub mod runtime;
pub mod schedule;
pub mod tasks;
pub mod template;
pub mod text;
pub mod update;
pub mod validate;

/// A spec the cluster refuses, and why.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct InvalidSpec(pub String);
