//! The node's lifecycle as one explicit state, and the rules of which
//! request it may take in which state. Pure: no I/O, no clock, so every
//! transition is unit-tested here; the daemon (`daemon.rs`) does
//! what a [`Step`] says and then moves the state on.
//!
//! ```text
//!             init / join                      stop (role change, re-join,
//!  Standalone ────────────▶ Running(m) ◀──────▶ Stopped(m)   raft restart, recovery)
//!      ▲                                          │
//!      └────────────────── leave ─────────────────┘
//! ```
//!
//! `m.manager` tells a manager from a worker: a promotion or demotion is
//! a stop and a start with the other role.

use std::path::{Path, PathBuf};

use shoal_proto::NodeRole;

use crate::membership::Membership;

/// What a node is now.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum State {
    /// In no cluster: serves only its local socket, may `init` or `join`.
    #[default]
    Standalone,
    /// Runs its membership: its worker, and its manager if it is one.
    Running(Membership),
    /// Keeps its membership but runs none of it: between stopping it and
    /// starting it again (a role change, a re-join, a raft restart, a
    /// recovery, a leave), or after such a start failed and waits to be
    /// tried again.
    Stopped(Membership),
}

/// What is asked of the node.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Request {
    /// `node init`, or `node init --force-new-cluster`.
    Init { force_new_cluster: bool },
    /// `node join`; whether this node's certificate has expired.
    Join { certificate_expired: bool },
    /// `node leave`; `managers` is how many managers the cluster lists.
    Leave { force: bool, managers: usize },
    /// The cluster wants this node in role `wanted`, and its raft lists it
    /// as `recorded` (a manager until the leader has removed it).
    Role { wanted: NodeRole, recorded: NodeRole },
}

/// What the node does about a request.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Creates a cluster with this node as its first manager.
    Init,
    /// Restarts this manager as the only one of a cluster made from its state.
    ForceNewCluster,
    /// Joins a cluster.
    Join,
    /// Gets a new certificate for the identity it keeps (it expired).
    Rejoin(Membership),
    /// Stops its tasks and forgets its cluster.
    Leave(Membership),
    /// Restarts its membership in the other role.
    ChangeRole { membership: Membership, manager: bool },
    /// Nothing now: the request is taken once the cluster is ready.
    Wait(Waiting),
    /// Nothing: the node is what is asked already.
    Nothing,
}

/// Why a role change waits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Waiting {
    /// Promoted while raft still lists the raft member whose state this
    /// node lost: it has to be demoted first.
    LostRaftMember,
    /// Demoted: the raft member stays until the leader has removed it, so
    /// that the other managers keep their quorum through the change.
    RaftRemoval,
}

/// Why a request is refused; the message is the user's.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Refusal {
    #[error("this node is already part of a cluster: run \"shoal node leave\" first")]
    AlreadyMember,
    #[error("{} holds the raft state of an earlier cluster this node left: remove it first", .0.display())]
    LeftoverRaft(PathBuf),
    #[error("this node is not part of a cluster")]
    NotMember,
    #[error("--force-new-cluster: this node is not a manager of a cluster (run it on a surviving manager)")]
    NotRunningManager,
    #[error("this node is a manager: {}. Demote it first (\"shoal node demote\") or use --force", consequence(*.left, *.managers))]
    ManagerLeaving { left: usize, managers: usize },
}

fn consequence(left: usize, managers: usize) -> String {
    if left == 0 {
        "it is the last manager: leaving destroys the cluster".to_string()
    } else {
        format!("leaving leaves {left} manager(s) out of {managers}, and a lost majority stops the cluster")
    }
}

/// A move the lifecycle does not have (a bug in the caller, reported
/// rather than applied).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("the node cannot go from {from} to {to}")]
pub struct InvalidTransition {
    pub from: &'static str,
    pub to: &'static str,
}

impl State {
    /// The membership, running or not.
    pub fn membership(&self) -> Option<&Membership> {
        match self {
            State::Standalone => None,
            State::Running(m) | State::Stopped(m) => Some(m),
        }
    }

    /// The membership, to record a changed manager list in.
    pub fn membership_mut(&mut self) -> Option<&mut Membership> {
        match self {
            State::Standalone => None,
            State::Running(m) | State::Stopped(m) => Some(m),
        }
    }

    /// The role this node has in its cluster (running or not).
    pub fn role(&self) -> Option<NodeRole> {
        self.membership().map(Membership::role)
    }

    pub fn is_running(&self) -> bool {
        matches!(self, State::Running(_))
    }

