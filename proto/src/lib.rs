//! Shoal's wire and data model: the protobuf objects every crate shares
//! and the gRPC services between the CLI, managers and workers.
//!
//! The `.proto` files under `proto/shoal/v1` are the source of truth;
//! this crate adds only small helpers on the generated types (state
//! order, display names), never behaviour.
#![forbid(unsafe_code)]

mod addr;
pub mod leader;
pub mod limits;
pub mod logging;
mod names;
mod propagation;
pub mod resolv;
mod signal;
mod size;
mod time;
pub mod transport;

pub use addr::parse_ip;
pub use propagation::{BIND_PROPAGATIONS, bind_propagation};
pub use signal::signal_number;
pub use size::{format_size, parse_size};

pub use time::{nanos_to_system_time, now_nanos};

/// Generated types and services of package `shoal.v1`.
#[allow(missing_docs, clippy::all)]
pub mod v1 {
    tonic::include_proto!("shoal.v1");
}

pub use v1::*;
