//! A task's limits and the cgroup files that set them, per version.

use serde::{Deserialize, Serialize};
use shoal_proto::TaskSpec;

use super::{Controller, Version};

/// The CFS period (µs): the quota is a share of it.
const CPU_PERIOD_US: i64 = 100_000;
/// The smallest quota the kernel takes (µs).
const MIN_CPU_QUOTA_US: i64 = 1_000;

/// What a task may use; 0 for no limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    pub nano_cpus: i64,
    pub memory_bytes: i64,
    pub pids: i64,
}

/// A file to write in a task cgroup; an optional one is skipped where
/// the kernel does not have it (swap accounting).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    pub file: &'static str,
    pub value: String,
    pub optional: bool,
}

fn set(file: &'static str, value: impl ToString) -> Setting {
    Setting { file, value: value.to_string(), optional: false }
}

/// `pids.max` for `n` processes (0: no limit).
fn pids_max(n: i64) -> Setting {
    set("pids.max", if n > 0 { n.to_string() } else { "max".to_string() })
}

impl Limits {
    /// The limits of a task spec.
    pub fn of(spec: &TaskSpec) -> Limits {
        let limits = spec.resources.as_ref().and_then(|r| r.limits).unwrap_or_default();
        let pids = spec.container.as_ref().map_or(0, |c| c.pids_limit);
        Limits { nano_cpus: limits.nano_cpus.max(0), memory_bytes: limits.memory_bytes.max(0), pids: pids.max(0) }
    }

    /// The files that set what `controller` limits, in the order to write
    /// them, before the task starts. Memory comes with as much swap again,
    /// as Docker's default. The pids limit is one more than asked while
    /// the shim is in the cgroup to start the task, and set exactly once
    /// it has left ([`Limits::pids_setting`]): at worst the task has one
    /// process too many between the two writes, never fewer than its due.
    pub fn settings(&self, version: Version, controller: Controller) -> Vec<Setting> {
        let quota = (self.nano_cpus > 0)
            .then(|| (self.nano_cpus.saturating_mul(CPU_PERIOD_US) / 1_000_000_000).max(MIN_CPU_QUOTA_US));
        let memory = (self.memory_bytes > 0).then_some(self.memory_bytes);
        match (version, controller) {
            (Version::V1, Controller::Cpu) => {
                vec![set("cpu.cfs_period_us", CPU_PERIOD_US), set("cpu.cfs_quota_us", quota.unwrap_or(-1))]
            }
            (Version::V1, Controller::Memory) => match memory {
                Some(bytes) => vec![
                    set("memory.limit_in_bytes", bytes),
                    Setting { optional: true, ..set("memory.memsw.limit_in_bytes", bytes.saturating_mul(2)) },
                ],
                None => Vec::new(),
            },
            (Version::V2, Controller::Cpu) => {
                let quota = quota.map_or_else(|| "max".to_string(), |q| q.to_string());
                vec![set("cpu.max", format!("{quota} {CPU_PERIOD_US}"))]
            }
            (Version::V2, Controller::Memory) => match memory {
                Some(bytes) => {
                    vec![set("memory.max", bytes), Setting { optional: true, ..set("memory.swap.max", bytes) }]
                }
                None => vec![set("memory.max", "max")],
            },
            (_, Controller::Pids) => {
                let starting = if self.pids > 0 { self.pids.saturating_add(1) } else { 0 };
                vec![pids_max(starting)]
            }
            (_, Controller::Freezer) => Vec::new(),
        }
    }

    /// `pids.max` once the shim has left the cgroup.
    pub fn pids_setting(&self) -> Setting {
        pids_max(self.pids)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shoal_proto::{ContainerSpec, ResourceRequirements, Resources};

    fn files(settings: Vec<Setting>) -> Vec<(&'static str, String)> {
        settings.into_iter().map(|s| (s.file, s.value)).collect()
    }

    #[test]
    fn limits_come_from_the_spec() {
        let spec = TaskSpec {
            container: Some(ContainerSpec { pids_limit: 20, ..Default::default() }),
            resources: Some(ResourceRequirements {
                limits: Some(Resources { nano_cpus: 200_000_000, memory_bytes: 20 << 20 }),
                reservations: None,
            }),
            ..Default::default()
        };
        assert_eq!(Limits::of(&spec), Limits { nano_cpus: 200_000_000, memory_bytes: 20 << 20, pids: 20 });
        assert_eq!(Limits::of(&TaskSpec::default()), Limits::default());
    }

    #[test]
    fn v1_files() {
        let l = Limits { nano_cpus: 200_000_000, memory_bytes: 20 << 20, pids: 20 };
        assert_eq!(
            files(l.settings(Version::V1, Controller::Cpu)),
            [("cpu.cfs_period_us", "100000".into()), ("cpu.cfs_quota_us", "20000".to_string())]
        );
        let memory = l.settings(Version::V1, Controller::Memory);
        assert_eq!(memory[0], set("memory.limit_in_bytes", 20 << 20));
        assert_eq!(memory[1].value, (40 << 20).to_string());
        assert!(memory[1].optional);
        assert_eq!(
            l.settings(Version::V1, Controller::Pids),
            [set("pids.max", 21)],
            "the shim counts while it starts the task"
        );
        assert_eq!(l.pids_setting(), set("pids.max", 20));
        let none = Limits::default();
        assert_eq!(none.settings(Version::V1, Controller::Cpu)[1], set("cpu.cfs_quota_us", -1));
        assert!(none.settings(Version::V1, Controller::Memory).is_empty());
        assert_eq!(none.pids_setting(), set("pids.max", "max"));
        assert_eq!(none.settings(Version::V2, Controller::Pids), [set("pids.max", "max")]);
        let tiny = Limits { nano_cpus: 1_000_000, ..none };
        assert_eq!(tiny.settings(Version::V1, Controller::Cpu)[1], set("cpu.cfs_quota_us", 1000), "the kernel's least");
    }

    #[test]
    fn v2_files() {
        let l = Limits { nano_cpus: 1_500_000_000, memory_bytes: 1 << 30, pids: 0 };
        assert_eq!(files(l.settings(Version::V2, Controller::Cpu)), [("cpu.max", "150000 100000".to_string())]);
        assert_eq!(
            files(l.settings(Version::V2, Controller::Memory)),
            [("memory.max", (1u64 << 30).to_string()), ("memory.swap.max", (1u64 << 30).to_string())]
        );
        let none = Limits::default();
        assert_eq!(files(none.settings(Version::V2, Controller::Cpu)), [("cpu.max", "max 100000".to_string())]);
        assert_eq!(files(none.settings(Version::V2, Controller::Memory)), [("memory.max", "max".to_string())]);
        assert!(none.settings(Version::V2, Controller::Freezer).is_empty());
    }
}
