//! Raft glue: openraft's type config, the RocksDB log store, the state
//! machine (the [`Store`](crate::store::Store)) and the gRPC network.
//!
//! The domain logic lives in the state machine's apply
//! ([`MemoryStore::apply`](crate::store::MemoryStore::apply)); this module
//! only moves bytes between openraft, RocksDB and the network.

// openraft's `StorageError` is large; it is the trait's error type.
#![allow(clippy::result_large_err)]

mod codec;
mod db;
mod log_store;
mod network;
pub mod quorum;
mod service;
mod state_machine;
mod succession;

use std::io::Cursor;

use serde::{Deserialize, Serialize};
use shoal_proto::Entry;

use crate::store::StoreError;

pub use db::{Closed, OpenError, RaftDb};
pub use log_store::LogStore;
pub use network::Network;
pub use quorum::{Contacts, NoQuorum, Quorum};
pub use service::RaftService;
pub use state_machine::StateMachine;

openraft::declare_raft_types!(
    /// Shoal's raft types: a log entry carries store batches.
    pub TypeConfig:
        D = Proposal,
        R = ApplyResult,
        NodeId = u64,
        Node = openraft::BasicNode,
        Entry = openraft::Entry<TypeConfig>,
        SnapshotData = Cursor<Vec<u8>>,
        AsyncRuntime = openraft::TokioRuntime,
);

/// A raft handle with shoal's types.
pub type Raft = openraft::Raft<TypeConfig>;

/// The payload of a raft entry: batches of several writers, each applied
/// atomically, protobuf-encoded once, when proposed. The log store, the
/// network and the followers pass these bytes on as they are (inside
/// openraft's own serde encoding); only applying decodes them, once on
/// each manager.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct Proposal(#[serde(with = "serde_bytes")] Vec<u8>);

impl Proposal {
    /// The payload carrying `entry`.
    pub fn new(entry: &Entry) -> Proposal {
        Proposal(prost::Message::encode_to_vec(entry))
    }

    /// Its size in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether it carries nothing.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The entry it carries.
    pub fn entry(&self) -> Result<Entry, prost::DecodeError> {
        prost::Message::decode(self.0.as_slice())
    }
}

impl std::fmt::Debug for Proposal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Proposal({} bytes)", self.0.len())
    }
}

/// What applying a [`Proposal`] gave, batch by batch: `Err` when the
/// store refused that batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApplyResult(pub Vec<Result<(), StoreError>>);

/// openraft's storage error with shoal's node id type.
pub type StorageError = openraft::StorageError<u64>;

/// Timing of the raft protocol.
#[derive(Debug, Clone)]
pub struct RaftTiming {
    pub heartbeat_ms: u64,
    pub election_timeout_min_ms: u64,
    pub election_timeout_max_ms: u64,
}

impl Default for RaftTiming {
    /// Heartbeat 100 ms, election after 400-800 ms without one.
    fn default() -> Self {
        RaftTiming { heartbeat_ms: 100, election_timeout_min_ms: 400, election_timeout_max_ms: 800 }
    }
}

/// Whether a member's raft state is to be made or is there already.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RaftState {
    /// A new member (init, join, promotion, forced recovery): the folder
    /// must hold no database.
    New,
    /// A member restarting: its database must be there, whole, its own.
    Existing,
}

/// Why raft could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// This member's raft state is gone (see [`OpenError::Lost`]).
    #[error("this manager lost its raft state ({0})")]
    Lost(String),
    #[error("opening the raft database in {dir}: {source}")]
    Db { dir: String, source: OpenError },
    #[error("raft storage: {0}")]
    Storage(#[from] StorageError),
    #[error("raft configuration: {0}")]
    Config(#[from] openraft::ConfigError),
    #[error("starting raft: {0}")]
    Fatal(#[from] openraft::error::Fatal<u64>),
    #[error("starting the raft log writer: {0}")]
    Io(#[from] std::io::Error),
}

/// What [`start`] gives: the raft handle, the store it applies to, the
/// quorum view, and when the database has closed after a shutdown.
pub struct Started {
    pub raft: Raft,
    pub store: crate::store::Store,
    pub quorum: Quorum,
    pub closed: Closed,
}

/// Opens (or, for a [`RaftState::New`] member, creates) the raft state in
/// `dir` (RocksDB) and starts the raft node with id `id`.
pub async fn start(
    dir: &std::path::Path,
    id: u64,
    state: RaftState,
    timing: &RaftTiming,
    credentials: shoal_proto::transport::Credentials,
) -> Result<Started, StartError> {
    let opened = match state {
        RaftState::New => RaftDb::create(dir, id),
        RaftState::Existing => RaftDb::reopen(dir, id),
    };
    let db = opened.map_err(|source| match source {
        OpenError::Lost(why) => StartError::Lost(why),
        source => StartError::Db { dir: dir.display().to_string(), source },
    })?;
    let closed = db.closed();
    let log_store = LogStore::new(db.clone())?;
    let state_machine = StateMachine::open(db)?;
    let store = state_machine.store();
    let config = openraft::Config {
        cluster_name: "shoal".into(),
        heartbeat_interval: timing.heartbeat_ms,
        election_timeout_min: timing.election_timeout_min_ms,
        election_timeout_max: timing.election_timeout_max_ms,
        snapshot_policy: openraft::SnapshotPolicy::LogsSinceLast(10_000),
        max_in_snapshot_log_to_keep: 1_000,
        ..Default::default()
    }
    .validate()?;
    let contacts = Contacts::default();
    let network = Network::new(credentials.clone(), contacts.clone());
    let raft = Raft::new(id, std::sync::Arc::new(config), network, log_store, state_machine).await?;
    tokio::spawn(succession::run(raft.clone(), contacts.clone(), timing.clone(), credentials));
    let quorum = Quorum::new(raft.clone(), contacts, timing);
    Ok(Started { raft, store, quorum, closed })
}

#[cfg(test)]
mod tests;
