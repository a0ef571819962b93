//! The raft log and vote in RocksDB.
//!
//! `append` writes entries without waiting for the disk (they are
//! readable at once) and hands the flush callback to a writer thread,
//! which syncs the WAL once for every append that queued up meanwhile:
//! group commit, so throughput is not bounded by one fsync per write.

use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};
use std::sync::{Arc, mpsc};

use openraft::storage::{LogFlushed, RaftLogStorage};
use openraft::{Entry, LogId, LogState, OptionalSend, RaftLogId, RaftLogReader, StorageIOError, Vote};
use rocksdb::{Direction, IteratorMode, WriteBatch};
use serde::{Serialize, de::DeserializeOwned};

use super::codec::{decode, encode};
use super::db::{CF_LOGS, CF_META, KEY_VOTE, RaftDb, index_key};
use super::{StorageError, TypeConfig};

const KEY_COMMITTED: &[u8] = b"committed";
const KEY_LAST_PURGED: &[u8] = b"last_purged";

/// The raft log store; cloning gives another reader of the same log.
#[derive(Clone)]
pub struct LogStore {
    db: RaftDb,
    syncer: Arc<Syncer>,
}

/// The sync thread; joined when the last log store handle goes, so the
/// database is never closed under it.
struct Syncer {
    tx: Option<mpsc::Sender<LogFlushed<TypeConfig>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Syncer {
    fn drop(&mut self) {
        self.tx.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl LogStore {
    /// A log store on `db`, with its sync thread.
    pub fn new(db: RaftDb) -> std::io::Result<LogStore> {
        let (tx, rx) = mpsc::channel();
        let thread_db = db.clone();
        let thread =
            std::thread::Builder::new().name("raft-log-sync".into()).spawn(move || sync_loop(thread_db, rx))?;
        Ok(LogStore { db, syncer: Arc::new(Syncer { tx: Some(tx), thread: Some(thread) }) })
    }

    fn read_meta<T: DeserializeOwned>(&self, key: &[u8]) -> Result<Option<T>, StorageError> {
        let bytes = self.db.get(CF_META, key).map_err(|e| StorageIOError::read(&e))?;
        bytes.map(|b| decode(&b).map_err(|e| StorageIOError::read(&e).into())).transpose()
    }

    fn write_meta<T: Serialize>(&self, key: &[u8], value: &T, sync: bool) -> Result<(), StorageError> {
        let bytes = encode(value).map_err(|e| StorageIOError::write(&e))?;
        let mut batch = WriteBatch::default();
        batch.put_cf(self.db.cf(CF_META), key, bytes);
        self.db.write(batch, sync).map_err(|e| StorageIOError::write(&e).into())
    }

    fn last_entry(&self) -> Result<Option<Entry<TypeConfig>>, StorageError> {
        let mut iter = self.db.db().iterator_cf(self.db.cf(CF_LOGS), IteratorMode::End);
        match iter.next() {
            None => Ok(None),
            Some(item) => {
                let (_, value) = item.map_err(|e| StorageIOError::read_logs(&e))?;
                Ok(Some(decode(&value).map_err(|e| StorageIOError::read_logs(&e))?))
            }
        }
    }
}

/// Syncs the WAL for every queued append at once, then reports them done.
fn sync_loop(db: RaftDb, rx: mpsc::Receiver<LogFlushed<TypeConfig>>) {
    while let Ok(first) = rx.recv() {
        let mut done = vec![first];
        done.extend(rx.try_iter());
        let result = db.db().flush_wal(true);
        for callback in done {
            let result = result.clone().map_err(std::io::Error::other);
            callback.log_io_completed(result);
        }
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry<TypeConfig>>, StorageError> {
        let start = match range.start_bound() {
            Bound::Included(i) => *i,
            Bound::Excluded(i) => i + 1,
            Bound::Unbounded => 0,
        };
        let key = index_key(start);
        let iter = self.db.db().iterator_cf(self.db.cf(CF_LOGS), IteratorMode::From(&key, Direction::Forward));
        let mut entries = Vec::new();
        for item in iter {
            let (key, value) = item.map_err(|e| StorageIOError::read_logs(&e))?;
            let index = u64::from_be_bytes(
                key.as_ref()
                    .try_into()
                    .map_err(|_| StorageIOError::read_logs(&std::io::Error::other("malformed log key")))?,
            );
            if !range.contains(&index) {
                break;
            }
            entries.push(decode(&value).map_err(|e| StorageIOError::read_log_at_index(index, &e))?);
        }
        Ok(entries)
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError> {
        let last_purged_log_id: Option<LogId<u64>> = self.read_meta(KEY_LAST_PURGED)?;
        let last_log_id = match self.last_entry()? {
            Some(entry) => Some(*entry.get_log_id()),
            None => last_purged_log_id,
        };
        Ok(LogState { last_purged_log_id, last_log_id })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<u64>) -> Result<(), StorageError> {
        self.write_meta(KEY_VOTE, vote, true)
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<u64>>, StorageError> {
        self.read_meta(KEY_VOTE)
    }

    async fn save_committed(&mut self, committed: Option<LogId<u64>>) -> Result<(), StorageError> {
        self.write_meta(KEY_COMMITTED, &committed, false)
    }

    async fn read_committed(&mut self) -> Result<Option<LogId<u64>>, StorageError> {
        Ok(self.read_meta::<Option<LogId<u64>>>(KEY_COMMITTED)?.flatten())
    }

    async fn append<I>(&mut self, entries: I, callback: LogFlushed<TypeConfig>) -> Result<(), StorageError>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut batch = WriteBatch::default();
        for entry in entries {
            let value = encode(&entry).map_err(|e| StorageIOError::write_logs(&e))?;
            batch.put_cf(self.db.cf(CF_LOGS), index_key(entry.get_log_id().index), value);
        }
        self.db.write(batch, false).map_err(|e| StorageIOError::write_logs(&e))?;
        let stopped = || StorageIOError::write_logs(&std::io::Error::other("log sync thread stopped"));
        self.syncer.tx.as_ref().ok_or_else(stopped)?.send(callback).map_err(|_| stopped())?;
        Ok(())
    }

    async fn truncate(&mut self, log_id: LogId<u64>) -> Result<(), StorageError> {
        let mut batch = WriteBatch::default();
        batch.delete_range_cf(self.db.cf(CF_LOGS), index_key(log_id.index), index_key(u64::MAX));
        self.db.write(batch, true).map_err(|e| StorageIOError::write_logs(&e).into())
    }

    async fn purge(&mut self, log_id: LogId<u64>) -> Result<(), StorageError> {
        self.write_meta(KEY_LAST_PURGED, &log_id, true)?;
        let mut batch = WriteBatch::default();
        batch.delete_range_cf(self.db.cf(CF_LOGS), index_key(0), index_key(log_id.index + 1));
        self.db.write(batch, false).map_err(|e| StorageIOError::write_logs(&e).into())
    }
}
