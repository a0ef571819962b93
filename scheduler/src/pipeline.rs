//! A scheduling pass: per task group, one sweep of the filters over the
//! nodes, then placements through the group's [`Tree`], counting every
//! refusal so a task that fits nowhere says why.

use crate::filter::{FILTERS, Filter};
use crate::node::NodeInfo;
use crate::task::TaskGroup;
use crate::tree::{Placer, Tree};

/// The outcome of a pass.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Decisions {
    /// (task id, node id) for every task placed, in the order placed.
    pub assigned: Vec<(String, String)>,
    /// (task id, reason) for every task that fits nowhere.
    pub unplaced: Vec<(String, String)>,
}

/// Places the tasks of `groups`, group by group, on `nodes`. `nodes` is
/// sorted by id (ties in rank go to the lower id, so a pass is
/// deterministic) and updated with every placement, so later groups see
/// earlier ones.
pub fn schedule(nodes: &mut [NodeInfo], groups: &[TaskGroup]) -> Decisions {
    if !nodes.is_sorted_by(|a, b| a.id <= b.id) {
        nodes.sort_by(|a, b| a.id.cmp(&b.id));
    }
    let mut decisions = Decisions::default();
    for group in groups {
        place_group(nodes, group, &mut decisions);
    }
    decisions
}

fn place_group(nodes: &mut [NodeInfo], group: &TaskGroup, decisions: &mut Decisions) {
    if group.tasks.is_empty() {
        return;
    }
    let rules: Vec<usize> = (0..FILTERS.len()).filter(|&f| FILTERS[f].applies(group)).collect();
    let dynamic: Vec<usize> = rules.iter().copied().filter(|&f| FILTERS[f].dynamic()).collect();
    let mut refused = [0usize; FILTERS.len()];

    let members: Vec<usize> = match &group.node {
        Some(id) => nodes.binary_search_by(|n| n.id.as_str().cmp(id)).into_iter().collect(),
        None => (0..nodes.len()).collect(),
    };
    let mut eligible = vec![false; nodes.len()];
    for &i in &members {
        match rules.iter().find(|&&f| !FILTERS[f].check(group, &nodes[i])) {
            Some(&f) => refused[f] += 1,
            None => eligible[i] = true,
        }
    }
    // A task bound to its node has nothing to spread.
    let preferences = if group.node.is_some() { &[][..] } else { &group.requirements.preferences[..] };
    let mut tree = Tree::build(nodes, group, preferences, &members, &eligible);

    let mut placer = Placer { nodes, group, dynamic: &dynamic, refused: &mut refused };
    let mut tasks = group.tasks.iter();
    for task in tasks.by_ref() {
        match tree.place(&mut placer) {
            Some(i) => decisions.assigned.push((task.clone(), placer.nodes[i].id.clone())),
            None => {
                let reason = explain(group, &refused);
                decisions.unplaced.push((task.clone(), reason.clone()));
                decisions.unplaced.extend(tasks.map(|t| (t.clone(), reason.clone())));
                return;
            }
        }
    }
}

/// "no suitable node (3 nodes not available for new tasks; ...)", the
/// most frequent cause first.
fn explain(group: &TaskGroup, refused: &[usize; FILTERS.len()]) -> String {
    let mut causes: Vec<(usize, &dyn Filter)> =
        refused.iter().zip(FILTERS.iter()).filter(|(n, _)| **n > 0).map(|(n, f)| (*n, *f)).collect();
    if causes.is_empty() {
        return match &group.node {
            Some(id) => format!("no suitable node (node {id} is not in the cluster)"),
            None => "no suitable node (no nodes in the cluster)".to_string(),
        };
    }
    causes.sort_by_key(|c| std::cmp::Reverse(c.0));
    let causes: Vec<String> = causes.into_iter().map(|(n, f)| f.explain(group, n)).collect();
    format!("no suitable node ({})", causes.join("; "))
}

#[cfg(test)]
mod tests;
