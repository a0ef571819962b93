//! The in-memory state: every object by id, with the indexes the loops
//! and the control API read (services, networks, secrets and configs by
//! name; tasks by service and node).
//!
//! It changes only through [`MemoryStore::apply`], which applies a
//! [`Batch`] atomically: every operation, or none (an undo log restores
//! the objects an earlier operation of a refused batch had touched).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use shoal_proto::{
    Batch, Cluster, Config, Network, Node, ObjectKind, Op, Secret, Service, StoreSnapshot, Task, op,
    store_object::Object,
};

use super::assign;
use super::error::StoreError;
use super::object::{ObjectExt, kind_name};
use super::requests::Requests;
use crate::allocator::Allocations;

/// What one operation did, as published to the loops watching the store.
/// The object is boxed: an `Object` is large (over 1.5 KB inline), and a
/// commit of thousands of changes would otherwise move megabytes.
#[derive(Debug, Clone)]
pub enum Change {
    Created(Box<Object>),
    Updated(Box<Object>),
    Deleted(Box<Object>),
}

impl Change {
    /// The object after the change (before it, for a deletion).
    pub fn object(&self) -> &Object {
        match self {
            Change::Created(o) | Change::Updated(o) | Change::Deleted(o) => o.as_ref(),
        }
    }
}

/// A change and the object it replaced (none for a creation).
pub type Replaced = (Change, Option<Box<Object>>);

/// What a batch replaced, to put back if a later op of it is refused
/// (boxed, as in [`Change`]).
type Undo = Vec<(ObjectKind, String, Option<Box<Object>>)>;

/// Every stored object, indexed.
#[derive(Debug, Default, Clone)]
pub struct MemoryStore {
    clusters: BTreeMap<String, Cluster>,
    nodes: BTreeMap<String, Node>,
    services: BTreeMap<String, Service>,
    /// Boxed: a task is ~900 bytes inline, which B-tree inserts would move.
    tasks: BTreeMap<String, Box<Task>>,
    networks: BTreeMap<String, Network>,
    secrets: BTreeMap<String, Secret>,
    configs: BTreeMap<String, Config>,
    service_by_name: HashMap<String, String>,
    network_by_name: HashMap<String, String>,
    secret_by_name: HashMap<String, String>,
    config_by_name: HashMap<String, String>,
    tasks_by_service: HashMap<String, BTreeSet<String>>,
    tasks_by_node: HashMap<String, BTreeSet<String>>,
    /// Addresses and ports the objects hold.
    allocations: Allocations,
    /// Raft index of the last entry applied.
    index: u64,
    /// The control requests applied last.
    requests: Requests,
}

impl MemoryStore {
    /// The raft index this state is as of.
    pub fn index(&self) -> u64 {
        self.index
    }

    pub(crate) fn set_index(&mut self, index: u64) {
        self.index = index;
    }

    /// A store holding `objects`, created in one batch at index 1 (tests).
    #[cfg(test)]
    pub fn of(objects: Vec<Object>) -> MemoryStore {
        let mut store = MemoryStore::default();
        let ops = objects.into_iter().map(crate::ops::create).collect();
        store.apply(1, Batch { ops, timestamp: 1, ..Default::default() }).expect("the test's objects apply");
        store
    }

    // ------------------------------------------------------------ reads

    /// The cluster object (there is one once the cluster is initialised).
    pub fn cluster(&self) -> Option<&Cluster> {
        self.clusters.values().next()
    }

    /// Whether `node_id` was removed from the cluster (its certificate is void).
    pub fn is_removed(&self, node_id: &str) -> bool {
        self.cluster().is_some_and(|c| c.removed_nodes.iter().any(|r| r == node_id))
    }

    /// The admin certificate `id`, if listed.
    pub fn admin_certificate(&self, id: &str) -> Option<&shoal_proto::AdminCertificate> {
        self.cluster()?.admin_certificates.iter().find(|c| c.id == id)
    }

    /// The cluster's join tokens.
    pub fn join_tokens(&self) -> Option<&shoal_proto::JoinTokens> {
        self.cluster()?.root_ca.as_ref()?.join_tokens.as_ref()
    }

