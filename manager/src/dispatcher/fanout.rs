//! The fan-out: one pass over each commit for every session. Changes are
//! sorted by the node they concern, so that a session wakes only for
//! news of its own (its tasks, its node) or news that reaches it (the
//! manager list changed, a network its tasks are on changed), instead of
//! every session reading every change of the cluster. With thousands of
//! sessions that is the difference between O(changes) and
//! O(sessions × changes) per commit.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;
use shoal_proto::store_object::Object;
use tokio::sync::{Notify, broadcast};
use tokio_util::sync::CancellationToken;

use super::{Dispatcher, network_map};
use crate::store::{Change, Commit, MemoryStore};
use crate::watch::{self, Wake};

/// One change of a commit, shared (never copied).
#[derive(Clone)]
pub struct Routed {
    commit: Arc<Commit>,
    change: usize,
}

impl Routed {
    pub fn index(&self) -> u64 {
        self.commit.index
    }

    pub fn change(&self) -> &Change {
        &self.commit.changes[self.change]
    }
}

/// What a session has not read yet, merged while it is busy.
#[derive(Default)]
pub struct News {
    /// Changes of the node's own tasks and of its node object, in order.
    pub own: Vec<Routed>,
    /// The managers (their addresses or ids) changed.
    pub managers: bool,
    /// Every network map may have changed (a node's addresses, a
    /// service or a network changed).
    pub remap: bool,
    /// The session missed commits: it re-reads everything.
    pub resync: bool,
    /// When the oldest commit of this news was applied.
    pub applied: Option<Instant>,
}

impl News {
    fn is_empty(&self) -> bool {
        self.own.is_empty() && !self.managers && !self.remap && !self.resync
    }
}

/// A session's mailbox: the fan-out posts, the session takes.
#[derive(Default)]
pub struct Mailbox {
    news: Mutex<News>,
    notify: Notify,
    /// The networks in the session's map now (set by the session): a
    /// change on one of them wakes it.
    joined: Mutex<HashSet<String>>,
}

impl Mailbox {
    /// Waits for news, then takes it all.
    pub async fn take(&self) -> News {
        loop {
            self.notify.notified().await;
            let news = std::mem::take(&mut *self.news.lock());
            if !news.is_empty() {
                return news;
            }
        }
    }

    /// The networks the session's map holds now.
    pub fn set_joined(&self, networks: impl Iterator<Item = String>) {
        *self.joined.lock() = networks.collect();
    }

    /// Asks the session to make its map again.
    pub fn remap_later(&self) {
        self.post(|news| news.remap = true);
    }

    /// Posts a batch's news for this session: its own changes, and
    /// whether the managers changed and its map must be made again.
    /// Nothing when there is nothing for it.
    fn deliver(&self, own: Vec<Routed>, managers: bool, remap: bool, applied: Option<Instant>) {
        if own.is_empty() && !managers && !remap {
            return;
        }
        self.post(|news| {
            news.own.extend(own);
            news.managers |= managers;
            news.remap |= remap;
            news.applied = match (news.applied, applied) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        });
    }

    /// Whether the session's map holds one of `networks`.
    fn holds_any(&self, networks: &HashSet<String>) -> bool {
        !networks.is_empty() && self.joined.lock().iter().any(|n| networks.contains(n))
    }

    fn post(&self, f: impl FnOnce(&mut News)) {
        f(&mut self.news.lock());
        self.notify.notify_one();
    }
}

/// The manager list as sessions send it.
type Managers = (Vec<String>, Vec<String>);

fn managers(store: &MemoryStore) -> Managers {
    (store.manager_addrs(), store.manager_ids())
}

/// What of a node other nodes' maps hold: its address and its
/// attachments (its ingress address).
fn mapped(node: &shoal_proto::Node) -> (String, Vec<shoal_proto::NetworkAttachment>) {
    (node.status.as_ref().map(|s| s.addr.clone()).unwrap_or_default(), node.attachments.clone())
}

/// What the fan-out remembers between commits.
struct State {
    managers: Managers,
    /// Each node as the network maps see it.
    nodes: HashMap<String, (String, Vec<shoal_proto::NetworkAttachment>)>,
}

impl State {
    fn read(store: &MemoryStore) -> State {
        State { managers: managers(store), nodes: store.nodes().map(|n| (n.id.clone(), mapped(n))).collect() }
    }
}

/// Commits sorted for the sessions.
#[derive(Default)]
struct Sorted {
    by_node: HashMap<String, Vec<Routed>>,
    /// Networks whose tasks changed.
    touched: HashSet<String>,
    remap: bool,
    nodes_changed: bool,
    /// Nodes whose address changed: their tasks' networks are touched.
    readdressed: Vec<String>,
}

