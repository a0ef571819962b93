//! A service's `depends_on`: the services (by name) that must meet a
//! condition before its tasks are placed. The scheduler asks [`unmet`]
//! for every pending task of a service that has dependencies and holds
//! the task, with the reason, until it answers `None`: on the first
//! start, after an interrupted `stack deploy`, and on every later start
//! (a restart, a node's tasks moved, the whole stack restarted). Tasks
//! already running are never stopped for a dependency.
//!
//! A dependency counts as up once all the tasks it wants, and at least
//! one, have reached its condition: running (`started`), running and
//! healthy or without a health check (`healthy`), or, for `completed`,
//! done with its current spec. [`cycle`] refuses a spec that would make
//! services wait for each other for ever.

use shoal_proto::{
    Dependency, DependencyCondition, Service, ServiceSpec, Task, TaskHealth, TaskState, service_spec::Mode,
};

use crate::store::MemoryStore;

/// Why tasks of a service with `spec` must still wait ("waiting for
/// app_db (service_healthy): 0/1 healthy"), or `None` once every
/// dependency meets its condition.
pub fn unmet(store: &MemoryStore, spec: &ServiceSpec) -> Option<String> {
    let waits: Vec<String> = spec.depends_on.iter().filter_map(|d| waiting_for(store, d)).collect();
    (!waits.is_empty()).then(|| format!("waiting for {}", waits.join(", ")))
}

/// One dependency's shortfall: "app_db (service_healthy): 0/1 healthy".
fn waiting_for(store: &MemoryStore, dependency: &Dependency) -> Option<String> {
    let condition = dependency.condition();
    let what = format!("{} ({})", dependency.service, condition.compose_name());
    let Some(service) = store.service_by_name(&dependency.service) else {
        return Some(format!("{what}: no such service"));
    };
    let tasks: Vec<&Task> = store.tasks_of_service(&service.id).collect();
    let (have, want, word) = standing(service, &tasks, condition);
    (have < want).then(|| format!("{what}: {have}/{want} {word}"))
}

/// How many of the dependency's tasks meet `condition`, how many must
/// (at least one), and the word for them.
fn standing(service: &Service, tasks: &[&Task], condition: DependencyCondition) -> (u64, u64, &'static str) {
    let mode = service.spec.as_ref().and_then(|s| s.mode.as_ref());
    let live = |t: &&&Task| t.desired_state() <= TaskState::Running;
    let running = |t: &&&Task| live(t) && t.state() == TaskState::Running;
    let (count, word) = match condition {
        DependencyCondition::Started => (tasks.iter().filter(running).count(), "running"),
        DependencyCondition::Healthy => {
            let healthy = |t: &&&Task| {
                running(t)
                    && t.status.as_ref().is_some_and(|s| matches!(s.health(), TaskHealth::Healthy | TaskHealth::None))
            };
            (tasks.iter().filter(healthy).count(), "healthy")
        }
        DependencyCondition::Completed => {
            let done = |t: &&&Task| t.spec_version == service.spec_version && t.state() == TaskState::Complete;
            (tasks.iter().filter(done).count(), "completed")
        }
    };
    let want = match mode {
        Some(Mode::Replicated(r)) => r.replicas,
        Some(Mode::ReplicatedJob(j)) => j.total_completions,
        // A global service wants a task on each node that may run it: those
        // the orchestrator keeps (or, once done, kept) for its current spec.
        Some(Mode::Global(_) | Mode::GlobalJob(_)) | None => {
            let mut nodes: Vec<&str> = tasks
                .iter()
                .filter(|t| t.spec_version == service.spec_version)
                .filter(|t| live(t) || t.state() == TaskState::Complete)
                .map(|t| t.node_id.as_str())
                .collect();
            nodes.sort_unstable();
            nodes.dedup();
            nodes.len() as u64
        }
    };
    (count as u64, want.max(1), word)
}

/// The cycle a service named `name` with `spec`'s dependencies would
/// close through the services in the store ("a -> b -> a"), if any.
pub fn cycle(store: &MemoryStore, name: &str, spec: &ServiceSpec) -> Option<Vec<String>> {
    let dependencies_of = |service: &str| -> Vec<String> {
        let deps = if service == name {
            Some(&spec.depends_on)
        } else {
            store.service_by_name(service).and_then(|s| s.spec.as_ref()).map(|s| &s.depends_on)
        };
        deps.map(|d| d.iter().map(|d| d.service.clone()).collect()).unwrap_or_default()
    };
    // Depth first from `name`, the path so far on a stack.
    let mut path = vec![name.to_string()];
    let mut seen: Vec<String> = Vec::new();
    fn walk(path: &mut Vec<String>, seen: &mut Vec<String>, deps: &dyn Fn(&str) -> Vec<String>) -> bool {
        let here = path.last().cloned().unwrap_or_default();
        for next in deps(&here) {
            if next == path[0] {
                path.push(next);
                return true;
            }
            // Every name on the path was seen when it was pushed.
            if seen.contains(&next) {
                continue;
            }
            seen.push(next.clone());
            path.push(next);
            if walk(path, seen, deps) {
                return true;
            }
            path.pop();
        }
        false
    }
    walk(&mut path, &mut seen, &dependencies_of).then_some(path)
}

#[cfg(test)]
mod tests;
