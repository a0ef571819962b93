//! `node init --force-new-cluster`: when a majority of managers is lost
//! for good, a surviving manager makes a new cluster of one manager from
//! its own state (as `docker swarm init --force-new-cluster` does).
//!
//! The manager's store, as last applied, becomes the snapshot of a fresh
//! raft whose only voter is this manager. Everything in the store stays:
//! cluster, CA, nodes (the lost managers show as unreachable until
//! demoted and removed), services and tasks. Writes the old majority
//! committed but this manager never applied are lost, as they are in
//! Swarm.
//!
//! This module builds the new raft state in a folder of its own and
//! closes it again; the daemon moves it into place (crash-safe: see
//! `src/daemon/recover.rs`), so the old state is never touched while a
//! database is open on it.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Cursor;
use std::time::Duration;

use openraft::{BasicNode, LogId, Membership, Snapshot, SnapshotMeta, StoredMembership, Vote};
use prost::Message;
use shoal_proto::transport::Role;

use crate::ca::{self, Issued};
use crate::config::{ManagerConfig, ManagerError};
use crate::keys::Keyring;
use crate::raft::{Raft, RaftState};
use crate::store::Store;

/// How long a raft database may take to close after its raft stopped.
pub const CLOSE_TIMEOUT: Duration = Duration::from_secs(10);

/// What a surviving manager carries into the new cluster.
pub struct Survivor {
    data: Vec<u8>,
    last: LogId<u64>,
    term: u64,
    /// This node's certificate in the new cluster (the old one may have
    /// expired while the majority was gone).
    pub certificate: Issued,
}

/// Takes the state of manager `node_id`, its `raft` and the `store` it
/// applies to (call before shutting it down).
pub fn survivor(raft: &Raft, store: &Store, keys: &Keyring, node_id: &str) -> Result<Survivor, ManagerError> {
    let (last, term) = {
        let metrics = raft.metrics();
        let m = metrics.borrow();
        (m.last_applied, m.current_term)
    };
    let last = last.ok_or_else(|| ManagerError::Init("this manager has applied nothing yet".into()))?;
    let (snapshot, authority) = store.view(|s| {
        let authority =
            s.cluster().and_then(|c| Some((ca::root_ca(c, keys).ok()?, c.id.clone(), ca::node_cert_lifetime(c))));
        (s.to_snapshot(), authority)
    });
    let (root, cluster_id, lifetime) =
        authority.ok_or_else(|| ManagerError::Init("this manager's store holds no cluster CA it can open".into()))?;
    let certificate = root
        .issue(node_id, Role::Manager, &cluster_id, lifetime)
        .map_err(|e| ManagerError::Init(format!("issuing this node's certificate: {e}")))?;
    Ok(Survivor { data: snapshot.encode_to_vec(), last, term, certificate })
}

/// Builds the new cluster's raft state in `config.raft_dir` (a folder
/// that must hold none): the survivor's state as a snapshot, this manager
/// its only voter. Returns once it has elected itself and its database is
/// closed again.
pub async fn build(config: ManagerConfig, survivor: &Survivor) -> Result<(), ManagerError> {
    let (id, addr) = (config.raft_id, config.addr.clone());
    let started = ManagerConfig { raft_state: RaftState::New, ..config }.start_raft().await?;
    let result = install(&started.raft, id, &addr, survivor).await;
    let _ = started.raft.shutdown().await;
    let closed = started.closed.clone();
    drop(started);
    result?;
    if !closed.wait(CLOSE_TIMEOUT).await {
        return Err(ManagerError::Init("the new raft database did not close in time".into()));
    }
    Ok(())
}

async fn install(raft: &Raft, id: u64, addr: &str, survivor: &Survivor) -> Result<(), ManagerError> {
    let membership = Membership::new(vec![BTreeSet::from([id])], BTreeMap::from([(id, BasicNode::new(addr))]));
    let meta = SnapshotMeta {
        last_log_id: Some(survivor.last),
        last_membership: StoredMembership::new(Some(survivor.last), membership),
        snapshot_id: format!("force-new-cluster-{}", survivor.last.index),
    };
    let snapshot = Snapshot { meta, snapshot: Box::new(Cursor::new(survivor.data.clone())) };
    let fail = |e: &dyn std::fmt::Display| ManagerError::Init(e.to_string());
    // The snapshot comes "from" a leader of a newer term that no longer
    // exists (raft id 0 is never used): this manager installs it, hears
    // nothing more from that leader, and elects itself.
    let vote = Vote::new_committed(survivor.term + 1, 0);
    raft.install_full_snapshot(vote, snapshot).await.map_err(|e| fail(&e))?;
    raft.wait(Some(Duration::from_secs(30)))
        .current_leader(id, "the new cluster's leader")
        .await
        .map_err(|e| fail(&e))?;
    // Its first entry as leader is committed (and synced): the state
    // survives the move.
    raft.ensure_linearizable().await.map_err(|e| fail(&e))?;
    Ok(())
}
