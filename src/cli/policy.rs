//! The restart, update, rollback and health check flags shared by
//! `service create` and `service update`: each sets one field of the
//! spec's policy and leaves the others as they are.

use clap::Args;
use shoal_proto::{FailureAction, HealthConfig, RestartCondition, RestartPolicy, UpdateConfig, UpdateOrder};

use super::args::{count, duration_ns};

fn restart_condition(text: &str) -> Result<RestartCondition, String> {
    RestartCondition::from_name(text).ok_or_else(|| format!("expected any, on-failure or none, got {text:?}"))
}

fn failure_action(text: &str) -> Result<FailureAction, String> {
    FailureAction::from_name(text).ok_or_else(|| format!("expected pause, continue or rollback, got {text:?}"))
}

fn order(text: &str) -> Result<UpdateOrder, String> {
    UpdateOrder::from_name(text).ok_or_else(|| format!("expected stop-first or start-first, got {text:?}"))
}

fn ratio(text: &str) -> Result<f32, String> {
    match text.parse::<f32>() {
        Ok(r) if (0.0..=1.0).contains(&r) => Ok(r),
        _ => Err(format!("expected a number from 0 to 1, got {text:?}")),
    }
}

/// `--restart-condition`, `--restart-delay`, `--restart-max-attempts`,
/// `--restart-window`.
#[derive(Args, Debug, Default)]
pub struct RestartArgs {
    /// Restart when condition is met ("none", "on-failure", "any") [default: any, on-failure for jobs]
    #[arg(long, value_name = "CONDITION", value_parser = restart_condition)]
    pub restart_condition: Option<RestartCondition>,
    /// Delay between restart attempts (ns|us|ms|s|m|h) [default: 5s]
    #[arg(long, value_name = "DURATION", value_parser = duration_ns)]
    pub restart_delay: Option<i64>,
    /// Maximum number of restarts before giving up (0 = unlimited)
    #[arg(long, value_name = "N", value_parser = count, allow_hyphen_values = true)]
    pub restart_max_attempts: Option<u64>,
    /// Window used to evaluate the restart policy (ns|us|ms|s|m|h)
    #[arg(long, value_name = "DURATION", value_parser = duration_ns)]
    pub restart_window: Option<i64>,
}

impl RestartArgs {
    /// Sets in `p` what the flags give.
    pub fn apply(&self, p: &mut RestartPolicy) {
        if let Some(c) = self.restart_condition {
            p.condition = c as i32;
        }
        if let Some(d) = self.restart_delay {
            p.delay_ns = Some(d);
        }
        if let Some(n) = self.restart_max_attempts {
            p.max_attempts = n;
        }
        if let Some(w) = self.restart_window {
            p.window_ns = w;
        }
    }
}

/// `--health-cmd`, `--health-interval`, `--health-timeout`,
/// `--health-retries`, `--health-start-period`, `--no-healthcheck`.
#[derive(Args, Debug, Default)]
pub struct HealthArgs {
    /// Command to run to check health (with /bin/sh -c, in the task's environment)
    #[arg(long, value_name = "COMMAND")]
    pub health_cmd: Option<String>,
    /// Time between running the check (ms|s|m|h) [default: 30s]
    #[arg(long, value_name = "DURATION", value_parser = duration_ns)]
    pub health_interval: Option<i64>,
    /// Maximum time to allow one check to run (ms|s|m|h) [default: 30s]
    #[arg(long, value_name = "DURATION", value_parser = duration_ns)]
    pub health_timeout: Option<i64>,
    /// Consecutive failures needed to report unhealthy [default: 3]
    #[arg(long, value_name = "N", value_parser = count, allow_hyphen_values = true)]
    pub health_retries: Option<u64>,
    /// Start period for the task to initialize before failures count (ms|s|m|h) [default: 0s]
    #[arg(long, value_name = "DURATION", value_parser = duration_ns)]
    pub health_start_period: Option<i64>,
    /// Time between running the check during the start period (ms|s|m|h) [default: 5s]
    #[arg(long, value_name = "DURATION", value_parser = duration_ns)]
    pub health_start_interval: Option<i64>,
    /// Disable the health check
    #[arg(long, conflicts_with = "health_cmd")]
    pub no_healthcheck: bool,
}

