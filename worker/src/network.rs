//! The node's data path as the worker sees it. The daemon plugs in the
//! real one (`shoal-ingress`); a node without one runs every task in its
//! own network.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;

use shoal_proto::{NetworkMap, Task};

/// A boxed future, for a trait the worker holds as `dyn`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What the worker asks of the data path.
pub trait Network: std::fmt::Debug + Send + Sync + 'static {
    /// The managers' latest map for this node: networks and peers to wire
    /// (done in the background; the latest map wins).
    fn set_map(&self, map: NetworkMap);
    /// Gives `task` its network namespace with its addresses, before it
    /// starts: `existing` (a sandbox container's, which the task's
    /// container joins) or a new one; the namespace's path, or `None` for
    /// a task on no network (it uses the node's).
    fn attach<'a>(
        &'a self,
        task: &'a Task,
        existing: Option<PathBuf>,
    ) -> BoxFuture<'a, Result<Option<PathBuf>, String>>;
    /// Takes back a task attached before the worker restarted (its
    /// namespace lives on with it).
    fn adopt<'a>(&'a self, task: &'a Task) -> BoxFuture<'a, ()>;
    /// Removes what `attach` made, once the task has ended.
    fn detach<'a>(&'a self, task_id: &'a str) -> BoxFuture<'a, ()>;
}
