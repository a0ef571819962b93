//! Health checks of a running task, as Docker's: the probe command runs
//! every `interval` (its first run one interval after the start; every
//! `start_interval` instead while in the start period and not yet
//! healthy), each run bounded by `timeout`. The task is healthy after one success and
//! unhealthy after `retries` consecutive failures; failures within the
//! start period do not count, unless the task was healthy once already.

use std::time::Duration;

use shoal_proto::{HealthConfig, Task, TaskHealth};

/// Docker's defaults.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
pub const DEFAULT_RETRIES: u64 = 3;
pub const DEFAULT_START_INTERVAL: Duration = Duration::from_secs(5);

/// The argv a health check runs: `["CMD", prog, args...]` as it is,
/// `["CMD-SHELL", cmd]` through `/bin/sh -c`. None without a check (no
/// test, or `["NONE"]`).
pub fn command(config: &HealthConfig) -> Option<Vec<String>> {
    match config.test.split_first() {
        Some((kind, rest)) if kind == "CMD" && !rest.is_empty() => Some(rest.to_vec()),
        Some((kind, rest)) if kind == "CMD-SHELL" && !rest.is_empty() => {
            Some(vec!["/bin/sh".into(), "-c".into(), rest.join(" ")])
        }
        _ => None,
    }
}

fn duration(ns: i64, default: Duration) -> Duration {
    if ns > 0 { Duration::from_nanos(ns as u64) } else { default }
}

/// Where a task's health stands, fed with each probe's result.
#[derive(Debug)]
pub struct Checker {
    /// The probe command.
    pub argv: Vec<String>,
    pub interval: Duration,
    pub timeout: Duration,
    retries: u64,
    start_period: Duration,
    start_interval: Duration,
    failures: u64,
    was_healthy: bool,
    pub health: TaskHealth,
}

impl Checker {
    /// The task's health check, if it has one.
    pub fn for_task(task: &Task) -> Option<Checker> {
        Checker::new(task.spec.as_ref()?.container.as_ref()?.healthcheck.as_ref()?)
    }

    /// The check `config` describes; None if it names no command.
    pub fn new(config: &HealthConfig) -> Option<Checker> {
        Some(Checker {
            argv: command(config)?,
            interval: duration(config.interval_ns, DEFAULT_INTERVAL),
            timeout: duration(config.timeout_ns, DEFAULT_TIMEOUT),
            retries: if config.retries > 0 { config.retries } else { DEFAULT_RETRIES },
            start_period: duration(config.start_period_ns, Duration::ZERO),
            start_interval: duration(config.start_interval_ns, DEFAULT_START_INTERVAL),
            failures: 0,
            was_healthy: false,
            health: TaskHealth::Starting,
        })
    }

    /// How long after a probe `since_start` the next one runs.
    pub fn interval_at(&self, since_start: Duration) -> Duration {
        if !self.was_healthy && since_start < self.start_period { self.start_interval } else { self.interval }
    }

    /// Records a probe that succeeded (`ok`) `since_start` after the task
    /// started; returns the new health if it changed.
    pub fn record(&mut self, ok: bool, since_start: Duration) -> Option<TaskHealth> {
        let before = self.health;
        if ok {
            self.failures = 0;
            self.was_healthy = true;
            self.health = TaskHealth::Healthy;
        } else if self.was_healthy || since_start >= self.start_period {
            self.failures += 1;
            if self.failures >= self.retries {
                self.health = TaskHealth::Unhealthy;
            }
        }
        (self.health != before).then_some(self.health)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(test: &[&str], retries: u64, start_period_ns: i64) -> HealthConfig {
        HealthConfig {
            test: test.iter().map(|s| s.to_string()).collect(),
            retries,
            start_period_ns,
            ..Default::default()
        }
    }

    #[test]
    fn commands_of_each_form() {
        assert_eq!(command(&config(&["CMD", "/bin/true", "-x"], 0, 0)), Some(vec!["/bin/true".into(), "-x".into()]));
        assert_eq!(
            command(&config(&["CMD-SHELL", "curl -f localhost || exit 1"], 0, 0)),
            Some(vec!["/bin/sh".into(), "-c".into(), "curl -f localhost || exit 1".into()])
        );
        assert_eq!(command(&config(&["NONE"], 0, 0)), None);
        assert_eq!(command(&config(&[], 0, 0)), None);
        assert_eq!(command(&config(&["CMD"], 0, 0)), None);
        assert!(Checker::new(&config(&["NONE"], 0, 0)).is_none());
    }

    #[test]
    fn healthy_after_one_success_unhealthy_after_retries_failures() {
        let mut c = Checker::new(&config(&["CMD", "x"], 2, 0)).unwrap();
        assert_eq!((c.interval, c.timeout), (DEFAULT_INTERVAL, DEFAULT_TIMEOUT));
        assert_eq!(c.health, TaskHealth::Starting);
        let t = Duration::from_secs(1);
        assert_eq!(c.record(true, t), Some(TaskHealth::Healthy));
        assert_eq!(c.record(false, t), None, "one failure of two allowed");
        assert_eq!(c.record(true, t), None, "a success resets the count");
        assert_eq!(c.record(false, t), None);
        assert_eq!(c.record(false, t), Some(TaskHealth::Unhealthy));
    }

    #[test]
    fn the_start_interval_paces_probes_until_healthy_or_the_period_ends() {
        let mut settings = config(&["CMD", "x"], 1, 10_000_000_000);
        settings.start_interval_ns = 1_000_000_000;
        let mut c = Checker::new(&settings).unwrap();
        let s = Duration::from_secs;
        assert_eq!(c.interval_at(s(0)), s(1));
        assert_eq!(c.interval_at(s(11)), DEFAULT_INTERVAL, "after the start period");
        c.record(true, s(2));
        assert_eq!(c.interval_at(s(3)), DEFAULT_INTERVAL, "once healthy");
        let c = Checker::new(&config(&["CMD", "x"], 1, 0)).unwrap();
        assert_eq!(c.interval_at(s(0)), DEFAULT_INTERVAL, "no start period, no start interval");
    }

    #[test]
    fn failures_in_the_start_period_do_not_count() {
        let mut c = Checker::new(&config(&["CMD", "x"], 1, 10_000_000_000)).unwrap();
        assert_eq!(c.record(false, Duration::from_secs(5)), None);
        assert_eq!(c.health, TaskHealth::Starting);
        assert_eq!(c.record(false, Duration::from_secs(11)), Some(TaskHealth::Unhealthy));
        // Once healthy, a failure in the start period counts.
        let mut c = Checker::new(&config(&["CMD", "x"], 1, 10_000_000_000)).unwrap();
        c.record(true, Duration::from_secs(1));
        assert_eq!(c.record(false, Duration::from_secs(2)), Some(TaskHealth::Unhealthy));
    }
}