impl HealthArgs {
    /// Sets in `health` what the flags give, as docker does: any of them
    /// on a check turned off (`NONE`) turns it back on (the image's
    /// command unless `--health-cmd` gives one); `--health-cmd ''`
    /// removes the command (the image's is run again).
    pub fn apply(&self, health: &mut Option<HealthConfig>) {
        if self.no_healthcheck {
            *health = Some(HealthConfig { test: vec!["NONE".into()], ..Default::default() });
            return;
        }
        let given = self.health_cmd.is_some()
            || self.health_interval.is_some()
            || self.health_timeout.is_some()
            || self.health_retries.is_some()
            || self.health_start_period.is_some()
            || self.health_start_interval.is_some();
        if !given {
            return;
        }
        let h = health.get_or_insert_with(HealthConfig::default);
        if h.test.first().is_some_and(|t| t == "NONE") {
            h.test.clear();
        }
        match self.health_cmd.as_deref() {
            Some("") => h.test.clear(),
            Some(cmd) => h.test = vec!["CMD-SHELL".into(), cmd.to_string()],
            None => {}
        }
        let set = |field: &mut i64, value: Option<i64>| {
            if let Some(v) = value {
                *field = v;
            }
        };
        set(&mut h.interval_ns, self.health_interval);
        set(&mut h.timeout_ns, self.health_timeout);
        set(&mut h.start_period_ns, self.health_start_period);
        set(&mut h.start_interval_ns, self.health_start_interval);
        if let Some(n) = self.health_retries {
            h.retries = n;
        }
    }
}

/// Flags `--PREFIX-parallelism`, `-delay`, `-monitor`, `-failure-action`,
/// `-max-failure-ratio` and `-order`, for the update and rollback configs.
macro_rules! rollout_args {
    ($name:ident, $prefix:literal, $what:literal) => {
        #[doc = concat!("The ", $what, " config flags (`--", $prefix, "-*`).")]
        #[derive(Args, Debug, Default)]
        pub struct $name {
            #[arg(id = concat!($prefix, "-parallelism"), long = concat!($prefix, "-parallelism"), value_name = "N", value_parser = count,
                allow_hyphen_values = true, help = concat!("Maximum number of tasks replaced at once in an ", $what, " (0 = all at once) [default: 1]"))]
            pub parallelism: Option<u64>,
            #[arg(id = concat!($prefix, "-delay"), long = concat!($prefix, "-delay"), value_name = "DURATION", value_parser = duration_ns,
                help = concat!("Delay between ", $what, "s of tasks (ns|us|ms|s|m|h) [default: 0s]"))]
            pub delay: Option<i64>,
            #[arg(id = concat!($prefix, "-monitor"), long = concat!($prefix, "-monitor"), value_name = "DURATION", value_parser = duration_ns,
                help = concat!("Duration after each task's ", $what, " to watch for failure (ns|us|ms|s|m|h) [default: 5s]"))]
            pub monitor: Option<i64>,
            #[arg(id = concat!($prefix, "-failure-action"), long = concat!($prefix, "-failure-action"), value_name = "ACTION", value_parser = failure_action,
                help = concat!("Action on ", $what, " failure (\"pause\", \"continue\", \"rollback\") [default: pause]"))]
            pub failure_action: Option<FailureAction>,
            #[arg(id = concat!($prefix, "-max-failure-ratio"), long = concat!($prefix, "-max-failure-ratio"), value_name = "RATIO", value_parser = ratio,
                help = concat!("Failure rate to tolerate during an ", $what, " [default: 0]"))]
            pub max_failure_ratio: Option<f32>,
            #[arg(id = concat!($prefix, "-order"), long = concat!($prefix, "-order"), value_name = "ORDER", value_parser = order,
                help = concat!("Order of ", $what, " (\"start-first\", \"stop-first\") [default: stop-first]"))]
            pub order: Option<UpdateOrder>,
        }

        impl $name {
            /// Sets in `c` what the flags give.
            pub fn apply(&self, c: &mut UpdateConfig) {
                set_rollout(c, self.parallelism, self.delay, self.monitor, self.failure_action, self.max_failure_ratio, self.order);
            }

            /// Whether any flag was given.
            pub fn any(&self) -> bool {
                self.parallelism.is_some()
                    || self.delay.is_some()
                    || self.monitor.is_some()
                    || self.failure_action.is_some()
                    || self.max_failure_ratio.is_some()
                    || self.order.is_some()
            }
        }
    };
}