    pub fn node(&self, id: &str) -> Option<&Node> {
        self.nodes.get(id)
    }

    pub fn nodes(&self) -> impl Iterator<Item = &Node> + Clone {
        self.nodes.values()
    }

    /// Node ids of the nodes the cluster wants as managers now.
    pub fn manager_ids(&self) -> Vec<String> {
        let manager = |n: &&Node| n.spec.as_ref().is_some_and(|s| s.desired_role() == shoal_proto::NodeRole::Manager);
        self.nodes().filter(manager).map(|n| n.id.clone()).collect()
    }

    /// Endpoints of every manager.
    pub fn manager_addrs(&self) -> Vec<String> {
        self.nodes()
            .filter(|n| n.role() == shoal_proto::NodeRole::Manager)
            .filter_map(|n| n.manager_status.as_ref().map(|m| m.addr.clone()))
            .collect()
    }

    pub fn service(&self, id: &str) -> Option<&Service> {
        self.services.get(id)
    }

    pub fn service_by_name(&self, name: &str) -> Option<&Service> {
        self.service_by_name.get(name).and_then(|id| self.services.get(id))
    }

    pub fn services(&self) -> impl Iterator<Item = &Service> + Clone {
        self.services.values()
    }

    pub fn task(&self, id: &str) -> Option<&Task> {
        self.tasks.get(id).map(|t| &**t)
    }

    pub fn tasks(&self) -> impl Iterator<Item = &Task> + Clone {
        self.tasks.values().map(|t| &**t)
    }

    /// How many objects of each kind are stored.
    pub fn counts(&self) -> [(ObjectKind, usize); 7] {
        [
            (ObjectKind::Cluster, self.clusters.len()),
            (ObjectKind::Node, self.nodes.len()),
            (ObjectKind::Service, self.services.len()),
            (ObjectKind::Task, self.tasks.len()),
            (ObjectKind::Network, self.networks.len()),
            (ObjectKind::Secret, self.secrets.len()),
            (ObjectKind::Config, self.configs.len()),
        ]
    }

    pub fn network(&self, id: &str) -> Option<&Network> {
        self.networks.get(id)
    }

    pub fn network_by_name(&self, name: &str) -> Option<&Network> {
        self.network_by_name.get(name).and_then(|id| self.networks.get(id))
    }

    pub fn networks(&self) -> impl Iterator<Item = &Network> + Clone {
        self.networks.values()
    }

    /// The routing mesh's network, once made.
    pub fn ingress_network(&self) -> Option<&Network> {
        self.allocations.ingress().and_then(|id| self.networks.get(id))
    }

    pub fn secret(&self, id: &str) -> Option<&Secret> {
        self.secrets.get(id)
    }

    pub fn secret_by_name(&self, name: &str) -> Option<&Secret> {
        self.secret_by_name.get(name).and_then(|id| self.secrets.get(id))
    }

    pub fn secrets(&self) -> impl Iterator<Item = &Secret> + Clone {
        self.secrets.values()
    }

    pub fn config(&self, id: &str) -> Option<&Config> {
        self.configs.get(id)
    }

    pub fn config_by_name(&self, name: &str) -> Option<&Config> {
        self.config_by_name.get(name).and_then(|id| self.configs.get(id))
    }

    pub fn configs(&self) -> impl Iterator<Item = &Config> + Clone {
        self.configs.values()
    }

