//! The names of the resource limits a task can set and a node can
//! enforce (`NodeDescription.limits.enforced`), shared by the worker that
//! reports them and the scheduler that matches them.

use crate::TaskSpec;

/// `--limit-cpu`.
pub const CPU: &str = "cpu";
/// `--limit-memory`.
pub const MEMORY: &str = "memory";
/// `--limit-pids`.
pub const PIDS: &str = "pids";

/// The limits `spec` sets, in the order cpu, memory, pids.
pub fn required(spec: &TaskSpec) -> Vec<String> {
    let limits = spec.resources.as_ref().and_then(|r| r.limits.as_ref());
    let pids = spec.container.as_ref().map_or(0, |c| c.pids_limit);
    [
        (CPU, limits.is_some_and(|l| l.nano_cpus > 0)),
        (MEMORY, limits.is_some_and(|l| l.memory_bytes > 0)),
        (PIDS, pids > 0),
    ]
    .into_iter()
    .filter(|(_, set)| *set)
    .map(|(name, _)| name.to_string())
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ContainerSpec, ResourceRequirements, Resources};

    #[test]
    fn names_the_limits_a_spec_sets() {
        assert!(required(&TaskSpec::default()).is_empty());
        let spec = TaskSpec {
            container: Some(ContainerSpec { pids_limit: 20, ..Default::default() }),
            resources: Some(ResourceRequirements {
                limits: Some(Resources { nano_cpus: 0, memory_bytes: 20 << 20 }),
                reservations: Some(Resources { nano_cpus: 1_000_000_000, memory_bytes: 0 }),
            }),
            ..Default::default()
        };
        assert_eq!(required(&spec), ["memory", "pids"], "a reservation is no limit");
    }
}