rollout_args!(UpdatePolicyArgs, "update", "update");
rollout_args!(RollbackPolicyArgs, "rollback", "rollback");

fn set_rollout(
    c: &mut UpdateConfig,
    parallelism: Option<u64>,
    delay: Option<i64>,
    monitor: Option<i64>,
    action: Option<FailureAction>,
    ratio: Option<f32>,
    order: Option<UpdateOrder>,
) {
    if let Some(p) = parallelism {
        c.parallelism = p;
    }
    if let Some(d) = delay {
        c.delay_ns = d;
    }
    if let Some(m) = monitor {
        c.monitor_ns = m;
    }
    if let Some(a) = action {
        c.failure_action = a as i32;
    }
    if let Some(r) = ratio {
        c.max_failure_ratio = r;
    }
    if let Some(o) = order {
        c.order = o as i32;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_say_what_was_expected() {
        assert!(restart_condition("sometimes").unwrap_err().contains("on-failure"));
        assert_eq!(failure_action("rollback"), Ok(FailureAction::Rollback));
        assert_eq!(failure_action("retry"), Err("expected pause, continue or rollback, got \"retry\"".into()));
        assert_eq!(order("start-first"), Ok(UpdateOrder::StartFirst));
        assert!(order("first").is_err());
        assert_eq!(ratio("0.25"), Ok(0.25));
        assert!(ratio("2").is_err());
        assert!(ratio("x").is_err());
    }

    #[test]
    fn health_flags_set_a_shell_check_or_disable_it() {
        let mut h = None;
        let flags =
            HealthArgs { health_cmd: Some("test -f /ok".into()), health_retries: Some(2), ..Default::default() };
        flags.apply(&mut h);
        let set = h.clone().unwrap();
        assert_eq!((set.test, set.retries), (vec!["CMD-SHELL".to_string(), "test -f /ok".to_string()], 2));
        HealthArgs { health_interval: Some(5), ..Default::default() }.apply(&mut h);
        assert_eq!((h.as_ref().unwrap().interval_ns, h.as_ref().unwrap().retries), (5, 2), "the rest stays");
        HealthArgs { no_healthcheck: true, ..Default::default() }.apply(&mut h);
        assert_eq!(h.as_ref().unwrap().test, vec!["NONE".to_string()]);
        HealthArgs { health_retries: Some(4), ..Default::default() }.apply(&mut h);
        assert!(h.as_ref().unwrap().test.is_empty(), "a setting turns the image's check back on, as docker does");
        HealthArgs { health_cmd: Some("true".into()), health_start_interval: Some(7), ..Default::default() }
            .apply(&mut h);
        assert_eq!(h.as_ref().unwrap().start_interval_ns, 7);
        HealthArgs { health_cmd: Some(String::new()), ..Default::default() }.apply(&mut h);
        assert!(h.unwrap().test.is_empty(), "--health-cmd '' removes the command");
    }

    #[test]
    fn only_given_fields_change() {
        let mut c = UpdateConfig { parallelism: 1, monitor_ns: 5, ..Default::default() };
        let flags =
            UpdatePolicyArgs { parallelism: Some(2), order: Some(UpdateOrder::StartFirst), ..Default::default() };
        assert!(flags.any());
        flags.apply(&mut c);
        assert_eq!((c.parallelism, c.monitor_ns, c.order()), (2, 5, UpdateOrder::StartFirst));
    }
}
