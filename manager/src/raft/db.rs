//! The RocksDB database under `<data-dir>/raft`: column families for the
//! log (big-endian index keys), raft metadata (vote, committed, purged)
//! and the latest snapshot.

use std::path::Path;
use std::sync::Arc;

use rocksdb::{ColumnFamily, ColumnFamilyDescriptor, DB, Options, WriteBatch, WriteOptions};

pub(super) const CF_LOGS: &str = "logs";
pub(super) const CF_META: &str = "meta";
pub(super) const CF_SNAPSHOT: &str = "snapshot";

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
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        opts.set_keep_log_file_num(2);
        let cfs = [CF_LOGS, CF_META, CF_SNAPSHOT].map(|name| ColumnFamilyDescriptor::new(name, Options::default()));
        let db = DB::open_cf_descriptors(&opts, dir, cfs)?;
        Ok(RaftDb { db: Arc::new(db), snapshot_lock: Arc::default() })
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

/// Big-endian key of a log index, so that keys sort as indexes do.
pub(super) fn index_key(index: u64) -> [u8; 8] {
    index.to_be_bytes()
}
