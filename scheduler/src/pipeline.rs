//! A scheduling pass: filter, rank, place, and count refusals.

use crate::filter::{Filter, ReadyFilter, RuntimeFilter};
use crate::node::{NodeInfo, TaskRequest};

/// The outcome of a pass.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Decisions {
    /// (task id, node id) for every task placed.
    pub assigned: Vec<(String, String)>,
    /// (task id, reason) for every task that fits nowhere.
    pub unplaced: Vec<(String, String)>,
}

/// Places `tasks` on `nodes`, in order. `nodes` is updated with every
/// placement, so later tasks of the pass see earlier ones.
pub fn schedule(nodes: &mut [NodeInfo], tasks: &[TaskRequest]) -> Decisions {
    let filters: [&dyn Filter; 2] = [&ReadyFilter, &RuntimeFilter];
    let mut decisions = Decisions::default();
    for task in tasks {
        let mut refused = [0usize; 2];
        let mut best: Option<usize> = None;
        for (i, node) in nodes.iter().enumerate() {
            match filters.iter().position(|f| !f.check(task, node)) {
                Some(f) => refused[f] += 1,
                None => {
                    if best.is_none_or(|b| node.rank(&task.service_id) < nodes[b].rank(&task.service_id)) {
                        best = Some(i);
                    }
                }
            }
        }
        match best {
            Some(i) => {
                nodes[i].add_task(&task.service_id);
                decisions.assigned.push((task.id.clone(), nodes[i].id.clone()));
            }
            None => decisions.unplaced.push((task.id.clone(), explain(&filters, task, &refused))),
        }
    }
    decisions
}

/// "no suitable node (3 nodes not available for new tasks; ...)", the
/// most frequent cause first.
fn explain(filters: &[&dyn Filter], task: &TaskRequest, refused: &[usize]) -> String {
    let mut causes: Vec<(usize, String)> =
        refused.iter().zip(filters).filter(|(n, _)| **n > 0).map(|(n, f)| (*n, f.explain(task, *n))).collect();
    if causes.is_empty() {
        return "no suitable node (no nodes in the cluster)".to_string();
    }
    causes.sort_by_key(|c| std::cmp::Reverse(c.0));
    let causes: Vec<String> = causes.into_iter().map(|(_, c)| c).collect();
    format!("no suitable node ({})", causes.join("; "))
}

#[cfg(test)]
mod tests;
