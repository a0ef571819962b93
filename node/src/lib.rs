//! A shoal node: the daemon's lifecycle outside the cluster's state.
//!
//! A node is standalone, or a member of one cluster that runs its worker
//! and, on a manager, its manager ([`state`] is that lifecycle as one
//! explicit type, with the rules of which request it takes when). The
//! daemon (`daemon.rs`) drives it: `node init`, `node join`, `node leave`, role
//! changes asked by the cluster, certificate renewal, a raft that
//! stopped or was lost, `--force-new-cluster`; it keeps on disk what a
//! restart needs (the membership, the certificates) and serves the local
//! admin socket. The binary only parses `shoal daemon`'s flags into a
//! [`NodeConfig`] and calls [`serve`].
#![forbid(unsafe_code)]

pub mod addr;
pub mod certs;
mod config;
mod daemon;
mod datakey;
pub mod files;
pub mod join;
pub mod membership;
pub mod private;
pub mod state;

mod admin;
mod autolock;
mod expiry;
mod http;
mod init;
mod leave;
mod lost;
mod member;
mod metrics;
mod network;
mod recover;
mod renew;
mod role;
mod runs;
mod supervise;
mod tls;
mod web;

use std::path::Path;

pub use config::NodeConfig;
pub use daemon::serve;

/// Why the node could not do something; its `Display` is one line, the
/// causes are its sources ([`Causes`] prints them all).
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// A step failed; `what` says which (naming a path if one is
    /// concerned), the cause is the source.
    #[error("{what}")]
    Step {
        what: String,
        #[source]
        source: Box<NodeError>,
    },
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// A file holds something else than it should.
    #[error("{0}")]
    Corrupt(String),
    /// A setting or a place the node refuses (it says why).
    #[error("{0}")]
    Refused(String),
    /// The cluster did not do what the node asked (it says why).
    #[error("{0}")]
    Unavailable(String),
    #[error(transparent)]
    Manager(#[from] shoal_manager::ManagerError),
    #[error(transparent)]
    Ca(#[from] shoal_manager::ca::CaError),
    #[error(transparent)]
    Credentials(#[from] shoal_proto::transport::CredentialsError),
    #[error(transparent)]
    DataPath(#[from] shoal_ingress::datapath::DataPathError),
    #[error(transparent)]
    Transition(#[from] state::InvalidTransition),
}

impl NodeError {
    /// An I/O failure while doing `what` to `path`.
    pub fn io(what: &str, path: &Path, source: std::io::Error) -> NodeError {
        NodeError::Io(source).context(format!("{what} {}", path.display()))
    }

    /// This error as the cause of a failed step `what`.
    pub fn context(self, what: impl Into<String>) -> NodeError {
        NodeError::Step { what: what.into(), source: Box::new(self) }
    }
}

pub type Result<T> = std::result::Result<T, NodeError>;

/// `context` on results, as `anyhow::Context` (typed).
pub trait Context<T> {
    /// The error, if any, as the cause of the failed step `what`.
    fn context(self, what: impl Into<String>) -> Result<T>;
    /// As [`Context::context`], `what` made only on failure.
    fn with_context<S: Into<String>>(self, what: impl FnOnce() -> S) -> Result<T>;
}

impl<T, E: Into<NodeError>> Context<T> for std::result::Result<T, E> {
    fn context(self, what: impl Into<String>) -> Result<T> {
        self.map_err(|e| e.into().context(what))
    }

    fn with_context<S: Into<String>>(self, what: impl FnOnce() -> S) -> Result<T> {
        self.map_err(|e| e.into().context(what()))
    }
}

/// An error and its causes on one line, `: ` between them (as anyhow's
/// `{:#}`); a cause whose words end the line already (an error that
/// shows its source in its own message) is not said twice.
pub struct Causes<'a>(pub &'a (dyn std::error::Error + 'static));

impl std::fmt::Display for Causes<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut line = self.0.to_string();
        let mut cause = self.0.source();
        while let Some(e) = cause {
            let text = e.to_string();
            if !line.ends_with(&text) {
                line = format!("{line}: {text}");
            }
            cause = e.source();
        }
        f.write_str(&line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causes_read_as_one_line_outermost_first() {
        let missing = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let e = NodeError::io("reading", Path::new("/d/node.json"), missing).context("rejoining the cluster");
        assert_eq!(e.to_string(), "rejoining the cluster");
        assert_eq!(Causes(&e).to_string(), "rejoining the cluster: reading /d/node.json: no such file");
        let opened: Result<()> = Err(NodeError::Refused("not a directory".into())).context("--data-dir");
        assert_eq!(Causes(&opened.unwrap_err()).to_string(), "--data-dir: not a directory");
        // An error that says its source in its own words says it once.
        let tls = rustls::Error::General("bad key".into());
        let said = NodeError::Credentials(shoal_proto::transport::CredentialsError::Tls(tls)).context("loading");
        assert_eq!(Causes(&said).to_string(), "loading: invalid certificate or key: unexpected error: bad key");
    }
}
