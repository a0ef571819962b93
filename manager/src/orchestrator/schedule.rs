//! Scheduled jobs (leader only): starts a job's next run when its
//! schedule says it is due, by bumping the service's job iteration (the
//! job orchestrators then run its tasks again, [`super::jobs`]).
//!
//! Each due time is handled once, run or skipped, and recorded in the
//! service (`last_due`), so a new leader goes on where the old one
//! stopped. Due times missed meanwhile (no leader, a manager down) are
//! caught up by one run at most: the latest of them. A run that comes
//! due while the previous one still goes is skipped (overlap `forbid`,
//! the default), started beside it (`allow`), or started instead of it
//! (`replace`: the orchestrator stops the old run's tasks).

use std::time::Duration;

use shoal_proto::store_object::Object;
use shoal_proto::{JobStatus, ScheduleOverlap, Service, Task};
use shoal_spec::schedule::Schedule;
use shoal_spec::tasks::{job_iteration, schedule, still_going};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::ops;
use crate::proposer::Proposer;
use crate::store::Store;

/// How often the leader looks for runs due: the most a run starts late.
const TICK: Duration = Duration::from_millis(200);

/// What becomes of a scheduled job now: its job status to record, if it
/// changes (`now`: unix ns).
pub fn due(service: &Service, tasks: &[&Task], now: i64) -> Option<JobStatus> {
    let spec = schedule(service)?;
    let status = service.job_status.unwrap_or_default();
    if status.last_due == 0 {
        // Counted from when the leader first sees the schedule.
        return Some(JobStatus { last_due: now, ..status });
    }
    let schedule = Schedule::parse(spec).ok()?;
    if schedule.next_after(status.last_due)? > now {
        return None;
    }
    // The latest of the due times missed stands for them all.
    let last_due = schedule.latest_due(status.last_due, now)?;
    let iteration = job_iteration(service);
    let going = iteration > 0 && tasks.iter().any(|t| t.job_iteration == iteration && still_going(t));
    if going && spec.overlap() == ScheduleOverlap::Forbid {
        return Some(JobStatus { last_due, skipped: status.skipped + 1, ..status });
    }
    Some(JobStatus { iteration: iteration + 1, last_execution: now, last_due, skipped: status.skipped })
}

/// Runs until `stop`.
pub async fn run(store: Store, proposer: Proposer, stop: CancellationToken) {
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(TICK) => {}
        }
        let now = shoal_proto::now_nanos();
        let changes: Vec<Service> = store.view(|s| {
            s.services()
                .filter(|service| schedule(service).is_some())
                .filter_map(|service| {
                    let tasks: Vec<&Task> = s.tasks_of_service(&service.id).collect();
                    let status = due(service, &tasks, now)?;
                    Some(Service { job_status: Some(status), ..service.clone() })
                })
                .collect()
        });
        for service in changes {
            let status = service.job_status.unwrap_or_default();
            if status.last_execution == now {
                info!(service = %service.name(), run = status.iteration, "scheduled job: run due");
            }
            // A service changed meanwhile is looked at again next tick.
            if let Err(err) = proposer.propose(vec![ops::update(Object::Service(service))]).await {
                warn!(%err, "recording a scheduled job's run");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use shoal_proto::{JobSchedule, ServiceSpec, TaskState, TaskStatus};

    use super::*;

    const S: i64 = 1_000_000_000;

    fn job(overlap: ScheduleOverlap, status: Option<JobStatus>) -> Service {
        let schedule = JobSchedule { cron: "@every 2s".into(), time_zone: String::new(), overlap: overlap as i32 };
        Service {
            spec: Some(ServiceSpec { schedule: Some(schedule), ..Default::default() }),
            job_status: status,
            ..Default::default()
        }
    }

    fn task(iteration: u64, state: TaskState) -> Task {
        Task {
            job_iteration: iteration,
            desired_state: TaskState::Running as i32,
            status: Some(TaskStatus { state: state as i32, ..Default::default() }),
            ..Default::default()
        }
    }

    fn status(iteration: u64, last_execution: i64, last_due: i64, skipped: u64) -> Option<JobStatus> {
        Some(JobStatus { iteration, last_execution, last_due, skipped })
    }

    #[test]
    fn runs_count_from_when_the_schedule_is_first_seen() {
        let fresh = job(ScheduleOverlap::Forbid, None);
        assert_eq!(due(&fresh, &[], 10 * S), status(0, 0, 10 * S, 0));
        let counting = job(ScheduleOverlap::Forbid, status(0, 0, 10 * S, 0));
        assert_eq!(due(&counting, &[], 11 * S), None, "not due yet");
        assert_eq!(due(&counting, &[], 12 * S + 5), status(1, 12 * S + 5, 12 * S, 0));
        assert_eq!(due(&Service::default(), &[], 12 * S), None, "not a scheduled job");
    }

    #[test]
    fn missed_runs_are_caught_up_by_one() {
        let behind = job(ScheduleOverlap::Forbid, status(3, 10 * S, 10 * S, 0));
        let done = task(3, TaskState::Complete);
        // Five due times missed (a leader change): one run, the latest.
        assert_eq!(due(&behind, &[&done], 21 * S), status(4, 21 * S, 20 * S, 0));
    }

    #[test]
    fn a_run_still_going_is_skipped_kept_or_replaced() {
        let going = task(3, TaskState::Running);
        let forbid = job(ScheduleOverlap::Forbid, status(3, 10 * S, 10 * S, 0));
        assert_eq!(due(&forbid, &[&going], 12 * S), status(3, 10 * S, 12 * S, 1), "skipped");
        let old = task(2, TaskState::Running);
        assert_eq!(due(&forbid, &[&old], 12 * S), status(4, 12 * S, 12 * S, 0), "an older run does not hold it");
        for overlap in [ScheduleOverlap::Allow, ScheduleOverlap::Replace] {
            let service = job(overlap, status(3, 10 * S, 10 * S, 0));
            assert_eq!(due(&service, &[&going], 12 * S), status(4, 12 * S, 12 * S, 0), "{overlap:?}");
        }
    }
}
