//! `--rebalance-on-join` (leader only): when a node becomes able to take
//! tasks (it joins, comes back up, or is made active again) and stays so
//! for [`SETTLE`], the services that ask for it are rebalanced as
//! `service rebalance` would (the rolling updater moves the tasks marked,
//! with the service's update config), each at most once per [`COOLDOWN`]:
//! a flapping node does not keep moving tasks around. A service whose
//! update is paused or under way waits until it is not.
//!
//! What it remembers (nodes seen, the last automatic rebalance of each
//! service) is the leader's own: a new leader starts from the nodes able
//! when it took over.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use shoal_proto::Service;
use shoal_proto::service_spec::Mode;
use shoal_proto::store_object::Object;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::rebalance::{able_nodes, moves};
use super::update;
use crate::ops;
use crate::proposer::Proposer;
use crate::store::{MemoryStore, Store};

/// How long a node must stay able before tasks move to it.
pub const SETTLE: Duration = Duration::from_secs(2);
/// The least time between two automatic rebalances of one service.
pub const COOLDOWN: Duration = Duration::from_secs(30);
const TICK: Duration = Duration::from_millis(500);

/// What the loop remembers between ticks.
#[derive(Default)]
struct Memory {
    able: BTreeSet<String>,
    /// Nodes that became able, since when.
    joined: BTreeMap<String, Instant>,
    /// Services to rebalance once their cooldown has passed.
    wanted: BTreeSet<String>,
    last: HashMap<String, Instant>,
}

/// Runs until `stop`.
pub async fn run(store: Store, proposer: Proposer, stop: CancellationToken) {
    let mut memory = Memory { able: store.view(able_nodes), ..Default::default() };
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(TICK) => {}
        }
        let marks = store.view(|s| memory.tick(s, Instant::now()));
        for service in marks {
            info!(service = %service.name(), moves = service.rebalance.len(), "a node joined: rebalancing");
            // A service changed meanwhile is looked at again next tick.
            if let Err(err) = proposer.propose(vec![ops::update(Object::Service(service))]).await {
                warn!(%err, "rebalancing on join");
            }
        }
    }
}

impl Memory {
    /// The services to rebalance now, with their tasks to move marked.
    fn tick(&mut self, store: &MemoryStore, now: Instant) -> Vec<Service> {
        let able = able_nodes(store);
        for id in able.difference(&self.able) {
            self.joined.insert(id.clone(), now);
        }
        self.joined.retain(|id, _| able.contains(id));
        self.able = able;
        let settled = self.joined.values().any(|since| now.duration_since(*since) >= SETTLE);
        if settled {
            self.joined.retain(|_, since| now.duration_since(*since) < SETTLE);
            self.wanted.extend(store.services().filter(|s| asks(s)).map(|s| s.id.clone()));
        }
        let mut marks = Vec::new();
        let wanted = std::mem::take(&mut self.wanted);
        for id in wanted {
            let Some(service) = store.service(&id).filter(|s| asks(s)) else { continue };
            let cooling = self.last.get(&id).is_some_and(|at| now.duration_since(*at) < COOLDOWN);
            let rollout = update::state(service);
            if cooling || rollout.is_paused() || rollout.is_active() {
                self.wanted.insert(id);
                continue;
            }
            let moves = moves(store, service, 0);
            if !moves.is_empty() && moves != service.rebalance {
                self.last.insert(id, now);
                marks.push(Service { rebalance: moves, ..service.clone() });
            }
        }
        marks
    }
}

/// A replicated service with `--rebalance-on-join`.
fn asks(service: &Service) -> bool {
    service.spec.as_ref().is_some_and(|s| s.rebalance_on_join && matches!(s.mode, Some(Mode::Replicated(_))))
}

#[cfg(test)]
mod tests {
    use shoal_proto::{NodeAvailability, NodeState, ReplicatedService, ServiceSpec};

    use super::super::rebalance::tests::{node_in, store as objects_in, task};
    use super::*;

    fn store(b: NodeState, rebalance_on_join: bool) -> MemoryStore {
        let spec = ServiceSpec {
            mode: Some(Mode::Replicated(ReplicatedService { replicas: 4 })),
            rebalance_on_join,
            ..Default::default()
        };
        let mut objects = vec![
            node_in("a", NodeAvailability::Active, NodeState::Ready),
            node_in("b", NodeAvailability::Active, b),
            Object::Service(Service { id: "s".into(), spec: Some(spec), ..Default::default() }),
        ];
        objects.extend((1..=4).map(|slot| task(slot, "a")));
        objects_in(objects)
    }

    #[test]
    fn a_node_that_stays_up_gets_its_share_once_per_cooldown() {
        let t0 = Instant::now();
        let mut memory = Memory { able: able_nodes(&store(NodeState::Down, true)), ..Default::default() };
        let up = store(NodeState::Ready, true);
        assert!(memory.tick(&up, t0).is_empty(), "b just came up");
        assert!(memory.tick(&up, t0 + SETTLE / 2).is_empty(), "not settled yet");
        let marked = memory.tick(&up, t0 + SETTLE);
        assert_eq!(marked.len(), 1);
        assert_eq!(marked[0].rebalance, ["t4", "t3"]);
        // b flaps: down, up again; the service waits out its cooldown.
        memory.tick(&store(NodeState::Down, true), t0 + SETTLE * 2);
        memory.tick(&up, t0 + SETTLE * 3);
        assert!(memory.tick(&up, t0 + SETTLE * 4).is_empty(), "cooling down");
        assert_eq!(memory.tick(&up, t0 + SETTLE + COOLDOWN).len(), 1, "once the cooldown has passed");
    }

    #[test]
    fn only_services_that_ask_are_rebalanced() {
        let t0 = Instant::now();
        let mut memory = Memory { able: able_nodes(&store(NodeState::Down, false)), ..Default::default() };
        let up = store(NodeState::Ready, false);
        memory.tick(&up, t0);
        assert!(memory.tick(&up, t0 + SETTLE).is_empty());
    }
}
