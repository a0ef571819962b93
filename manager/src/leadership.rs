//! What a manager knows of raft leadership: who leads, whether this
//! manager has its quorum, and a channel to the leader for what only the
//! leader may answer, read out of raft's metrics; the control API, the CA
//! and the membership service get a [`Leadership`] instead of the whole
//! manager.

use shoal_proto::transport::{self, Credentials};
use tonic::Status;
use tonic::transport::Channel;

use crate::raft::{Quorum, Raft};

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

    /// The leader's raft id and address, or `None` when this manager
    /// leads; refused without a quorum or a known leader.
    fn leader(&self) -> Result<Option<(u64, String)>, Status> {
        self.quorum.check().map_err(|e| Status::unavailable(e.to_string()))?;
        let metrics = self.raft().metrics();
        let m = metrics.borrow();
        let Some(leader) = m.current_leader else {
            return Err(Status::unavailable("no raft leader yet: try again"));
        };
        if leader == self.raft_id {
            return Ok(None);
        }
        let addr = m.membership_config.membership().get_node(&leader).map(|n| n.addr.clone());
        let addr = addr.ok_or_else(|| Status::unavailable("the raft leader's address is unknown"))?;
        Ok(Some((leader, addr)))
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
