//! The raft state machine: applies committed entries to the [`Store`]
//! and keeps the latest snapshot (the whole store, protobuf-encoded) in
//! RocksDB. On start the store is rebuilt from that snapshot; openraft
//! then replays the committed log after it.

use std::io::Cursor;

use openraft::storage::RaftStateMachine;
use openraft::{
    BasicNode, Entry, EntryPayload, LogId, OptionalSend, RaftSnapshotBuilder, Snapshot, SnapshotMeta, StorageIOError,
    StoredMembership,
};
use prost::Message;
use rocksdb::WriteBatch;
use shoal_proto::StoreSnapshot;
use tracing::error;

use super::codec::{decode, encode};
use super::db::{CF_SNAPSHOT, RaftDb};
use super::{ApplyResult, StorageError, TypeConfig};
use crate::store::{MemoryStore, Store};

const KEY_META: &[u8] = b"meta";
const KEY_DATA: &[u8] = b"data";

type Meta = SnapshotMeta<u64, BasicNode>;

/// The state machine; [`StateMachine::store`] is the handle readers use.
pub struct StateMachine {
    store: Store,
    db: RaftDb,
    last_applied: Option<LogId<u64>>,
    membership: StoredMembership<u64, BasicNode>,
    snapshots_built: u64,
}

impl StateMachine {
    /// Loads the latest snapshot, if any, into a new store.
    pub fn open(db: RaftDb) -> Result<StateMachine, StorageError> {
        let mut sm = StateMachine {
            store: Store::new(MemoryStore::default(), 0),
            db,
            last_applied: None,
            membership: StoredMembership::default(),
            snapshots_built: 0,
        };
        if let Some((meta, data)) = sm.read_snapshot()? {
            let snapshot = StoreSnapshot::decode(data.as_slice())
                .map_err(|e| StorageIOError::read_snapshot(Some(meta.signature()), &e))?;
            let index = meta.last_log_id.map_or(0, |l| l.index);
            sm.store = Store::new(MemoryStore::from_snapshot(snapshot), index);
            sm.last_applied = meta.last_log_id;
            sm.membership = meta.last_membership;
        }
        Ok(sm)
    }

    /// The store this state machine applies to.
    pub fn store(&self) -> Store {
        self.store.clone()
    }

    fn read_snapshot(&self) -> Result<Option<(Meta, Vec<u8>)>, StorageError> {
        let read = |key| self.db.get(CF_SNAPSHOT, key).map_err(|e| StorageIOError::read_snapshot(None, &e));
        let (Some(meta), Some(data)) = (read(KEY_META)?, read(KEY_DATA)?) else {
            return Ok(None);
        };
        let meta: Meta = decode(&meta).map_err(|e| StorageIOError::read_snapshot(None, &e))?;
        Ok(Some((meta, data)))
    }
}

/// Persists a snapshot as the current one (meta and data in one write),
/// unless the stored one is as recent (a build racing an install).
pub(super) fn save_snapshot(db: &RaftDb, meta: &Meta, data: &[u8]) -> Result<(), StorageError> {
    let err = |e: &dyn std::error::Error| {
        StorageIOError::write_snapshot(Some(meta.signature()), openraft::AnyError::error(e))
    };
    let _guard = db.snapshot_lock.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(current) = db.get(CF_SNAPSHOT, KEY_META).map_err(|e| err(&e))? {
        let current: Meta = decode(&current).map_err(|e| err(&e))?;
        if current.last_log_id >= meta.last_log_id {
            return Ok(());
        }
    }
    let meta_bytes = encode(meta).map_err(|e| err(&e))?;
    let mut batch = WriteBatch::default();
    batch.put_cf(db.cf(CF_SNAPSHOT), KEY_META, meta_bytes);
    batch.put_cf(db.cf(CF_SNAPSHOT), KEY_DATA, data);
    db.write(batch, true).map_err(|e| err(&e).into())
}

/// A copy of the state taken between two applies, encoded later.
pub struct SnapshotBuilder {
    db: RaftDb,
    data: StoreSnapshot,
    last_applied: Option<LogId<u64>>,
    membership: StoredMembership<u64, BasicNode>,
    snapshot_id: String,
}

impl RaftSnapshotBuilder<TypeConfig> for SnapshotBuilder {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError> {
        let data = self.data.encode_to_vec();
        let meta = Meta {
            last_log_id: self.last_applied,
            last_membership: self.membership.clone(),
            snapshot_id: self.snapshot_id.clone(),
        };
        save_snapshot(&self.db, &meta, &data)?;
        Ok(Snapshot { meta, snapshot: Box::new(Cursor::new(data)) })
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = SnapshotBuilder;

    async fn applied_state(&mut self) -> Result<(Option<LogId<u64>>, StoredMembership<u64, BasicNode>), StorageError> {
        Ok((self.last_applied, self.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<ApplyResult>, StorageError>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut results = Vec::new();
        for entry in entries {
            let index = entry.log_id.index;
            self.last_applied = Some(entry.log_id);
            let result = match entry.payload {
                EntryPayload::Normal(proposal) => match proposal.entry() {
                    Ok(entry) => self.store.apply(index, entry.batches),
                    // Every manager holds the same bytes, so every one
                    // running this version skips it alike (an error: a
                    // manager of another version might not).
                    Err(e) => {
                        error!(index, "raft entry {index} holds no readable batches, skipped: {e}");
                        self.store.skip(index);
                        Vec::new()
                    }
                },
                EntryPayload::Blank => {
                    self.store.skip(index);
                    Vec::new()
                }
                EntryPayload::Membership(membership) => {
                    self.membership = StoredMembership::new(Some(entry.log_id), membership);
                    self.store.skip(index);
                    Vec::new()
                }
            };
            results.push(ApplyResult(result));
        }
        Ok(results)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.snapshots_built += 1;
        let snapshot_id = match self.last_applied {
            Some(l) => format!("{}-{}-{}", l.leader_id.term, l.index, self.snapshots_built),
            None => format!("0-0-{}", self.snapshots_built),
        };
        SnapshotBuilder {
            db: self.db.clone(),
            data: self.store.view(|s| s.to_snapshot()),
            last_applied: self.last_applied,
            membership: self.membership.clone(),
            snapshot_id,
        }
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<Cursor<Vec<u8>>>, StorageError> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(&mut self, meta: &Meta, snapshot: Box<Cursor<Vec<u8>>>) -> Result<(), StorageError> {
        let data = snapshot.into_inner();
        let decoded = StoreSnapshot::decode(data.as_slice())
            .map_err(|e| StorageIOError::read_snapshot(Some(meta.signature()), &e))?;
        save_snapshot(&self.db, meta, &data)?;
        self.last_applied = meta.last_log_id;
        self.membership = meta.last_membership.clone();
        self.store.replace(MemoryStore::from_snapshot(decoded), meta.last_log_id.map_or(0, |l| l.index));
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot<TypeConfig>>, StorageError> {
        Ok(self.read_snapshot()?.map(|(meta, data)| Snapshot { meta, snapshot: Box::new(Cursor::new(data)) }))
    }
}
