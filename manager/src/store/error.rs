//! Why a batch was refused. Every refusal leaves the store unchanged.

use serde::{Deserialize, Serialize};

/// A batch the store refused, naming the object and what was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum StoreError {
    #[error("{kind} {id} not found")]
    NotFound { kind: String, id: String },
    #[error("{kind} {id} already exists")]
    Exists { kind: String, id: String },
    #[error("{kind} name {name:?} is already in use by {id}")]
    NameConflict { kind: String, name: String, id: String },
    #[error("{kind} {id} changed since it was read (read version {read}, now {current}); read it again and retry")]
    VersionConflict { kind: String, id: String, read: u64, current: u64 },
    /// Refused by the state of other objects: an address or port held
    /// by another, a network still in use.
    #[error("{0}")]
    Refused(String),
    #[error("invalid operation: {0}")]
    Invalid(String),
}
