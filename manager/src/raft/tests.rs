//! The log store and state machine checked against openraft's own
//! storage suite, and a restart that must bring back applied state.

use openraft::storage::RaftStateMachine;
use openraft::testing::{StoreBuilder, Suite};
use openraft::{CommittedLeaderId, Entry, EntryPayload, LogId};
use shoal_proto::{Batch, Op, Service, StoreObject, op, store_object::Object};
use tempfile::TempDir;

use super::*;

struct Builder;

impl StoreBuilder<TypeConfig, LogStore, StateMachine, TempDir> for Builder {
    async fn build(&self) -> Result<(TempDir, LogStore, StateMachine), StorageError> {
        let dir = TempDir::new().expect("temp dir");
        let db = RaftDb::open(dir.path()).expect("open db");
        let log_store = LogStore::new(db.clone()).expect("log store");
        Ok((dir, log_store, StateMachine::open(db)?))
    }
}

#[test]
fn openraft_storage_suite() {
    Suite::test_all(Builder).expect("storage suite");
}

fn create_service(id: &str) -> Batch {
    let service = Service { id: id.into(), ..Default::default() };
    Batch {
        ops: vec![Op { op: Some(op::Op::Create(StoreObject { object: Some(Object::Service(service)) })) }],
        timestamp: 1,
        ..Default::default()
    }
}

#[tokio::test]
async fn snapshot_survives_reopen() {
    let dir = TempDir::new().unwrap();
    let entry = |index, batch| Entry::<TypeConfig> {
        log_id: LogId::new(CommittedLeaderId::new(1, 1), index),
        payload: EntryPayload::Normal(Proposal::new(&shoal_proto::Entry { batches: vec![batch] })),
    };
    {
        let db = RaftDb::open(dir.path()).unwrap();
        let mut sm = StateMachine::open(db).unwrap();
        let results = sm.apply([entry(1, create_service("a")), entry(2, create_service("a"))]).await.unwrap();
        assert_eq!(results[0], ApplyResult(vec![Ok(())]));
        assert!(results[1].0[0].is_err(), "creating the same id twice is refused");
        let mut builder = sm.get_snapshot_builder().await;
        openraft::RaftSnapshotBuilder::build_snapshot(&mut builder).await.unwrap();
    }
    let db = RaftDb::open(dir.path()).unwrap();
    let mut sm = StateMachine::open(db).unwrap();
    let (applied, _) = sm.applied_state().await.unwrap();
    assert_eq!(applied.map(|l| l.index), Some(2));
    let version = sm.store().view(|s| s.service("a").and_then(|s| s.meta).map(|m| m.version));
    assert_eq!(version, Some(1));
}

#[tokio::test]
async fn an_older_snapshot_never_replaces_a_newer_one() {
    let dir = TempDir::new().unwrap();
    let db = RaftDb::open(dir.path()).unwrap();
    let meta = |index| openraft::SnapshotMeta {
        last_log_id: Some(LogId::new(CommittedLeaderId::new(1, 1), index)),
        last_membership: Default::default(),
        snapshot_id: format!("s{index}"),
    };
    let data = prost::Message::encode_to_vec(&shoal_proto::StoreSnapshot::default());
    state_machine::save_snapshot(&db, &meta(5), &data).unwrap();
    state_machine::save_snapshot(&db, &meta(3), &data).unwrap();
    let mut sm = StateMachine::open(db).unwrap();
    let current = openraft::storage::RaftStateMachine::get_current_snapshot(&mut sm).await.unwrap().unwrap();
    assert_eq!(current.meta.snapshot_id, "s5");
}

#[tokio::test]
async fn an_entry_whose_batches_cannot_be_read_is_skipped_alike_everywhere() {
    let dir = TempDir::new().unwrap();
    let mut sm = StateMachine::open(RaftDb::open(dir.path()).unwrap()).unwrap();
    let entry = |index, payload| Entry::<TypeConfig> {
        log_id: LogId::new(CommittedLeaderId::new(1, 1), index),
        payload: EntryPayload::Normal(payload),
    };
    let garbage = Proposal(vec![0xff, 0xff, 0xff]);
    let good = Proposal::new(&shoal_proto::Entry { batches: vec![create_service("b")] });
    let results = sm.apply([entry(1, garbage), entry(2, good)]).await.unwrap();
    assert_eq!(results, vec![ApplyResult(vec![]), ApplyResult(vec![Ok(())])]);
    assert_eq!(sm.store().view(|s| (s.index(), s.services().count())), (2, 1));
}

/// Why a forced recovery waits for [`Closed`] before it moves anything:
/// a RocksDB database that closes after its folder was moved writes a new
/// MANIFEST and CURRENT at its old path, into whatever folder is there
/// now (this once corrupted the new raft state of `--force-new-cluster`).
#[tokio::test]
async fn a_database_closed_after_its_folder_moved_writes_into_the_new_one() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("raft");
    let db = RaftDb::open(&path).unwrap();
    let closed = db.closed();
    let mut batch = rocksdb::WriteBatch::default();
    batch.put_cf(db.cf(super::db::CF_LOGS), 1u64.to_be_bytes(), b"entry");
    db.write(batch, true).unwrap();
    assert!(!closed.is_closed());
    assert!(!closed.wait(std::time::Duration::from_millis(50)).await, "a handle is alive");
    std::fs::rename(&path, dir.path().join("raft.old")).unwrap();
    std::fs::create_dir(&path).unwrap();
    drop(db);
    assert!(closed.wait(std::time::Duration::from_secs(5)).await);
    let written: Vec<String> =
        std::fs::read_dir(&path).unwrap().flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    assert!(written.iter().any(|f| f.starts_with("MANIFEST")), "{written:?}");
}
