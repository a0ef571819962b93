//! The RocksDB database under `<data-dir>/raft`: column families for the
//! log (big-endian index keys), raft metadata (vote, committed, purged,
//! and the raft id it belongs to) and the latest snapshot.
//!
//! A manager that lost its raft state (the folder wiped, the log corrupt,
//! another member's folder) must not come back as the same voter: it
//! would answer votes and entries with a log and vote it no longer has,
//! and could undo writes a majority acknowledged. [`RaftDb::reopen`]
//! tells such a loss ([`OpenError::Lost`]) from a failure that may pass
//! (disk full, a lock). The WAL is replayed whole or not at all: only an
//! incomplete last record (a write cut off before its sync, so never
//! acknowledged) is dropped; corruption before it fails the open.

use std::path::Path;
use std::sync::Arc;

use rocksdb::{ColumnFamily, ColumnFamilyDescriptor, DB, DBRecoveryMode, ErrorKind, Options, WriteBatch, WriteOptions};

pub(super) const CF_LOGS: &str = "logs";
pub(super) const CF_META: &str = "meta";
pub(super) const CF_SNAPSHOT: &str = "snapshot";

/// Which raft member the database belongs to (in `CF_META`).
const KEY_RAFT_ID: &[u8] = b"raft_id";
/// The vote (in `CF_META`, written by the log store).
pub(super) const KEY_VOTE: &[u8] = b"vote";

/// Why the raft database could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The raft state this member had is gone: it must not come back as
    /// the same voter.
    #[error("{0}")]
    Lost(String),
    /// A new member's folder holds a database already.
    #[error("{0} holds a raft database already")]
    Exists(String),
    #[error(transparent)]
    Db(#[from] rocksdb::Error),
}

/// Shared handle on the raft database.
#[derive(Clone)]
pub struct RaftDb {
    db: Arc<DB>,
    /// Serialises snapshot writes (a build and an install may race).
    pub(super) snapshot_lock: Arc<std::sync::Mutex<()>>,
}

impl RaftDb {
    /// Opens (or creates) the database in `dir`.
    pub fn open(dir: &Path) -> Result<RaftDb, rocksdb::Error> {
        Self::open_with(dir, true)
    }

    fn open_with(dir: &Path, create: bool) -> Result<RaftDb, rocksdb::Error> {
        let mut opts = Options::default();
        opts.create_if_missing(create);
        opts.create_missing_column_families(true);
        opts.set_keep_log_file_num(2);
        // Any damage to the write-ahead log fails the open: the member is
        // then lost and comes back only as a new one. Tolerating a damaged
        // tail instead dropped, silently, every record after a corrupt
        // length (read as a torn last write), so a member came back with
        // acknowledged entries gone, which raft cannot survive (the
        // leader's core panicked on the follower's reverted log). An entry
        // is acknowledged only once the WAL is synced, so a torn tail (a
        // power loss mid-write) only ever held unacknowledged writes:
        // refusing it costs that member a rejoin, never safety.
        opts.set_wal_recovery_mode(DBRecoveryMode::AbsoluteConsistency);
        let cfs = [CF_LOGS, CF_META, CF_SNAPSHOT].map(|name| ColumnFamilyDescriptor::new(name, Options::default()));
        let db = DB::open_cf_descriptors(&opts, dir, cfs)?;
        Ok(RaftDb { db: Arc::new(db), snapshot_lock: Arc::default() })
    }

    /// Creates the database of new raft member `raft_id` in `dir`, which
    /// must hold none.
    pub fn create(dir: &Path, raft_id: u64) -> Result<RaftDb, OpenError> {
        if dir.join("CURRENT").exists() {
            return Err(OpenError::Exists(dir.display().to_string()));
        }
        let db = Self::open_with(dir, true)?;
        db.write_raft_id(raft_id)?;
        Ok(db)
    }

