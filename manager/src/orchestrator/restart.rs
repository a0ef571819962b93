//! The restart policy: whether a task that ended is replaced, and after
//! how long. Pure: the slot's restart history travels with its tasks, and
//! counts per spec version (a task of a new version starts with none), as
//! swarmkit counts.

use shoal_proto::{RestartCondition, RestartPolicy, Service, Task, TaskState};
use shoal_spec::validate::DEFAULT_RESTART_DELAY_NS;

/// The restart delay of a policy.
pub fn delay(policy: Option<&RestartPolicy>) -> i64 {
    policy.and_then(|p| p.delay_ns).unwrap_or(DEFAULT_RESTART_DELAY_NS)
}

/// The restart attempts of `task`'s slot that count for `service`'s
/// current spec version: none once the version changed.
pub fn attempts<'a>(service: &Service, task: &'a Task) -> &'a [i64] {
    if task.spec_version == service.spec_version { &task.restart_history } else { &[] }
}

/// If `ended` (a task that stopped while it should run), its slot having
/// made `attempts` restarts, is to be replaced at `now`, the restart
/// history its replacement carries.
pub fn replacement_history(ended: &Task, attempts: &[i64], now: i64) -> Option<Vec<i64>> {
    let policy = ended.spec.as_ref().and_then(|s| s.restart.as_ref());
    let condition = policy.map_or(RestartCondition::Any, |p| p.condition());
    let state = ended.state();
    let restart = match condition {
        RestartCondition::None => false,
        RestartCondition::OnFailure => state != TaskState::Complete,
        RestartCondition::Any => true,
    };
    if !restart {
        return None;
    }
    let window = policy.map_or(0, |p| p.window_ns);
    let mut history: Vec<i64> =
        attempts.iter().copied().filter(|t| window <= 0 || *t > now.saturating_sub(window)).collect();
    let max_attempts = policy.map_or(0, |p| p.max_attempts);
    if max_attempts > 0 && history.len() as u64 >= max_attempts {
        return None;
    }
    history.push(now);
    Some(history)
}

#[cfg(test)]
mod tests {
    use super::*;
    use shoal_proto::{TaskSpec, TaskStatus};

    fn ended(state: TaskState, policy: RestartPolicy, history: Vec<i64>) -> Task {
        Task {
            spec: Some(TaskSpec { restart: Some(policy), ..Default::default() }),
            status: Some(TaskStatus { state: state as i32, ..Default::default() }),
            restart_history: history,
            ..Default::default()
        }
    }

    fn policy(condition: RestartCondition, max_attempts: u64, window_ns: i64) -> RestartPolicy {
        RestartPolicy { condition: condition as i32, max_attempts, window_ns, ..Default::default() }
    }

    fn replacement_history_of(task: &Task, now: i64) -> Option<Vec<i64>> {
        replacement_history(task, &task.restart_history, now)
    }

    #[test]
    fn conditions() {
        let any = policy(RestartCondition::Any, 0, 0);
        let on_failure = policy(RestartCondition::OnFailure, 0, 0);
        let none = policy(RestartCondition::None, 0, 0);
        assert!(replacement_history_of(&ended(TaskState::Complete, any, vec![]), 10).is_some());
        assert!(replacement_history_of(&ended(TaskState::Complete, on_failure, vec![]), 10).is_none());
        assert!(replacement_history_of(&ended(TaskState::Failed, on_failure, vec![]), 10).is_some());
        assert!(replacement_history_of(&ended(TaskState::Failed, none, vec![]), 10).is_none());
    }

    #[test]
    fn max_attempts_counted_within_the_window() {
        let p = policy(RestartCondition::Any, 2, 100);
        assert_eq!(replacement_history_of(&ended(TaskState::Failed, p, vec![]), 1000), Some(vec![1000]));
        assert_eq!(replacement_history_of(&ended(TaskState::Failed, p, vec![950]), 1000), Some(vec![950, 1000]));
        assert_eq!(replacement_history_of(&ended(TaskState::Failed, p, vec![950, 990]), 1000), None);
        // Attempts that left the window no longer count.
        assert_eq!(replacement_history_of(&ended(TaskState::Failed, p, vec![800, 990]), 1000), Some(vec![990, 1000]));
        // Without a window, attempts count for the life of the slot.
        let p = policy(RestartCondition::Any, 2, 0);
        assert_eq!(replacement_history_of(&ended(TaskState::Failed, p, vec![1, 2]), 1000), None);
    }

    #[test]
    fn default_delay_is_five_seconds() {
        assert_eq!(delay(None), 5_000_000_000);
        let p = RestartPolicy { delay_ns: Some(0), ..Default::default() };
        assert_eq!(delay(Some(&p)), 0);
    }
}
