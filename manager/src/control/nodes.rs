//! Node reads, with the manager status filled in from raft.

use shoal_proto::{
    JoinTokenRequest, JoinTokenResponse, JoinTokens, ListNodesResponse, Node, NodeAvailability, NodeRole, NodeState,
    ObjectKind, Reachability, RemoveNodeRequest, RemoveNodeResponse, UpdateNodeRequest, store_object::Object,
};

use super::ControlError;
use super::InvalidSpec;
use crate::ca::token;
use crate::ops;
use crate::proposer::ProposeError;
use crate::store::StoreError;

use super::Handles;
use super::{Result, resolve};
use crate::leadership::Leadership;
use crate::proposer::Proposer;
use crate::store::Store;

/// What raft says of the managers, taken once per answer so that every
/// node of a listing is judged by the same view.
struct RaftView {
    leader: Option<u64>,
    quorum: bool,
}

impl RaftView {
    fn now(leadership: &Leadership) -> RaftView {
        RaftView { leader: leadership.leader_raft_id(), quorum: leadership.quorum().check().is_ok() }
    }

    /// Sets `leader` of a manager node. Reachability is what the leader
    /// recorded; without a quorum, what this manager sees itself. A Down
    /// node whose certificate expired says so.
    fn apply(&self, leadership: &Leadership, mut node: Node) -> Node {
        if let Some(expired) = expired(&node)
            && let Some(status) = node.status.as_mut()
        {
            status.message = expired;
        }
        if let Some(status) = node.manager_status.as_mut() {
            status.leader = self.quorum && self.leader == Some(status.raft_id);
            if !self.quorum {
                let reachable = leadership.quorum().reachable(status.raft_id);
                status.reachability =
                    if reachable { Reachability::Reachable as i32 } else { Reachability::Unreachable as i32 };
            }
        }
        node
    }
}

/// Why a Down node cannot come back by itself: its certificate expired.
fn expired(node: &Node) -> Option<String> {
    let down = node.status.as_ref().is_some_and(|s| s.state() == NodeState::Down);
    let expiry = node.certificate_expiry;
    (down && expiry > 0 && expiry < shoal_proto::now_nanos()).then(|| {
        let when = humantime::format_rfc3339_seconds(shoal_proto::nanos_to_system_time(expiry));
        format!(
            "its certificate expired at {when}: it comes back once re-joined, keeping its identity \
             (on the node: shoal node join --token TOKEN MANAGER)"
        )
    })
}

pub fn list(h: &Handles) -> ListNodesResponse {
    let nodes: Vec<Node> = h.store.view(|s| s.nodes().cloned().collect());
    let view = RaftView::now(&h.leadership);
    let mut warnings: Vec<String> =
        nodes.iter().filter_map(|n| Some(format!("node {}: {}", resolve::hostname(n), expired(n)?))).collect();
    warnings.extend(Some(h.leadership.staleness()).filter(|s| !s.is_empty()));
    ListNodesResponse {
        nodes: nodes.into_iter().map(|n| view.apply(&h.leadership, n)).collect(),
        self_node_id: h.node_id.clone(),
        warning: warnings.join("\nWarning: "),
    }
}

pub fn get(h: &Handles, reference: &str) -> Result<Node> {
    let node = h.store.view(|s| resolve::node(s, reference).cloned())?;
    Ok(RaftView::now(&h.leadership).apply(&h.leadership, node))
}

/// A join token, rotated first if asked.
pub async fn join_token(h: &Handles, req: JoinTokenRequest) -> Result<JoinTokenResponse> {
    let manager_role = match req.role.as_str() {
        "worker" => false,
        "manager" => true,
        other => return Err(InvalidSpec(format!("role: expected worker or manager, got {other:?}")).into()),
    };
    let pick = |t: &JoinTokens| if manager_role { t.manager.clone() } else { t.worker.clone() };
    if req.rotate {
        h.proposer
            .update_cluster(|cluster| {
                let root = cluster.root_ca.get_or_insert_with(Default::default);
                let fresh = token::generate(&token::digest(&root.cert));
                let tokens = root.join_tokens.get_or_insert_with(Default::default);
                *(if manager_role { &mut tokens.manager } else { &mut tokens.worker }) = fresh;
            })
            .await?;
    }
    let tokens = h.store.view(|s| s.join_tokens().cloned());
    let tokens = tokens.ok_or_else(|| ControlError::NotFound("the cluster has no join tokens".into()))?;
    Ok(JoinTokenResponse { token: pick(&tokens), addr: h.addr.clone() })
}