    fn name(&self) -> &'static str {
        match self {
            State::Standalone => "standalone",
            State::Running(_) => "running",
            State::Stopped(_) => "stopped",
        }
    }

    /// What the node does about `request`. `raft_dir` is where a raft
    /// state would be, if one is on disk.
    pub fn decide(&self, request: Request, raft_dir: Option<&Path>) -> Result<Step, Refusal> {
        let standalone = || match (self, raft_dir) {
            (State::Standalone, None) => Ok(()),
            (State::Standalone, Some(dir)) => Err(Refusal::LeftoverRaft(dir.to_path_buf())),
            _ => Err(Refusal::AlreadyMember),
        };
        match request {
            Request::Init { force_new_cluster: true } => match self {
                State::Running(m) if m.manager => Ok(Step::ForceNewCluster),
                _ => Err(Refusal::NotRunningManager),
            },
            Request::Init { force_new_cluster: false } => standalone().map(|()| Step::Init),
            Request::Join { certificate_expired } => match self.membership() {
                Some(m) if certificate_expired => Ok(Step::Rejoin(m.clone())),
                _ => standalone().map(|()| Step::Join),
            },
            Request::Leave { force, managers } => {
                let m = self.membership().ok_or(Refusal::NotMember)?;
                if m.manager && !force {
                    return Err(Refusal::ManagerLeaving { left: managers.saturating_sub(1), managers });
                }
                Ok(Step::Leave(m.clone()))
            }
            Request::Role { wanted, recorded } => {
                let Some(m) = self.membership() else { return Ok(Step::Nothing) };
                let manager = wanted == NodeRole::Manager;
                if m.manager == manager {
                    Ok(Step::Nothing)
                } else if manager && recorded == NodeRole::Manager {
                    Ok(Step::Wait(Waiting::LostRaftMember))
                } else if !manager && recorded != NodeRole::Worker {
                    Ok(Step::Wait(Waiting::RaftRemoval))
                } else {
                    Ok(Step::ChangeRole { membership: m.clone(), manager })
                }
            }
        }
    }

    /// The node runs `membership` (after init, join, or a restart of a
    /// stopped membership).
    pub fn started(&self, membership: Membership) -> Result<State, InvalidTransition> {
        match self {
            State::Standalone | State::Stopped(_) => Ok(State::Running(membership)),
            State::Running(_) => Err(self.invalid("running")),
        }
    }

    /// The node stopped what its membership runs, keeping the membership.
    pub fn stopped(&self) -> Result<State, InvalidTransition> {
        match self {
            State::Running(m) | State::Stopped(m) => Ok(State::Stopped(m.clone())),
            State::Standalone => Err(self.invalid("stopped")),
        }
    }

    /// The node left its cluster (its membership stopped first).
    pub fn left(&self) -> Result<State, InvalidTransition> {
        match self {
            State::Stopped(_) => Ok(State::Standalone),
            _ => Err(self.invalid("standalone")),
        }
    }

    fn invalid(&self, to: &'static str) -> InvalidTransition {
        InvalidTransition { from: self.name(), to }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(manager: bool) -> Membership {
        Membership {
            node_id: "n1".into(),
            cluster_id: "c1".into(),
            raft_id: if manager { 7 } else { 0 },
            manager,
            addr: "127.0.0.1:4242".into(),
            managers: vec!["127.0.0.1:4242".into()],
            listen_addr: None,
        }
    }

    const INIT: Request = Request::Init { force_new_cluster: false };
    const FORCE: Request = Request::Init { force_new_cluster: true };
    const JOIN: Request = Request::Join { certificate_expired: false };
    const REJOIN: Request = Request::Join { certificate_expired: true };

    fn role(wanted: NodeRole, recorded: NodeRole) -> Request {
        Request::Role { wanted, recorded }
    }

    #[test]
    fn a_standalone_node_inits_or_joins_unless_an_old_raft_state_is_there() {
        let s = State::Standalone;
        assert_eq!(s.decide(INIT, None), Ok(Step::Init));
        assert_eq!(s.decide(JOIN, None), Ok(Step::Join));
        assert_eq!(s.decide(REJOIN, None), Ok(Step::Join), "no membership: nothing to re-join");
        let raft = Path::new("/d/raft");
        for request in [INIT, JOIN] {
            let refused = s.decide(request, Some(raft)).unwrap_err();
            assert_eq!(refused, Refusal::LeftoverRaft(raft.into()));
            assert_eq!(
                refused.to_string(),
                "/d/raft holds the raft state of an earlier cluster this node left: remove it first"
            );
        }
    }

    #[test]
    fn a_member_refuses_init_and_join_but_rejoins_when_its_certificate_expired() {
        for s in [State::Running(member(false)), State::Stopped(member(true))] {
            assert_eq!(s.decide(INIT, None), Err(Refusal::AlreadyMember));
            assert_eq!(s.decide(JOIN, None), Err(Refusal::AlreadyMember));
            assert_eq!(s.decide(REJOIN, None), Ok(Step::Rejoin(s.membership().unwrap().clone())));
        }
        assert_eq!(
            Refusal::AlreadyMember.to_string(),
            "this node is already part of a cluster: run \"shoal node leave\" first"
        );
    }

    #[test]
    fn only_a_running_manager_forces_a_new_cluster() {
        assert_eq!(State::Running(member(true)).decide(FORCE, None), Ok(Step::ForceNewCluster));
        for s in [State::Standalone, State::Running(member(false)), State::Stopped(member(true))] {
            assert_eq!(s.decide(FORCE, None), Err(Refusal::NotRunningManager), "{s:?}");
        }
    }

    #[test]
    fn a_manager_leaves_only_with_force_and_says_what_leaving_costs() {
        let leave = |force, managers| Request::Leave { force, managers };
        assert_eq!(State::Standalone.decide(leave(true, 1), None), Err(Refusal::NotMember));
        let worker = State::Running(member(false));
        assert_eq!(worker.decide(leave(false, 3), None), Ok(Step::Leave(member(false))));
        let manager = State::Running(member(true));
        assert_eq!(manager.decide(leave(true, 3), None), Ok(Step::Leave(member(true))));
        let last = manager.decide(leave(false, 1), None).unwrap_err();
        assert_eq!(
            last.to_string(),
            "this node is a manager: it is the last manager: leaving destroys the cluster. Demote it first \
             (\"shoal node demote\") or use --force"
        );
        let one_of_three = manager.decide(leave(false, 3), None).unwrap_err();
        assert_eq!(
            one_of_three.to_string(),
            "this node is a manager: leaving leaves 2 manager(s) out of 3, and a lost majority stops the cluster. \
             Demote it first (\"shoal node demote\") or use --force"
        );
    }

    #[test]
    fn a_role_change_waits_for_raft_then_restarts_in_the_other_role() {
        use NodeRole::{Manager, Worker};
        let worker = State::Running(member(false));
        let manager = State::Running(member(true));
        assert_eq!(worker.decide(role(Worker, Worker), None), Ok(Step::Nothing));
        assert_eq!(manager.decide(role(Manager, Manager), None), Ok(Step::Nothing));
        assert_eq!(State::Standalone.decide(role(Manager, Manager), None), Ok(Step::Nothing));
        assert_eq!(
            worker.decide(role(Manager, Worker), None),
            Ok(Step::ChangeRole { membership: member(false), manager: true })
        );
        // A worker that lost its raft state is still listed in raft.
        assert_eq!(worker.decide(role(Manager, Manager), None), Ok(Step::Wait(Waiting::LostRaftMember)));
        // Demoted: the raft member stays until the leader removed it.
        assert_eq!(manager.decide(role(Worker, Manager), None), Ok(Step::Wait(Waiting::RaftRemoval)));
        assert_eq!(
            manager.decide(role(Worker, Worker), None),
            Ok(Step::ChangeRole { membership: member(true), manager: false })
        );
        // A stopped membership (a change that failed) is tried again.
        assert_eq!(
            State::Stopped(member(true)).decide(role(Worker, Worker), None),
            Ok(Step::ChangeRole { membership: member(true), manager: false })
        );
    }

    #[test]
    fn the_lifecycle_moves_only_along_its_edges() {
        let running = State::Standalone.started(member(false)).unwrap();
        assert_eq!(running, State::Running(member(false)));
        assert!(running.is_running());
        assert_eq!(running.role(), Some(NodeRole::Worker));
        let stopped = running.stopped().unwrap();
        assert_eq!(stopped, State::Stopped(member(false)));
        assert!(!stopped.is_running());
        assert_eq!(stopped.stopped(), Ok(stopped.clone()), "stopping twice is harmless");
        // Restarted in the other role.
        let promoted = stopped.started(member(true)).unwrap();
        assert_eq!(promoted.role(), Some(NodeRole::Manager));
        assert_eq!(promoted.stopped().unwrap().left(), Ok(State::Standalone));
        assert_eq!(State::Standalone.role(), None);

        // What the lifecycle has no edge for is refused.
        assert_eq!(
            promoted.started(member(true)),
            Err(InvalidTransition { from: "running", to: "running" }),
            "a running membership is stopped before another starts"
        );
        assert_eq!(promoted.left(), Err(InvalidTransition { from: "running", to: "standalone" }));
        assert_eq!(State::Standalone.stopped(), Err(InvalidTransition { from: "standalone", to: "stopped" }));
        assert_eq!(State::Standalone.left(), Err(InvalidTransition { from: "standalone", to: "standalone" }));
        assert_eq!(
            InvalidTransition { from: "running", to: "standalone" }.to_string(),
            "the node cannot go from running to standalone"
        );
    }
}
