//! A task that names platforms runs only on a node of one of them.

use super::{Filter, count_nodes};
use crate::constraint::canonical_arch;
use crate::node::NodeInfo;
use crate::task::TaskGroup;

pub(crate) struct PlatformFilter;

impl Filter for PlatformFilter {
    fn applies(&self, group: &TaskGroup) -> bool {
        !group.requirements.platforms.is_empty()
    }

    fn check(&self, group: &TaskGroup, node: &NodeInfo) -> bool {
        let arch = canonical_arch(&node.arch);
        group.requirements.platforms.iter().any(|(os, a)| {
            (os.is_empty() || os.eq_ignore_ascii_case(&node.os))
                && (a.is_empty() || canonical_arch(a).eq_ignore_ascii_case(arch))
        })
    }

    fn explain(&self, _group: &TaskGroup, nodes: usize) -> String {
        format!("unsupported platform on {}", count_nodes(nodes))
    }
}
