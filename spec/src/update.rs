//! Swarm's defaults for a service's update and rollback settings.

use shoal_proto::{FailureAction, UpdateConfig, UpdateOrder};

/// Swarm's update (and rollback) defaults: one task at a time, no delay,
/// monitor 5 s, pause on failure, stop-first.
pub fn default_config() -> UpdateConfig {
    UpdateConfig {
        parallelism: 1,
        delay_ns: 0,
        failure_action: FailureAction::Pause as i32,
        monitor_ns: 5_000_000_000,
        max_failure_ratio: 0.0,
        order: UpdateOrder::StopFirst as i32,
    }
}
