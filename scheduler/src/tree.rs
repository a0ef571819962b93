//! The candidates of one task group, arranged for placement: a heap of
//! eligible nodes ordered by rank, under one level of branches per spread
//! preference (one branch per label value). Placing a task walks down to
//! the branch with the fewest tasks of the service, then takes the best
//! node of its heap, so a pass costs O(log n) per task after one filter
//! sweep over the nodes.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};

use crate::filter::FILTERS;
use crate::node::NodeInfo;
use crate::preference::Spread;
use crate::task::TaskGroup;

/// (rank, node index): the smallest is the best node.
type Ranked = Reverse<((usize, usize, usize), usize)>;

pub(crate) enum Tree {
    /// Eligible nodes, best first.
    Leaf(BinaryHeap<Ranked>),
    /// One child per label value; the heap holds (tasks of the service in
    /// the child, child index) for children that may still have room.
    Branch { children: Vec<Tree>, order: BinaryHeap<Reverse<(usize, usize)>> },
}

/// What placing one task needs besides the tree.
pub(crate) struct Placer<'a> {
    pub nodes: &'a mut [NodeInfo],
    pub group: &'a TaskGroup,
    /// Indexes into [`FILTERS`] of the group's rules that placements can
    /// break.
    pub dynamic: &'a [usize],
    /// Refusals per filter, counted for the explanation.
    pub refused: &'a mut [usize; FILTERS.len()],
}

impl Tree {
    /// The tree of `members` (node indexes) for `preferences`, ranked for
    /// the tasks of `group`; only nodes with `eligible[i]` can be chosen,
    /// but every member counts towards its branch's tasks.
    pub(crate) fn build(
        nodes: &[NodeInfo],
        group: &TaskGroup,
        preferences: &[Spread],
        members: &[usize],
        eligible: &[bool],
    ) -> Tree {
        let Some((preference, inner)) = preferences.split_first() else {
            let rank = |i: usize| nodes[i].rank(&group.service_id, group.spec_version);
            let ranked = members.iter().filter(|&&i| eligible[i]).map(|&i| Reverse((rank(i), i)));
            return Tree::Leaf(ranked.collect());
        };
        let mut by_value: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for &i in members {
            by_value.entry(preference.value(&nodes[i])).or_default().push(i);
        }
        let mut children = Vec::with_capacity(by_value.len());
        let mut order = BinaryHeap::with_capacity(by_value.len());
        for (child, members) in by_value.into_values().enumerate() {
            let tasks = members.iter().map(|&i| nodes[i].service_tasks(&group.service_id)).sum();
            order.push(Reverse((tasks, child)));
            children.push(Tree::build(nodes, group, inner, &members, eligible));
        }
        Tree::Branch { children, order }
    }

    /// Places one task: returns the node chosen, or `None` once no node
    /// under this tree has room.
    pub(crate) fn place(&mut self, placer: &mut Placer<'_>) -> Option<usize> {
        match self {
            Tree::Leaf(heap) => {
                let Reverse((_, i)) = heap.pop()?;
                let requirements = &placer.group.requirements;
                let node = &mut placer.nodes[i];
                node.add_task(&placer.group.service_id, &requirements.reservations, &requirements.host_ports);
                match placer.dynamic.iter().find(|&&f| !FILTERS[f].check(placer.group, node)) {
                    Some(&f) => placer.refused[f] += 1,
                    None => heap.push(Reverse((node.rank(&placer.group.service_id, placer.group.spec_version), i))),
                }
                Some(i)
            }
            Tree::Branch { children, order } => {
                while let Some(Reverse((tasks, child))) = order.pop() {
                    if let Some(node) = children[child].place(placer) {
                        order.push(Reverse((tasks + 1, child)));
                        return Some(node);
                    }
                }
                None
            }
        }
    }
}