impl Sorted {
    fn of(commits: &[Arc<Commit>], state: &mut State) -> Sorted {
        let mut sorted = Sorted::default();
        for commit in commits {
            for (i, change) in commit.changes.iter().enumerate() {
                let routed = || Routed { commit: commit.clone(), change: i };
                match change.object() {
                    Object::Task(task) => {
                        if !task.node_id.is_empty() {
                            sorted.by_node.entry(task.node_id.clone()).or_default().push(routed());
                        }
                        if network_map::matters(change) {
                            sorted.touched.extend(task.networks.iter().map(|n| n.network_id.clone()));
                        }
                    }
                    Object::Node(node) => {
                        sorted.by_node.entry(node.id.clone()).or_default().push(routed());
                        sorted.nodes_changed = true;
                        let now = match change {
                            Change::Deleted(_) => None,
                            _ => Some(mapped(node)),
                        };
                        let before = match &now {
                            Some(now) => state.nodes.insert(node.id.clone(), now.clone()),
                            None => state.nodes.remove(&node.id),
                        };
                        let ((addr, attachments), (addr_now, attachments_now)) =
                            (before.unwrap_or_default(), now.unwrap_or_default());
                        // Its ingress address is in every mesh node's map;
                        // its address in the maps of its tasks' networks.
                        if attachments != attachments_now {
                            sorted
                                .touched
                                .extend(attachments.iter().chain(&attachments_now).map(|a| a.network_id.clone()));
                        }
                        if addr != addr_now {
                            sorted.readdressed.push(node.id.clone());
                        }
                    }
                    Object::Service(_) | Object::Network(_) => sorted.remap |= network_map::matters(change),
                    Object::Cluster(_) | Object::Secret(_) | Object::Config(_) => {}
                }
            }
        }
        sorted
    }

    /// The networks of the readdressed nodes' tasks, touched.
    fn readdress(&mut self, store: &MemoryStore) {
        for node_id in &self.readdressed {
            let tasks = store.tasks_of_node(node_id);
            self.touched.extend(tasks.flat_map(|t| t.networks.iter().map(|n| n.network_id.clone())));
        }
    }
}

