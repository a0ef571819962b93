//! Which runtime runs a service's tasks: the one its spec names
//! (`--runtime`, compose `x-shoal-runtime`), else the cluster's default
//! (`cluster update --default-runtime`), decided once when the service is
//! created and stored in its spec: an update that names no runtime keeps
//! the service's.

use shoal_proto::{Cluster, ServiceSpec, TaskSpec};

use crate::InvalidSpec;

/// The runtimes a spec may name.
pub const RUNTIMES: [&str; 2] = [PROCESS, DOCKER];
/// Programs on the node, under shoal's shim (the embedded default).
pub const PROCESS: &str = "process";
/// Images, as containers of the node's Docker Engine.
pub const DOCKER: &str = "docker";

/// `runtime` is one shoal knows; `what` names the field or flag.
pub fn check(runtime: &str, what: &str) -> Result<(), InvalidSpec> {
    if RUNTIMES.contains(&runtime) {
        return Ok(());
    }
    Err(InvalidSpec(format!("{what}: expected one of {}, got {runtime:?}", RUNTIMES.join(", "))))
}

/// The runtime of a service or run created without one.
pub fn cluster_default(cluster: Option<&Cluster>) -> &str {
    cluster
        .and_then(|c| c.spec.as_ref())
        .map(|s| s.default_runtime.as_str())
        .filter(|r| !r.is_empty())
        .unwrap_or(PROCESS)
}

/// Fills in the runtime of a task spec that names none.
pub fn fill(task: &mut TaskSpec, runtime: &str) {
    if task.runtime.is_empty() {
        task.runtime = runtime.to_string();
    }
}

/// The runtime of `current` (a service's stored spec), for an update
/// that names none: a spec stored without one ran on processes (before
/// runtimes were stored), and keeps doing so.
pub fn of(current: &ServiceSpec) -> &str {
    current.task.as_ref().map(|t| t.runtime.as_str()).filter(|r| !r.is_empty()).unwrap_or(PROCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use shoal_proto::ClusterSpec;

    fn cluster(default_runtime: &str) -> Cluster {
        Cluster {
            spec: Some(ClusterSpec { default_runtime: default_runtime.into(), ..Default::default() }),
            ..Default::default()
        }
    }

    #[test]
    fn the_cluster_default_is_process_unless_set() {
        assert_eq!(cluster_default(None), PROCESS);
        assert_eq!(cluster_default(Some(&cluster(""))), PROCESS);
        assert_eq!(cluster_default(Some(&cluster("docker"))), DOCKER);
    }

    #[test]
    fn a_named_runtime_is_kept_and_a_missing_one_filled() {
        let mut task = TaskSpec { runtime: "docker".into(), ..Default::default() };
        fill(&mut task, PROCESS);
        assert_eq!(task.runtime, "docker");
        let mut task = TaskSpec::default();
        fill(&mut task, DOCKER);
        assert_eq!(task.runtime, "docker");
        let stored = ServiceSpec { task: Some(task), ..Default::default() };
        assert_eq!(of(&stored), "docker");
        assert_eq!(of(&ServiceSpec::default()), "process", "stored without one: it ran on processes");
    }

    #[test]
    fn only_known_runtimes_pass() {
        assert!(check("process", "--runtime").is_ok());
        assert!(check("docker", "--runtime").is_ok());
        assert_eq!(
            check("podman", "--default-runtime").unwrap_err().0,
            "--default-runtime: expected one of process, docker, got \"podman\""
        );
    }
}
