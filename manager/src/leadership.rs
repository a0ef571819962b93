//! What a manager knows of raft leadership: who leads, whether this
//! manager has its quorum, and a channel to the leader for what only the
//! leader may answer, read out of raft's metrics; the control API, the CA
//! and the membership service get a [`Leadership`] instead of the whole
//! manager.

use shoal_proto::transport::{self, Credentials};
use tonic::Status;
use tonic::transport::Channel;

use crate::raft::{Quorum, Raft};

/// Who raft says leads now, as seen from one manager.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaderNow {
    /// This manager.
    Me,
    /// Another manager, with its address if the membership has it.
    Other { id: u64, addr: Option<String> },
    /// No leader is known.
    Unknown,
}

/// A manager's view of raft leadership; cheap to clone.
#[derive(Clone)]
pub struct Leadership {
    quorum: Quorum,
    raft_id: u64,
    credentials: Credentials,
}

impl Leadership {
    /// The view of the manager with raft id `raft_id`, reaching other
    /// managers as `credentials`.
    pub fn new(quorum: Quorum, raft_id: u64, credentials: Credentials) -> Leadership {
        Leadership { quorum, raft_id, credentials }
    }

    pub fn quorum(&self) -> &Quorum {
        &self.quorum
    }

    pub fn raft(&self) -> &Raft {
        self.quorum.raft()
    }

    /// This manager's TLS identity.
    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// The raft id of the current leader, if one is known.
    pub fn leader_raft_id(&self) -> Option<u64> {
        self.raft().metrics().borrow().current_leader
    }

    /// For reads: a warning when this manager has no quorum (its store
    /// may miss recent writes), else empty.
    pub fn staleness(&self) -> String {
        match self.quorum.check() {
            Ok(()) => String::new(),
            Err(e) => format!("{e}: this manager's view may be stale"),
        }
    }

    /// Who raft says leads now (no quorum check: see [`Quorum::check`]).
    pub fn leader_now(&self) -> LeaderNow {
        let metrics = self.raft().metrics();
        let m = metrics.borrow();
        match m.current_leader {
            None => LeaderNow::Unknown,
            Some(id) if id == self.raft_id => LeaderNow::Me,
            Some(id) => {
                LeaderNow::Other { id, addr: m.membership_config.membership().get_node(&id).map(|n| n.addr.clone()) }
            }
        }
    }

    /// The leader's raft id and address, or `None` when this manager
    /// leads; refused without a quorum or a known leader.
    fn leader(&self) -> Result<Option<(u64, String)>, Status> {
        self.quorum.check().map_err(|e| Status::unavailable(e.to_string()))?;
        match self.leader_now() {
            LeaderNow::Unknown => Err(Status::unavailable("no raft leader yet: try again")),
            LeaderNow::Me => Ok(None),
            LeaderNow::Other { addr: None, .. } => Err(Status::unavailable("the raft leader's address is unknown")),
            LeaderNow::Other { id, addr: Some(addr) } => Ok(Some((id, addr))),
        }
    }

    /// Refuses, naming the leader, unless this manager leads: for what
    /// only the leader can check against what it commits.
    pub fn require_leading(&self) -> Result<(), Status> {
        match self.leader()? {
            None => Ok(()),
            Some((_, leader)) => Err(Status::unavailable(format!("not the raft leader: ask the leader at {leader}"))),
        }
    }

    /// The leader's raft id and a channel to it, or `None` when this
    /// manager leads.
    pub fn leader_channel(&self, server_name: &'static str) -> Result<Option<(u64, Channel)>, Status> {
        let Some((leader, addr)) = self.leader()? else { return Ok(None) };
        transport::channel(&addr, &self.credentials, server_name)
            .map(|channel| Some((leader, channel)))
            .map_err(|e| Status::internal(e.to_string()))
    }
}
