//! A node's own state, outside the cluster's: what it keeps on disk (its
//! membership, its certificates, files replaced whole), its data dir and
//! control socket made private, and the addresses it listens on and
//! advertises. The daemon (`src/daemon/`) drives the node's lifecycle
//! (init, join, leave, role changes, recovery) over these.
#![forbid(unsafe_code)]

pub mod addr;
pub mod certs;
pub mod files;
pub mod membership;
pub mod private;

use std::path::Path;

/// Why a node's own state could not be read, written or set up.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// A file operation failed; `what` says which, naming the path (the
    /// cause is the error's source, as a context is in `anyhow`).
    #[error("{what}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    /// A file holds something else than it should.
    #[error("{0}")]
    Corrupt(String),
    /// A setting or a place the node refuses (it says why).
    #[error("{0}")]
    Refused(String),
}

impl NodeError {
    /// An I/O failure while doing `what` to `path`.
    pub fn io(what: &str, path: &Path, source: std::io::Error) -> NodeError {
        NodeError::Io { what: format!("{what} {}", path.display()), source }
    }
}

pub type Result<T> = std::result::Result<T, NodeError>;