/// Runs until `stop`, reading commits from `events` (subscribed by the
/// caller before any session could open, so that none is missed).
pub async fn run(dispatcher: Dispatcher, mut events: broadcast::Receiver<Arc<Commit>>, stop: CancellationToken) {
    let store = dispatcher.inner.store.clone();
    let mut state = store.view(State::read);
    loop {
        let wake = tokio::select! {
            _ = stop.cancelled() => return,
            wake = watch::next(&mut events) => wake,
        };
        match wake {
            Wake::Commits(commits) => {
                let mut sorted = Sorted::of(&commits, &mut state);
                if !sorted.readdressed.is_empty() {
                    store.view(|s| sorted.readdress(s));
                }
                let managers = sorted.nodes_changed && {
                    let now = store.view(managers);
                    now != state.managers && {
                        state.managers = now;
                        true
                    }
                };
                let applied = commits.iter().map(|c| c.applied).min();
                let sessions = dispatcher.inner.sessions.lock();
                if sorted.remap || managers || !sorted.touched.is_empty() {
                    for (node_id, session) in sessions.iter() {
                        let own = sorted.by_node.remove(node_id).unwrap_or_default();
                        let remap = sorted.remap || session.mailbox.holds_any(&sorted.touched);
                        session.mailbox.deliver(own, managers, remap, applied);
                    }
                } else {
                    // Only the nodes the changes concern: O(changes), not O(sessions).
                    for (node_id, own) in sorted.by_node {
                        if let Some(session) = sessions.get(&node_id) {
                            session.mailbox.deliver(own, false, false, applied);
                        }
                    }
                }
            }
            Wake::Resync => {
                state = store.view(State::read);
                for session in dispatcher.inner.sessions.lock().values() {
                    session.mailbox.post(|news| news.resync = true);
                }
            }
            Wake::Closed => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use shoal_proto::{
        Annotations, Batch, NetworkAttachment, NetworkAttachmentConfig, NetworkSpec, Node, NodeStatus, Task, TaskSpec,
    };

    use super::*;
    use crate::ops;

    fn commit(index: u64, changes: Vec<Change>) -> Arc<Commit> {
        Arc::new(Commit { index, changes, reset: false, applied: Instant::now() })
    }

    fn node(id: &str, addr: &str, ingress: Option<&str>) -> Object {
        let attachments = ingress
            .map(|n| NetworkAttachment { network_id: n.into(), addresses: vec!["10.0.0.2/24".into()] })
            .into_iter()
            .collect();
        let status = NodeStatus { addr: addr.into(), ..Default::default() };
        Object::Node(Node { id: id.into(), status: Some(status), attachments, ..Default::default() })
    }

    fn task(id: &str, node: &str, network: Option<&str>) -> Object {
        let networks = network
            .map(|n| NetworkAttachment { network_id: n.into(), addresses: vec!["10.0.1.5/24".into()] })
            .into_iter()
            .collect();
        Object::Task(Task { id: id.into(), node_id: node.into(), networks, ..Default::default() })
    }

    fn updated(object: Object) -> Change {
        Change::Updated(Box::new(object))
    }

    fn state(nodes: &[Object]) -> State {
        let nodes = nodes
            .iter()
            .map(|n| match n {
                Object::Node(n) => (n.id.clone(), mapped(n)),
                _ => unreachable!("nodes only"),
            })
            .collect();
        State { managers: Default::default(), nodes }
    }

    #[test]
    fn each_change_goes_to_the_node_it_concerns() {
        let mut state = state(&[node("a", "10.1.0.1:4242", None), node("b", "10.1.0.2:4242", None)]);
        let changes = vec![
            updated(task("t1", "a", None)),
            updated(task("t2", "b", Some("net1"))),
            updated(task("t3", "", Some("net2"))),
            // Its status only: no one's map changes.
            updated(node("a", "10.1.0.1:4242", None)),
        ];
        let sorted = Sorted::of(&[commit(7, changes)], &mut state);
        let count = |n: &str| sorted.by_node.get(n).map_or(0, Vec::len);
        assert_eq!((count("a"), count("b")), (2, 1), "unassigned tasks go to no node");
        assert_eq!(sorted.by_node["b"][0].index(), 7);
        assert!(matches!(sorted.by_node["b"][0].change().object(), Object::Task(t) if t.id == "t2"));
        assert_eq!(sorted.touched, HashSet::from(["net1".to_string(), "net2".to_string()]));
        assert!(sorted.nodes_changed && !sorted.remap && sorted.readdressed.is_empty());
    }

    #[test]
    fn a_node_joining_touches_no_map_until_it_holds_addresses() {
        let mut state = state(&[]);
        let sorted =
            Sorted::of(&[commit(1, vec![Change::Created(Box::new(node("c", "10.1.0.3:4242", None)))])], &mut state);
        assert!(sorted.touched.is_empty() && !sorted.remap);
        assert_eq!(sorted.readdressed, ["c"], "its tasks' networks, none yet, are looked up");
        // It joins the mesh: every map with the ingress network changes.
        let sorted = Sorted::of(&[commit(2, vec![updated(node("c", "10.1.0.3:4242", Some("ing")))])], &mut state);
        assert_eq!(sorted.touched, HashSet::from(["ing".to_string()]));
        assert!(sorted.readdressed.is_empty());
        // It goes: so does its ingress address.
        let sorted = Sorted::of(
            &[commit(3, vec![Change::Deleted(Box::new(node("c", "10.1.0.3:4242", Some("ing"))))])],
            &mut state,
        );
        assert_eq!(sorted.touched, HashSet::from(["ing".to_string()]));
        assert!(state.nodes.is_empty());
    }

    #[test]
    fn a_node_whose_address_changed_touches_its_tasks_networks() {
        let network = shoal_proto::Network {
            id: "n1".into(),
            spec: Some(NetworkSpec {
                annotations: Some(Annotations { name: "n1".into(), ..Default::default() }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let spec = TaskSpec {
            networks: vec![NetworkAttachmentConfig { target: "n1".into(), aliases: vec![] }],
            ..Default::default()
        };
        let t1 = Task { id: "t1".into(), spec: Some(spec), ..Default::default() };
        let mut store = MemoryStore::default();
        let ops = vec![
            ops::create(Object::Network(network)),
            ops::create(node("a", "10.1.0.1:4242", None)),
            ops::create(Object::Task(t1)),
            ops::task_assign("t1", "a", ""),
        ];
        store.apply(1, Batch { ops, timestamp: 1, ..Default::default() }).unwrap();

        let mut state = State::read(&store);
        let mut sorted = Sorted::of(&[commit(2, vec![updated(node("a", "10.1.0.9:4242", None))])], &mut state);
        assert_eq!(sorted.readdressed, ["a"]);
        sorted.readdress(&store);
        assert_eq!(sorted.touched, HashSet::from(["n1".to_string()]));
    }

    #[tokio::test]
    async fn a_busy_session_gets_its_news_merged() {
        let mailbox = Mailbox::default();
        let mut state = state(&[]);
        let sorted = Sorted::of(&[commit(1, vec![updated(task("t1", "a", None))])], &mut state);
        mailbox.deliver(sorted.by_node["a"].clone(), false, false, None);
        mailbox.deliver(Vec::new(), true, false, None);
        mailbox.deliver(Vec::new(), false, false, None);
        let news = mailbox.take().await;
        assert_eq!(news.own.len(), 1);
        assert!(news.managers && !news.remap && !news.resync);
        assert!(mailbox.news.lock().is_empty());
    }
}
