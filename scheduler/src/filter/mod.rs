//! Filters: each decides whether one node can take a task of a group, and
//! explains a refusal from the number of nodes that refused. A node is
//! counted under the first filter it fails, in the order of [`FILTERS`].

mod constraint;
mod limits;
mod max_replicas;
mod platform;
mod ports;
mod ready;
mod resources;
mod runtime;

use crate::node::NodeInfo;
use crate::task::TaskGroup;

/// One placement rule.
pub trait Filter: Sync {
    /// Whether the rule has anything to check for this group; a filter
    /// that does not apply is skipped.
    fn applies(&self, _group: &TaskGroup) -> bool {
        true
    }
    /// Whether `node` may run a task of `group`.
    fn check(&self, group: &TaskGroup, node: &NodeInfo) -> bool;
    /// Why `nodes` nodes refused the group ("1 node not available ...").
    fn explain(&self, group: &TaskGroup, nodes: usize) -> String;
    /// Whether placing a task on a node can make it fail this rule
    /// (resources, ports, replicas per node): such rules are checked
    /// again after every placement.
    fn dynamic(&self) -> bool {
        false
    }
}

/// Every rule, static ones first.
pub(crate) static FILTERS: [&dyn Filter; 8] = [
    &ready::ReadyFilter,
    &runtime::RuntimeFilter,
    &limits::LimitsFilter,
    &constraint::ConstraintFilter,
    &platform::PlatformFilter,
    &resources::ResourceFilter,
    &ports::HostPortFilter,
    &max_replicas::MaxReplicasFilter,
];

/// "1 node" / "3 nodes".
pub(crate) fn count_nodes(n: usize) -> String {
    if n == 1 { "1 node".to_string() } else { format!("{n} nodes") }
}

#[cfg(test)]
mod tests;