/// `node update`: availability and labels.
pub async fn update(h: &Handles, req: UpdateNodeRequest) -> Result<Node> {
    if let Some(key) = req.label_add.keys().chain(req.label_rm.iter()).find(|k| k.is_empty()) {
        return Err(InvalidSpec(format!("label: expected a key, got {key:?}")).into());
    }
    let availability = match req.availability {
        None => None,
        Some(a) => Some(
            NodeAvailability::try_from(a)
                .map_err(|_| InvalidSpec(format!("availability: expected active, pause or drain, got {a}")))?,
        ),
    };
    let role = match req.role {
        None => None,
        Some(r) => {
            Some(NodeRole::try_from(r).map_err(|_| InvalidSpec(format!("role: expected worker or manager, got {r}")))?)
        }
    };
    let id = h.store.view(|s| resolve::node(s, &req.reference).map(|n| n.id.clone()))?;
    if role == Some(NodeRole::Worker) {
        check_demote(&h.store, &h.leadership, &id)?;
    }
    let change = |node: &mut Node| {
        let spec = node.spec.get_or_insert_with(Default::default);
        if let Some(a) = availability {
            spec.availability = a as i32;
        }
        if let Some(r) = role {
            spec.desired_role = r as i32;
        }
        let labels = &mut spec.annotations.get_or_insert_with(Default::default).labels;
        labels.extend(req.label_add.clone());
        for key in &req.label_rm {
            labels.remove(key);
        }
    };
    let node = match req.version {
        None => h.proposer.update_node(&id, change).await?,
        // From the version the caller read: the store refuses the write
        // if the node changed since, even between this read and it.
        Some(read) => {
            let mut node = h.store.view(|s| resolve::node(s, &id).cloned())?;
            node.meta.get_or_insert_with(Default::default).version = read;
            change(&mut node);
            h.proposer.propose(vec![ops::update(Object::Node(node.clone()))]).await?;
            h.store.view(|s| s.node(&id).cloned()).unwrap_or(node)
        }
    };
    Ok(RaftView::now(&h.leadership).apply(&h.leadership, node))
}

/// Refuses a demotion that would leave no manager, or leave the other
/// managers without a quorum among those reachable now.
fn check_demote(store: &Store, leadership: &Leadership, id: &str) -> Result<()> {
    let (node, managers) = store.view(|s| {
        let managers = s
            .nodes()
            .filter(|n| n.spec.as_ref().is_some_and(|sp| sp.desired_role() == NodeRole::Manager))
            .filter(|n| n.manager_status.is_some())
            .count();
        (s.node(id).cloned(), managers)
    });
    let Some(node) = node else { return Ok(()) };
    let Some(raft_id) = node.manager_status.as_ref().map(|m| m.raft_id) else { return Ok(()) };
    if managers <= 1 {
        return Err(ControlError::Refused(format!(
            "node {} is the last manager of the cluster: promote another node first",
            node.id
        )));
    }
    // The raft voters that stay, and how many of them answer now.
    let voters: Vec<u64> = {
        let metrics = leadership.raft().metrics();
        let m = metrics.borrow();
        m.membership_config.membership().voter_ids().filter(|v| *v != raft_id).collect()
    };
    let reachable = voters.iter().filter(|v| leadership.quorum().reachable(**v)).count();
    if reachable * 2 <= voters.len() {
        return Err(ControlError::Refused(format!(
            "demoting node {} would leave {} manager(s) of which only {reachable} reachable: no quorum",
            node.id,
            voters.len()
        )));
    }
    Ok(())
}

/// `node rm`: a Down worker, or any worker with `force`. The node's id is
/// recorded as removed, so its certificate is refused from then on; the
/// orchestrator replaces its tasks.
pub async fn remove(store: &Store, proposer: &Proposer, req: RemoveNodeRequest) -> Result<RemoveNodeResponse> {
    loop {
        let (node, cluster) = store.view(|s| {
            let node = resolve::node(s, &req.reference)?.clone();
            let cluster = s.cluster().cloned().ok_or_else(|| ControlError::NotFound("no cluster".into()))?;
            Ok::<_, ControlError>((node, cluster))
        })?;
        if node.role() == NodeRole::Manager || node.manager_status.is_some() {
            return Err(ControlError::Refused(format!(
                "node {} is a cluster manager and a member of the raft cluster: demote it before removing it",
                node.id
            )));
        }
        let down = node.status.as_ref().is_some_and(|s| s.state() == NodeState::Down);
        if !down && !req.force {
            return Err(ControlError::Refused(format!(
                "node {} is not down and can't be removed (use --force to remove it anyway)",
                node.id
            )));
        }
        let mut cluster = cluster;
        cluster.removed_nodes.push(node.id.clone());
        let ops = vec![ops::delete(ObjectKind::Node, &node.id), ops::update(Object::Cluster(cluster))];
        match proposer.propose(ops).await {
            Err(ProposeError::Store(StoreError::VersionConflict { .. })) => continue,
            result => {
                result?;
                return Ok(RemoveNodeResponse { id: node.id });
            }
        }
    }
}