    /// Opens the database raft member `raft_id` left in `dir`.
    pub fn reopen(dir: &Path, raft_id: u64) -> Result<RaftDb, OpenError> {
        let lost = |why: String| OpenError::Lost(format!("{}: {why}", dir.display()));
        if !dir.join("CURRENT").exists() {
            return Err(lost("no raft database there any more (removed or wiped)".into()));
        }
        let db = Self::open_with(dir, false).map_err(|e| match e.kind() {
            ErrorKind::Corruption => lost(format!("the raft database is corrupt: {e}")),
            _ => OpenError::Db(e),
        })?;
        let recorded = db.get(CF_META, KEY_RAFT_ID)?;
        match recorded.map(|b| <[u8; 8]>::try_from(b.as_slice()).map(u64::from_be_bytes)) {
            Some(Ok(id)) if id == raft_id => Ok(db),
            Some(Ok(id)) => Err(lost(format!("it belongs to raft member {id}, not to this one ({raft_id})"))),
            Some(Err(_)) => Err(lost("its raft identity is unreadable".into())),
            // Made before databases recorded their member: its own if it
            // holds the vote this member cast.
            None if db.get(CF_META, KEY_VOTE)?.is_some() => {
                db.write_raft_id(raft_id)?;
                Ok(db)
            }
            None => Err(lost("it holds no vote and no raft identity".into())),
        }
    }

    fn write_raft_id(&self, raft_id: u64) -> Result<(), rocksdb::Error> {
        let mut batch = WriteBatch::default();
        batch.put_cf(self.cf(CF_META), KEY_RAFT_ID, raft_id.to_be_bytes());
        self.write(batch, true)
    }

    /// A handle that tells when the database has closed (every handle
    /// dropped).
    pub fn closed(&self) -> Closed {
        Closed(Arc::downgrade(&self.db))
    }

    pub(super) fn db(&self) -> &DB {
        &self.db
    }

    pub(super) fn cf(&self, name: &str) -> &ColumnFamily {
        // The three families are created at open, so they always exist.
        self.db.cf_handle(name).expect("column family created at open")
    }

    pub(super) fn get(&self, cf: &str, key: &[u8]) -> Result<Option<Vec<u8>>, rocksdb::Error> {
        self.db.get_cf(self.cf(cf), key)
    }

    /// Writes `batch`; with `sync` it is on disk when this returns.
    pub(super) fn write(&self, batch: WriteBatch, sync: bool) -> Result<(), rocksdb::Error> {
        let mut opts = WriteOptions::default();
        opts.set_sync(sync);
        self.db.write_opt(batch, &opts)
    }
}

/// Tells when a [`RaftDb`] has closed: RocksDB writes into its folder
/// until then, so nothing may move the folder before.
#[derive(Clone)]
pub struct Closed(std::sync::Weak<DB>);

impl Closed {
    /// Whether every handle on the database is gone.
    pub fn is_closed(&self) -> bool {
        self.0.strong_count() == 0
    }

    /// Waits until the database has closed; false after `timeout`.
    pub async fn wait(&self, timeout: std::time::Duration) -> bool {
        let started = std::time::Instant::now();
        while !self.is_closed() {
            if started.elapsed() > timeout {
                return false;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        true
    }
}

/// Big-endian key of a log index, so that keys sort as indexes do.
pub(super) fn index_key(index: u64) -> [u8; 8] {
    index.to_be_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The write-ahead log files of the database in `dir`.
    fn wals(dir: &Path) -> Vec<std::path::PathBuf> {
        let files = std::fs::read_dir(dir).unwrap().flatten().map(|e| e.path());
        files.filter(|p| p.extension().is_some_and(|e| e == "log")).collect()
    }

    #[test]
    fn a_corrupt_record_length_in_the_log_fails_the_open_instead_of_dropping_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let db = RaftDb::create(dir.path(), 7).unwrap();
        for i in 0..5u64 {
            let mut batch = WriteBatch::default();
            batch.put_cf(db.cf(CF_LOGS), index_key(i), [b'x'; 100]);
            db.write(batch, true).unwrap();
        }
        drop(db);
        // The second record's length (bytes 4-5 of its 7-byte header) made
        // to run past the end of the file: what a torn last write looks
        // like, though whole records follow.
        let wal = wals(dir.path()).into_iter().max_by_key(|p| std::fs::metadata(p).unwrap().len()).unwrap();
        let mut bytes = std::fs::read(&wal).unwrap();
        let second = 7 + usize::from(u16::from_le_bytes([bytes[4], bytes[5]]));
        bytes[second + 4..second + 6].copy_from_slice(&u16::MAX.to_le_bytes());
        std::fs::write(&wal, bytes).unwrap();
        match RaftDb::reopen(dir.path(), 7) {
            Err(OpenError::Lost(why)) => assert!(why.contains("corrupt"), "{why}"),
            Err(other) => panic!("expected the state lost, got {other}"),
            Ok(_) => panic!("opened with its log cut short"),
        }
    }
}
