//! Whether this manager can write: it leads and a majority acknowledged
//! it recently, or it follows a known leader. When it cannot, the error
//! says how many managers it still reaches, from when each last answered
//! one of its raft RPCs (a leader heartbeats every manager; a candidate
//! asks each for its vote) or called it as leader or candidate.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tokio::sync::Notify;

use super::{Raft, RaftTiming};

/// An answer within this long means a manager is reachable.
pub const REACHABLE_WITHIN: Duration = Duration::from_secs(2);

/// When each other manager last answered this one's raft RPCs, and when
/// a leader last called it; shared with the network and the raft service.
#[derive(Clone, Default)]
pub struct Contacts(Arc<Mutex<Times>>);

#[derive(Default)]
struct Times {
    answered: HashMap<u64, Instant>,
    leader_called: Option<Instant>,
    /// The highest term of a candidate this manager refused its vote,
    /// until taken.
    refused_term: Option<u64>,
    /// Rings when `refused_term` is set.
    better_candidate: Arc<Notify>,
}

impl Contacts {
    pub fn heard(&self, raft_id: u64) {
        self.0.lock().answered.insert(raft_id, Instant::now());
    }

    pub fn reachable(&self, raft_id: u64) -> bool {
        self.0.lock().answered.get(&raft_id).is_some_and(|t| t.elapsed() < REACHABLE_WITHIN)
    }

    /// Records a leader's call (append-entries, which only a leader sends).
    pub fn leader_called(&self) {
        self.0.lock().leader_called = Some(Instant::now());
    }

    /// When a leader last called.
    pub fn leader_last_called(&self) -> Option<Instant> {
        self.0.lock().leader_called
    }

    /// Records that this manager refused its vote to a candidate in `term`.
    pub fn refused_vote(&self, term: u64) {
        let mut times = self.0.lock();
        times.refused_term = times.refused_term.max(Some(term));
        times.better_candidate.notify_one();
    }

    /// Rings after [`refused_vote`](Self::refused_vote).
    pub fn better_candidate(&self) -> Arc<Notify> {
        self.0.lock().better_candidate.clone()
    }

    /// The highest term of a candidate refused since the last call.
    pub fn take_refused_term(&self) -> Option<u64> {
        self.0.lock().refused_term.take()
    }
}

/// Writes are refused: no leader, or too few managers answer.
#[derive(Debug, Clone, PartialEq)]
pub struct NoQuorum {
    pub reachable: usize,
    pub voters: usize,
}

impl NoQuorum {
    /// Whether a majority is reachable, so a leader should come soon.
    pub fn electing(&self) -> bool {
        self.reachable * 2 > self.voters
    }
}

impl std::fmt::Display for NoQuorum {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let NoQuorum { reachable, voters } = self;
        if self.electing() {
            write!(f, "no raft leader yet, an election is under way ({reachable} of {voters} managers reachable)")
        } else {
            write!(f, "no quorum: {reachable} of {voters} managers reachable")
        }
    }
}

impl std::error::Error for NoQuorum {}

/// Checks quorum for one manager; cheap to clone.
#[derive(Clone)]
pub struct Quorum {
    raft: Raft,
    /// This manager's raft id.
    id: u64,
    contacts: Contacts,
    /// A leader without a majority's acknowledgement for longer has lost it.
    ack_timeout_ms: u64,
    /// How long a failover takes at most when a majority is left.
    failover: Duration,
}

impl Quorum {
    pub fn new(raft: Raft, contacts: Contacts, timing: &RaftTiming) -> Quorum {
        let id = raft.metrics().borrow().id;
        Quorum {
            raft,
            id,
            contacts,
            ack_timeout_ms: timing.election_timeout_max_ms * 2,
            failover: Duration::from_millis(timing.election_timeout_max_ms * 3),
        }
    }

    /// How long a write waits out a failover before it fails: the leader
    /// lease, then an election by the first successor, then by the next
    /// (see [`succession`](super::succession)).
    pub fn failover_wait(&self) -> Duration {
        self.failover
    }

    pub fn raft(&self) -> &Raft {
        &self.raft
    }

    pub fn contacts(&self) -> &Contacts {
        &self.contacts
    }

    /// Whether manager `raft_id` was heard from recently (this manager
    /// itself always is).
    pub fn reachable(&self, raft_id: u64) -> bool {
        raft_id == self.id || self.contacts.reachable(raft_id)
    }

    /// Ok if writes can commit now; else how many managers are reachable.
    pub fn check(&self) -> Result<(), NoQuorum> {
        let metrics = self.raft.metrics();
        let m = metrics.borrow();
        let voters: Vec<u64> = m.membership_config.membership().voter_ids().collect();
        let ok = match m.current_leader {
            Some(leader) if leader == m.id => {
                voters.len() <= 1 || m.millis_since_quorum_ack.is_none_or(|ms| ms <= self.ack_timeout_ms)
            }
            Some(_) => true,
            None => false,
        };
        if ok {
            return Ok(());
        }
        let reachable = voters.iter().filter(|v| self.reachable(**v)).count();
        Err(NoQuorum { reachable, voters: voters.len() })
    }
}