    /// Services whose tasks read the secret (or config, with `config`) `id`.
    pub fn services_using_file<'a>(&'a self, config: bool, id: &'a str) -> impl Iterator<Item = &'a Service> + 'a {
        self.services.values().filter(move |s| {
            let container = s.spec.as_ref().and_then(|s| s.task.as_ref()).and_then(|t| t.container.as_ref());
            container.is_some_and(|c| if config { &c.configs } else { &c.secrets }.iter().any(|r| r.id == id))
        })
    }

    /// Services whose tasks join network `id`.
    pub fn services_on_network<'a>(&'a self, id: &'a str) -> impl Iterator<Item = &'a Service> + 'a {
        self.services.values().filter(move |s| {
            let networks = s.spec.as_ref().and_then(|s| s.task.as_ref()).map(|t| t.networks.as_slice());
            networks.unwrap_or_default().iter().any(|n| n.target == id)
                || s.endpoint.as_ref().is_some_and(|e| e.virtual_ips.iter().any(|v| v.network_id == id))
        })
    }

    /// Tasks of a service, including those of a service already deleted
    /// (`""`: the tasks outside services).
    pub fn tasks_of_service<'a>(&'a self, service_id: &str) -> impl Iterator<Item = &'a Task> + 'a {
        Self::indexed(&self.tasks_by_service, &self.tasks, service_id)
    }

    /// Tasks assigned to a node.
    pub fn tasks_of_node<'a>(&'a self, node_id: &str) -> impl Iterator<Item = &'a Task> + 'a {
        Self::indexed(&self.tasks_by_node, &self.tasks, node_id)
    }

    fn indexed<'a>(
        index: &'a HashMap<String, BTreeSet<String>>,
        tasks: &'a BTreeMap<String, Box<Task>>,
        key: &str,
    ) -> impl Iterator<Item = &'a Task> + 'a {
        index.get(key).into_iter().flat_map(|ids| ids.iter()).filter_map(|id| tasks.get(id).map(|t| &**t))
    }

    // --------------------------------------------------------- snapshot

    /// The whole state, for a raft snapshot.
    pub fn to_snapshot(&self) -> StoreSnapshot {
        StoreSnapshot {
            clusters: self.clusters.values().cloned().collect(),
            nodes: self.nodes.values().cloned().collect(),
            services: self.services.values().cloned().collect(),
            tasks: self.tasks.values().map(|t| Task::clone(t)).collect(),
            networks: self.networks.values().cloned().collect(),
            applied_requests: self.requests.to_vec(),
            secrets: self.secrets.values().cloned().collect(),
            configs: self.configs.values().cloned().collect(),
        }
    }

    /// Rebuilds the state and its indexes from a snapshot.
    pub fn from_snapshot(snapshot: StoreSnapshot) -> MemoryStore {
        let mut store = MemoryStore::default();
        // Networks first: what services and tasks hold is indexed by network.
        let objects = (snapshot.networks.into_iter().map(Object::Network))
            .chain(snapshot.clusters.into_iter().map(Object::Cluster))
            .chain(snapshot.nodes.into_iter().map(Object::Node))
            .chain(snapshot.services.into_iter().map(Object::Service))
            .chain(snapshot.tasks.into_iter().map(Object::Task))
            .chain(snapshot.secrets.into_iter().map(Object::Secret))
            .chain(snapshot.configs.into_iter().map(Object::Config));
        for object in objects {
            store.put(object);
        }
        store.requests = snapshot.applied_requests.into_iter().collect();
        store
    }

    /// Whether the batch of control request `id` was applied (among the
    /// last [`REMEMBERED`](super::requests::REMEMBERED)).
    pub fn applied_request(&self, id: &str) -> bool {
        self.requests.applied(id)
    }

    // ----------------------------------------------------------- writes

    /// Applies `batch`, committed at raft `index`, atomically. Returns what
    /// changed; on error nothing did.
    pub fn apply(&mut self, index: u64, batch: Batch) -> Result<Vec<Change>, StoreError> {
        Ok(self.apply_with_previous(index, batch)?.into_iter().map(|(change, _)| change).collect())
    }

    /// [`MemoryStore::apply`], each change with the object as it was
    /// before it (none for a creation).
    pub fn apply_with_previous(&mut self, index: u64, batch: Batch) -> Result<Vec<Replaced>, StoreError> {
        let mut undo = Undo::new();
        let mut changes = Vec::with_capacity(batch.ops.len());
        let request = batch.request_id;
        for op in batch.ops {
            match self.apply_op(index, batch.timestamp, op, &mut undo) {
                Ok(Some(change)) => changes.push(change),
                Ok(None) => {}
                Err(err) => {
                    for (kind, id, old) in undo.into_iter().rev() {
                        self.remove(kind, &id);
                        if let Some(old) = old {
                            self.put(*old);
                        }
                    }
                    return Err(err);
                }
            }
        }
        if !request.is_empty() {
            self.requests.record(request);
        }
        // Each change wrote once, in order: its undo entry holds what it
        // replaced.
        debug_assert_eq!(changes.len(), undo.len());
        Ok(changes.into_iter().zip(undo).map(|(change, (_, _, previous))| (change, previous)).collect())
    }

    fn apply_op(&mut self, index: u64, now: i64, op: Op, undo: &mut Undo) -> Result<Option<Change>, StoreError> {
        let Some(op) = op.op else {
            return Err(StoreError::Invalid("empty operation".into()));
        };
        match op {
            op::Op::Create(o) => {
                let mut object = o.object.ok_or_else(no_object)?;
                self.check_create(&object)?;
                self.allocate(&mut object, None)?;
                let meta = object.meta_mut();
                meta.version = index;
                meta.created_index = index;
                if meta.created_at == 0 {
                    meta.created_at = now;
                }
                meta.updated_at = now;
                self.write(object.clone(), undo);
                Ok(Some(Change::Created(Box::new(object))))
            }
            op::Op::Update(o) => {
                let mut object = o.object.ok_or_else(no_object)?;
                let current = self.check_update(&object)?;
                self.allocate(&mut object, Some(&current))?;
                let (created_at, created_index) =
                    current.meta().map_or((now, index), |m| (m.created_at, m.created_index));
                let meta = object.meta_mut();
                meta.version = index;
                meta.created_at = created_at;
                meta.created_index = created_index;
                meta.updated_at = now;
                self.write(object.clone(), undo);
                Ok(Some(Change::Updated(Box::new(object))))
            }
            op::Op::Delete(r) => {
                let kind = ObjectKind::try_from(r.kind)
                    .map_err(|_| StoreError::Invalid(format!("unknown object kind {}", r.kind)))?;
                let old = self.get(kind, &r.id).ok_or_else(|| not_found(kind, &r.id))?;
                match &old {
                    Object::Network(n) => self.check_unused(n)?,
                    Object::Secret(f) => self.check_file_unused(false, &f.id, f.name())?,
                    Object::Config(f) => self.check_file_unused(true, &f.id, f.name())?,
                    _ => {}
                }
                let removed = self.remove(kind, &r.id);
                undo.push((kind, r.id.clone(), removed.map(Box::new)));
                Ok(Some(Change::Deleted(Box::new(old))))
            }
            op::Op::TaskStatus(s) => {
                let mut status = s.status.unwrap_or_default();
                self.modify_task(&s.task_id, index, now, undo, |task| {
                    let current = task.status.get_or_insert_with(Default::default);
                    if status.started_at == 0 {
                        status.started_at = current.started_at;
                    }
                    if status.state < current.state || *current == status {
                        return false;
                    }
                    *current = status;
                    true
                })
            }
            op::Op::TaskDesired(d) => self.modify_task(&d.task_id, index, now, undo, |task| {
                if d.desired_state <= task.desired_state {
                    return false;
                }
                task.desired_state = d.desired_state;
                if !d.reason.is_empty() {
                    task.desired_reason = d.reason.clone();
                }
                true
            }),
            op::Op::TaskAssign(a) => {
                let Some(mut task) = self.tasks.get(&a.task_id).map(|t| Task::clone(t)) else {
                    return Ok(None);
                };
                let avoid = self.predecessors_addresses(&task, &a.node_id);
                if !assign::assign(&mut task, &a.node_id, &a.message, &self.allocations, &avoid, now) {
                    return Ok(None);
                }
                Ok(Some(self.touch(Object::Task(task), index, now, undo)))
            }
            op::Op::ServiceStatus(s) => {
                let Some(Object::Service(mut service)) = self.get(ObjectKind::Service, &s.service_id) else {
                    return Ok(None);
                };
                if service.spec_version != s.spec_version {
                    return Ok(None);
                }
                service.update_status = s.update_status;
                if s.rollback {
                    let Some(previous) = service.previous_spec.take() else {
                        return Ok(None);
                    };
                    service.previous_spec = service.spec.replace(previous);
                    service.spec_version += 1;
                    // The spec rolled back to held its ports before; should
                    // one be taken meanwhile, the service keeps what it has.
                    if let Ok(endpoint) = self.allocations.endpoint(&service) {
                        service.endpoint = endpoint;
                    }
                    crate::history::record(
                        &mut service,
                        "automatic rollback",
                        now,
                        crate::history::limit(self.cluster()),
                    );
                }
                Ok(Some(self.touch(Object::Service(service), index, now, undo)))
            }
            op::Op::NodeStatus(s) => {
                let Some(Object::Node(mut node)) = self.get(ObjectKind::Node, &s.node_id) else {
                    return Ok(None);
                };
                node.status = s.status.clone();
                if s.description.is_some() {
                    node.description = s.description.clone();
                }
                Ok(Some(self.touch(Object::Node(node), index, now, undo)))
            }
        }
    }

    /// Runs `f` on a copy of the task; stores it if `f` says it changed.
    /// A task that no longer exists is skipped, not an error.
    fn modify_task(
        &mut self,
        id: &str,
        index: u64,
        now: i64,
        undo: &mut Undo,
        f: impl FnOnce(&mut Task) -> bool,
    ) -> Result<Option<Change>, StoreError> {
        let Some(mut task) = self.tasks.get(id).map(|t| Task::clone(t)) else {
            return Ok(None);
        };
        if !f(&mut task) {
            return Ok(None);
        }
        Ok(Some(self.touch(Object::Task(task), index, now, undo)))
    }

    fn touch(&mut self, mut object: Object, index: u64, now: i64, undo: &mut Undo) -> Change {
        let meta = object.meta_mut();
        meta.version = index;
        meta.updated_at = now;
        self.write(object.clone(), undo);
        Change::Updated(Box::new(object))
    }

    fn check_create(&self, object: &Object) -> Result<(), StoreError> {
        let kind = object.kind();
        if object.id().is_empty() {
            return Err(StoreError::Invalid(format!("{} without an id", kind_name(kind))));
        }
        if self.contains(kind, object.id()) {
            return Err(StoreError::Exists { kind: kind_name(kind).into(), id: object.id().into() });
        }
        self.check_name(object)
    }

    fn check_update(&self, object: &Object) -> Result<Object, StoreError> {
        let kind = object.kind();
        let current = self.get(kind, object.id()).ok_or_else(|| not_found(kind, object.id()))?;
        if current.version() != object.version() {
            return Err(StoreError::VersionConflict {
                kind: kind_name(kind).into(),
                id: object.id().into(),
                read: object.version(),
                current: current.version(),
            });
        }
        self.check_name(object)?;
        Ok(current)
    }

    fn check_name(&self, object: &Object) -> Result<(), StoreError> {
        let (kind, by_name, name) = match object {
            Object::Service(s) => ("service", &self.service_by_name, s.name()),
            Object::Network(n) => ("network", &self.network_by_name, n.name()),
            Object::Secret(f) => ("secret", &self.secret_by_name, f.name()),
            Object::Config(f) => ("config", &self.config_by_name, f.name()),
            _ => return Ok(()),
        };
        if let Some(holder) = by_name.get(name).filter(|holder| *holder != object.id()) {
            return Err(StoreError::NameConflict { kind: kind.into(), name: name.into(), id: holder.clone() });
        }
        Ok(())
    }

    /// Fills in what a network or service being written holds: a new
    /// network's subnet and VXLAN id (kept on later writes), a service's
    /// published ports and VIPs for its spec.
    fn allocate(&self, object: &mut Object, current: Option<&Object>) -> Result<(), StoreError> {
        match object {
            Object::Network(n) => {
                n.allocation = match current {
                    Some(Object::Network(c)) => c.allocation.clone(),
                    _ => {
                        let spec = n.spec.clone().unwrap_or_default();
                        Some(self.allocations.network(&n.id, &spec).map_err(|e| StoreError::Refused(e.to_string()))?)
                    }
                };
            }
            Object::Service(s) => {
                s.endpoint = current.and_then(|c| match c {
                    Object::Service(c) => c.endpoint.clone(),
                    _ => None,
                });
                s.endpoint = self.allocations.endpoint(s).map_err(|e| StoreError::Refused(e.to_string()))?;
            }
            Object::Node(n) => {
                if let Some(Object::Node(c)) = current {
                    n.attachments = c.attachments.clone();
                }
                n.attachments = self.allocations.node_attachments(n);
            }
            _ => {}
        }
        Ok(())
    }

    /// The addresses the earlier tasks of `task`'s slot had (for a global
    /// service's task: of its node), for its own to differ.
    fn predecessors_addresses(&self, task: &Task, node_id: &str) -> Vec<std::net::Ipv4Addr> {
        if task.networks.is_empty()
            && task.spec.as_ref().is_none_or(|s| s.networks.is_empty())
            && task.endpoint.is_none()
        {
            return Vec::new();
        }
        self.tasks_of_service(&task.service_id)
            .filter(|t| t.id != task.id && t.slot == task.slot && (task.slot != 0 || t.node_id == node_id))
            .flat_map(|t| t.networks.iter().flat_map(|n| n.addresses.iter()))
            .filter_map(|a| crate::allocator::ipam::parse_addr(a))
            .collect()
    }

    /// A network may go once no service uses it and no task holds an
    /// address on it.
    fn check_unused(&self, network: &Network) -> Result<(), StoreError> {
        let name = network.name();
        let services: Vec<&str> = self.services_on_network(&network.id).map(Service::name).collect();
        if !services.is_empty() {
            return Err(StoreError::Refused(format!(
                "network {name} is in use by service{} {}",
                if services.len() == 1 { "" } else { "s" },
                services.join(", ")
            )));
        }
        match self.allocations.held(&network.id) {
            0 => Ok(()),
            n => Err(StoreError::Refused(format!(
                "network {name} is in use by {n} task{} that ha{} not stopped yet",
                if n == 1 { "" } else { "s" },
                if n == 1 { "s" } else { "ve" }
            ))),
        }
    }

    /// A secret or config may go once no service reads it (Swarm's rule:
    /// the tasks still running keep what they received).
    fn check_file_unused(&self, config: bool, id: &str, name: &str) -> Result<(), StoreError> {
        let services: Vec<&str> = self.services_using_file(config, id).map(Service::name).collect();
        if services.is_empty() {
            return Ok(());
        }
        Err(StoreError::Refused(format!(
            "{} {name} is in use by service{} {}",
            if config { "config" } else { "secret" },
            if services.len() == 1 { "" } else { "s" },
            services.join(", ")
        )))
    }

    fn write(&mut self, object: Object, undo: &mut Undo) {
        let kind = object.kind();
        let id = object.id().to_string();
        let old = self.remove(kind, &id);
        undo.push((kind, id, old.map(Box::new)));
        self.put(object);
    }

    fn contains(&self, kind: ObjectKind, id: &str) -> bool {
        match kind {
            ObjectKind::Cluster => self.clusters.contains_key(id),
            ObjectKind::Node => self.nodes.contains_key(id),
            ObjectKind::Service => self.services.contains_key(id),
            ObjectKind::Task => self.tasks.contains_key(id),
            ObjectKind::Network => self.networks.contains_key(id),
            ObjectKind::Secret => self.secrets.contains_key(id),
            ObjectKind::Config => self.configs.contains_key(id),
        }
    }

    fn get(&self, kind: ObjectKind, id: &str) -> Option<Object> {
        match kind {
            ObjectKind::Cluster => self.clusters.get(id).cloned().map(Object::Cluster),
            ObjectKind::Node => self.nodes.get(id).cloned().map(Object::Node),
            ObjectKind::Service => self.services.get(id).cloned().map(Object::Service),
            ObjectKind::Task => self.tasks.get(id).map(|t| Object::Task(Task::clone(t))),
            ObjectKind::Network => self.networks.get(id).cloned().map(Object::Network),
            ObjectKind::Secret => self.secrets.get(id).cloned().map(Object::Secret),
            ObjectKind::Config => self.configs.get(id).cloned().map(Object::Config),
        }
    }

    /// Inserts an object and indexes it (no checks).
    fn put(&mut self, object: Object) {
        match object {
            Object::Cluster(c) => {
                self.clusters.insert(c.id.clone(), c);
            }
            Object::Node(n) => {
                self.allocations.add_node(&n);
                self.nodes.insert(n.id.clone(), n);
            }
            Object::Service(s) => {
                self.service_by_name.insert(s.name().to_string(), s.id.clone());
                self.allocations.add_service(&s);
                self.services.insert(s.id.clone(), s);
            }
            Object::Task(t) => {
                // Tasks outside services under "" (`tasks_of_service("")`);
                // tasks on no node yet nowhere.
                index_insert(&mut self.tasks_by_service, &t.service_id, &t.id);
                if !t.node_id.is_empty() {
                    index_insert(&mut self.tasks_by_node, &t.node_id, &t.id);
                }
                self.allocations.add_task(&t);
                self.tasks.insert(t.id.clone(), Box::new(t));
            }
            Object::Network(n) => {
                self.network_by_name.insert(n.name().to_string(), n.id.clone());
                self.allocations.add_network(&n);
                self.networks.insert(n.id.clone(), n);
            }
            Object::Secret(f) => {
                self.secret_by_name.insert(f.name().to_string(), f.id.clone());
                self.secrets.insert(f.id.clone(), f);
            }
            Object::Config(f) => {
                self.config_by_name.insert(f.name().to_string(), f.id.clone());
                self.configs.insert(f.id.clone(), f);
            }
        }
    }

    /// Removes an object and its index entries.
    fn remove(&mut self, kind: ObjectKind, id: &str) -> Option<Object> {
        match kind {
            ObjectKind::Cluster => self.clusters.remove(id).map(Object::Cluster),
            ObjectKind::Node => {
                let n = self.nodes.remove(id)?;
                self.allocations.remove_node(&n);
                Some(Object::Node(n))
            }
            ObjectKind::Service => {
                let s = self.services.remove(id)?;
                self.service_by_name.remove(s.name());
                self.allocations.remove_service(&s);
                Some(Object::Service(s))
            }
            ObjectKind::Task => {
                let t = *self.tasks.remove(id)?;
                index_remove(&mut self.tasks_by_service, &t.service_id, id);
                index_remove(&mut self.tasks_by_node, &t.node_id, id);
                self.allocations.remove_task(&t);
                Some(Object::Task(t))
            }
            ObjectKind::Network => {
                let n = self.networks.remove(id)?;
                self.network_by_name.remove(n.name());
                self.allocations.remove_network(&n);
                Some(Object::Network(n))
            }
            ObjectKind::Secret => {
                let f = self.secrets.remove(id)?;
                self.secret_by_name.remove(f.name());
                Some(Object::Secret(f))
            }
            ObjectKind::Config => {
                let f = self.configs.remove(id)?;
                self.config_by_name.remove(f.name());
                Some(Object::Config(f))
            }
        }
    }
}

fn index_insert(index: &mut HashMap<String, BTreeSet<String>>, key: &str, id: &str) {
    // No key copy when the key is there already (nearly always).
    match index.get_mut(key) {
        Some(ids) => {
            ids.insert(id.to_string());
        }
        None => {
            index.insert(key.to_string(), BTreeSet::from([id.to_string()]));
        }
    }
}

fn index_remove(index: &mut HashMap<String, BTreeSet<String>>, key: &str, id: &str) {
    if let Some(ids) = index.get_mut(key) {
        ids.remove(id);
        if ids.is_empty() {
            index.remove(key);
        }
    }
}

fn not_found(kind: ObjectKind, id: &str) -> StoreError {
    StoreError::NotFound { kind: kind_name(kind).into(), id: id.into() }
}

fn no_object() -> StoreError {
    StoreError::Invalid("operation without an object".into())
}

#[cfg(test)]
mod tests;
