//! Filters: each decides whether one node can take a task, and explains a
//! refusal from the number of nodes that refused.

mod ready;
mod runtime;

use crate::node::{NodeInfo, TaskRequest};

pub(crate) use ready::ReadyFilter;
pub(crate) use runtime::RuntimeFilter;

/// One placement rule.
pub trait Filter {
    /// Whether `node` may run `task`.
    fn check(&self, task: &TaskRequest, node: &NodeInfo) -> bool;
    /// Why `nodes` nodes refused `task` ("1 node not available").
    fn explain(&self, task: &TaskRequest, nodes: usize) -> String;
}

/// "1 node" / "3 nodes".
pub(crate) fn count_nodes(n: usize) -> String {
    if n == 1 { "1 node".to_string() } else { format!("{n} nodes") }
}
