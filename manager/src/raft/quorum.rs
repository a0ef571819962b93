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
    /// When a manager last could not be reached at all (connection
    /// refused, or no answer in time).
    unreachable: HashMap<u64, Instant>,
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

    /// Records that `raft_id` could not be reached just now.
    pub fn lost(&self, raft_id: u64) {
        self.0.lock().unreachable.insert(raft_id, Instant::now());
    }

    /// Whether `raft_id` answered recently, and has not failed to since.
    pub fn reachable(&self, raft_id: u64) -> bool {
        let times = self.0.lock();
        let Some(answered) = times.answered.get(&raft_id).filter(|t| t.elapsed() < REACHABLE_WITHIN) else {
            return false;
        };
        times.unreachable.get(&raft_id).is_none_or(|lost| lost < answered)
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

/// Writes are refused: no leader, too few managers answer, or this
/// manager's own raft stopped.
#[derive(Debug, Clone, PartialEq)]
pub struct NoQuorum {
    pub reachable: usize,
    pub voters: usize,
    /// Why this manager's raft stopped, if it did (a storage error, a
    /// panic): nothing it says of the others holds then.
    pub stopped: Option<String>,
}

impl NoQuorum {
    /// Whether a majority is reachable, so a leader should come soon.
    pub fn electing(&self) -> bool {
        self.stopped.is_none() && self.reachable * 2 > self.voters
    }
}

impl std::fmt::Display for NoQuorum {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let NoQuorum { reachable, voters, stopped } = self;
        if let Some(cause) = stopped {
            write!(f, "this manager's raft stopped ({cause}): it restarts once the cause is gone")
        } else if self.electing() {
            write!(f, "no raft leader yet, an election is under way ({reachable} of {voters} managers reachable)")
        } else {
            write!(f, "no quorum: {reachable} of {voters} managers reachable")
        }
    }
}

impl std::error::Error for NoQuorum {}

/// Why `raft`'s core stopped on its own (a storage error such as a full
/// disk, or a panic), if it did; not after a shutdown asked for.
pub fn stopped(raft: &Raft) -> Option<String> {
    let metrics = raft.metrics();
    // The last state the core reported stays readable after it is gone.
    let state = metrics.borrow().running_state.clone();
    match state {
        Err(openraft::error::Fatal::Stopped) => None,
        Err(fatal) => Some(fatal.to_string()),
        Ok(()) if metrics.has_changed().is_err() => Some("the raft core ended without a word (a panic)".into()),
        Ok(()) => None,
    }
}

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

    /// Why this manager's raft stopped (see [`stopped`]), if it did.
    pub fn stopped(&self) -> Option<String> {
        stopped(&self.raft)
    }

    /// Ok if writes can commit now; else how many managers are reachable.
    pub fn check(&self) -> Result<(), NoQuorum> {
        let stopped = self.stopped();
        let metrics = self.raft.metrics();
        let m = metrics.borrow();
        let voters: Vec<u64> = m.membership_config.membership().voter_ids().collect();
        if stopped.is_some() {
            return Err(NoQuorum { reachable: 1, voters: voters.len(), stopped });
        }
        let reachable = || voters.iter().filter(|v| self.reachable(**v)).count();
        let ok = match m.current_leader {
            // A leader no majority has acknowledged yet (openraft makes a
            // restarted manager leader again from its committed vote) leads
            // only while a majority answers it.
            Some(leader) if leader == m.id => match m.millis_since_quorum_ack {
                _ if voters.len() <= 1 => true,
                Some(ms) => ms <= self.ack_timeout_ms,
                None => reachable() * 2 > voters.len(),
            },
            Some(_) => true,
            None => false,
        };
        if ok {
            return Ok(());
        }
        Err(NoQuorum { reachable: reachable(), voters: voters.len(), stopped: None })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manager_is_reachable_only_while_it_answers_and_was_not_refused_since() {
        let contacts = Contacts::default();
        assert!(!contacts.reachable(2), "never heard");
        contacts.heard(2);
        assert!(contacts.reachable(2));
        contacts.lost(2);
        assert!(!contacts.reachable(2), "refused after its answer");
        contacts.heard(2);
        assert!(contacts.reachable(2), "answered again");
    }

    #[test]
    fn no_quorum_says_why() {
        let lost = NoQuorum { reachable: 1, voters: 3, stopped: None };
        assert_eq!(lost.to_string(), "no quorum: 1 of 3 managers reachable");
        assert!(!lost.electing());
        let electing = NoQuorum { reachable: 2, voters: 3, stopped: None };
        assert!(electing.electing() && electing.to_string().starts_with("no raft leader yet"));
        let stopped = NoQuorum { reachable: 1, voters: 3, stopped: Some("disk full".into()) };
        assert!(!stopped.electing());
        assert_eq!(stopped.to_string(), "this manager's raft stopped (disk full): it restarts once the cause is gone");
    }
}
