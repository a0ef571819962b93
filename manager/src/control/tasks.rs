//! Task listing with service, node ("self": the manager's own) and
//! desired-state filters.

use std::collections::HashMap;

use shoal_proto::{ListTasksRequest, ListTasksResponse, Task};

use super::Handles;
use super::{Result, resolve};

pub fn list(h: &Handles, req: ListTasksRequest) -> Result<ListTasksResponse> {
    let warning = h.leadership.staleness();
    h.store.view(|s| {
        let services =
            req.services.iter().map(|r| Ok(resolve::service(s, r)?.id.clone())).collect::<Result<Vec<_>>>()?;
        // "self": this manager's node (`node ps` without a node).
        let node = |r: &String| {
            if r == "self" { Ok(h.node_id.clone()) } else { Ok(resolve::node(s, r)?.id.clone()) }
        };
        let nodes = req.nodes.iter().map(node).collect::<Result<Vec<_>>>()?;
        let keep = |t: &&Task| {
            (nodes.is_empty() || nodes.contains(&t.node_id))
                && (req.desired_states.is_empty() || req.desired_states.contains(&t.desired_state))
        };
        let tasks: Vec<Task> = if services.is_empty() {
            s.tasks().filter(keep).cloned().collect()
        } else {
            services.iter().flat_map(|id| s.tasks_of_service(id)).filter(keep).cloned().collect()
        };
        let mut node_names = HashMap::new();
        for task in &tasks {
            if let Some(node) = s.node(&task.node_id) {
                node_names.insert(node.id.clone(), resolve::hostname(node).to_string());
            }
        }
        Ok(ListTasksResponse { tasks, node_names, warning })
    })
}
