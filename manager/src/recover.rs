//! `node init --force-new-cluster`: when a majority of managers is lost
//! for good, a surviving manager makes a new cluster of one manager from
//! its own state (as `docker swarm init --force-new-cluster` does).
//!
//! The manager's store, as last applied, becomes the snapshot of a fresh
//! raft whose only voter is this manager; it elects itself and takes
//! writes. Everything in the store stays: cluster, CA, nodes (the lost
//! managers show as unreachable until demoted and removed), services and
//! tasks. Writes the old majority committed but this manager never
//! applied are lost, as they are in Swarm.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Cursor;
use std::time::Duration;

use openraft::{BasicNode, LogId, Membership, Snapshot, SnapshotMeta, StoredMembership, Vote};
use prost::Message;

use crate::manager::{Manager, ManagerConfig, ManagerError};

/// How long to wait for the old raft database to close.
const OLD_DB_CLOSE_TIMEOUT: Duration = Duration::from_secs(10);

/// What a surviving manager carries into the new cluster.
pub struct Survivor {
    data: Vec<u8>,
    last: LogId<u64>,
    term: u64,
}

/// Takes this manager's state (call before shutting it down).
pub fn survivor(manager: &Manager) -> Result<Survivor, ManagerError> {
    let (last, term) = {
        let metrics = manager.raft().metrics();
        let m = metrics.borrow();
        (m.last_applied, m.current_term)
    };
    let last = last.ok_or_else(|| ManagerError::Init("this manager has applied nothing yet".into()))?;
    let data = manager.store().view(|s| s.to_snapshot()).encode_to_vec();
    Ok(Survivor { data, last, term })
}

/// Starts a fresh raft in `config.raft_dir` (which must not hold an old
/// one) holding the survivor's state, with this manager as the only voter;
/// returns once it leads.
pub async fn start(config: ManagerConfig, survivor: Survivor) -> Result<Manager, ManagerError> {
    let (id, addr) = (config.raft_id, config.addr.clone());
    // The old raft's database closes as its tasks end: RocksDB refuses a
    // second open of the same path in one process until then.
    let started = std::time::Instant::now();
    let manager = loop {
        match Manager::start(config.clone()).await {
            Err(ManagerError::Raft(e))
                if matches!(*e, crate::raft::StartError::Db { .. }) && started.elapsed() < OLD_DB_CLOSE_TIMEOUT =>
            {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            result => break result?,
        }
    };
    let membership = Membership::new(vec![BTreeSet::from([id])], BTreeMap::from([(id, BasicNode::new(&addr))]));
    let meta = SnapshotMeta {
        last_log_id: Some(survivor.last),
        last_membership: StoredMembership::new(Some(survivor.last), membership),
        snapshot_id: format!("force-new-cluster-{}", survivor.last.index),
    };
    let snapshot = Snapshot { meta, snapshot: Box::new(Cursor::new(survivor.data)) };
    let fail = |e: &dyn std::fmt::Display| ManagerError::Init(e.to_string());
    // The snapshot comes "from" a leader of a newer term that no longer
    // exists (raft id 0 is never used): this manager installs it, hears
    // nothing more from that leader, and elects itself.
    let vote = Vote::new_committed(survivor.term + 1, 0);
    manager.raft().install_full_snapshot(vote, snapshot).await.map_err(|e| fail(&e))?;
    manager
        .raft()
        .wait(Some(Duration::from_secs(30)))
        .current_leader(id, "the new cluster's leader")
        .await
        .map_err(|e| fail(&e))?;
    Ok(manager)
}
