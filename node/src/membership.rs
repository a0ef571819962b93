//! `<data-dir>/node.json`: what this daemon is a member of, so that a
//! restarted daemon rejoins its cluster by itself.

use std::path::{Path, PathBuf};

use crate::{NodeError, Result};
use serde::{Deserialize, Serialize};
use shoal_proto::NodeRole;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Membership {
    pub node_id: String,
    pub cluster_id: String,
    pub raft_id: u64,
    pub manager: bool,
    /// This node's advertised endpoint.
    pub addr: String,
    /// Managers' endpoints, for the worker's first session.
    pub managers: Vec<String>,
    /// Where the endpoint listens (`--listen-addr` at init or join, with
    /// the port it got); a restarted member listens there again.
    #[serde(default)]
    pub listen_addr: Option<String>,
}

impl Membership {
    /// The role this node has in its cluster.
    pub fn role(&self) -> NodeRole {
        if self.manager { NodeRole::Manager } else { NodeRole::Worker }
    }
}

fn path(data_dir: &Path) -> PathBuf {
    data_dir.join("node.json")
}

/// The membership saved in `data_dir`, if this node is in a cluster.
pub fn load(data_dir: &Path) -> Result<Option<Membership>> {
    let path = path(data_dir);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| NodeError::Corrupt(format!("reading {}: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(NodeError::io("reading", &path, e)),
    }
}

/// A fresh raft id for this node as a manager (0 means not a manager).
pub fn new_raft_id() -> u64 {
    rand::random::<u64>().max(1)
}

/// Saves the membership (atomically; saves may race).
pub fn save(data_dir: &Path, membership: &Membership) -> Result<()> {
    let json = serde_json::to_vec_pretty(membership).map_err(|e| NodeError::Corrupt(format!("encoding: {e}")))?;
    crate::files::write(&path(data_dir), &json, 0o600)
}

/// Forgets the membership (the node left its cluster).
pub fn remove(data_dir: &Path) -> Result<()> {
    crate::files::remove(&path(data_dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(load(dir.path()).unwrap(), None);
        let m = Membership {
            node_id: "n".into(),
            cluster_id: "c".into(),
            raft_id: 7,
            manager: true,
            addr: "127.0.0.1:4242".into(),
            managers: vec!["127.0.0.1:4242".into()],
            listen_addr: Some("0.0.0.0:4242".into()),
        };
        save(dir.path(), &m).unwrap();
        assert_eq!(load(dir.path()).unwrap(), Some(m));
    }

    #[test]
    fn concurrent_saves_all_succeed() {
        let dir = tempfile::tempdir().unwrap();
        let membership = |i: u64| Membership {
            node_id: format!("n{i}"),
            cluster_id: "c".into(),
            raft_id: i,
            manager: true,
            addr: "127.0.0.1:4242".into(),
            managers: Vec::new(),
            listen_addr: None,
        };
        std::thread::scope(|scope| {
            for t in 0..4 {
                let dir = dir.path();
                scope.spawn(move || {
                    for i in 0..50 {
                        save(dir, &membership(t * 100 + i)).unwrap();
                    }
                });
            }
        });
        let saved = load(dir.path()).unwrap().unwrap();
        assert_eq!(saved.node_id, format!("n{}", saved.raft_id));
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left.len(), 1, "no temporary file left: {left:?}");
    }
}
