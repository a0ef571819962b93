//! The replicated job orchestrator's decisions, pure (`--mode
//! replicated-job`): slots 1..`total_completions`, each done once its
//! newest task completes; at most `max_concurrent` slots run at a time,
//! started in slot order. A completed task is never restarted (until the
//! job is updated: a task that completed an older spec version does not
//! count); a failed one is replaced per the restart policy (as a
//! replicated service's).
//! A scheduled job runs its slots again at each run the schedule loop
//! starts ([`super::schedule`]): tasks of an earlier run that still go are
//! stopped, or left to finish if runs may overlap.
//! Global jobs are [`super::global::reconcile`] with `job` set.

use std::collections::BTreeMap;

use shoal_proto::{ReplicatedJob, Service, Task, TaskState};

use shoal_spec::tasks::{awaits_first_run, is_complete, of_current_run, of_earlier_run, runs_may_overlap};

use super::plan::{Action, Env, Plan, creation, new_task};
use super::slot::reconcile_latest;

/// Decides for `service`, a replicated job with settings `job`, with
/// `tasks` all of its tasks.
pub fn reconcile(service: &Service, job: &ReplicatedJob, tasks: &[&Task], env: &mut Env<'_>) -> Plan {
    // A scheduled job has nothing to run before its first run.
    let total = if awaits_first_run(service) { 0 } else { job.total_completions };
    let overlap = runs_may_overlap(service);
    let max_concurrent = if job.max_concurrent == 0 { total } else { job.max_concurrent };
    let mut plan = Plan::default();
    let mut slots: BTreeMap<u64, Vec<&Task>> = BTreeMap::new();
    for task in tasks.iter().filter(|t| t.desired_state() < TaskState::Remove) {
        slots.entry(task.slot).or_default().push(task);
    }
    for task in slots.range(total + 1..).flat_map(|(_, tasks)| tasks) {
        plan.actions.push(Action::SetDesired(task.id.clone(), TaskState::Remove));
    }
    let mut running = 0;
    let mut empty = Vec::new();
    for slot in 1..=total {
        let mut slot_tasks = slots.remove(&slot).unwrap_or_default();
        slot_tasks.sort_by_key(|t| (creation(t), t.id.clone()));
        let Some(latest) = slot_tasks.pop() else {
            empty.push(slot);
            continue;
        };
        let left_to_finish = |t: &Task| overlap && t.job_iteration != latest.job_iteration;
        for older in slot_tasks
            .iter()
            .filter(|t| t.desired_state() <= TaskState::Running && !is_complete(t) && !left_to_finish(t))
        {
            plan.actions.push(Action::SetDesired(older.id.clone(), TaskState::Shutdown));
        }
        if of_earlier_run(latest, service) {
            // A new run starts in the slot, beside the old one or instead.
            if !overlap {
                plan.actions.push(Action::SetDesired(latest.id.clone(), TaskState::Shutdown));
            }
            empty.push(slot);
            continue;
        }
        if is_complete(latest) && !of_current_run(latest, service) {
            empty.push(slot); // completed an older spec or run: it runs again
            continue;
        }
        if is_complete(latest) || latest.desired_state() > TaskState::Running {
            continue; // done, or given up by the restart policy
        }
        running += 1;
        reconcile_latest(service, latest, &slot_tasks, env, &mut plan);
    }
    for slot in empty.into_iter().take(max_concurrent.saturating_sub(running) as usize) {
        let task = new_task(service, slot, TaskState::Running, Vec::new(), env.now, (env.new_id)());
        plan.actions.push(Action::Create(Box::new(task)));
    }
    plan
}

#[cfg(test)]
mod tests {
    use shoal_proto::{Meta, RestartCondition, RestartPolicy, ServiceSpec, TaskSpec, TaskStatus};

    use super::*;

    fn service() -> Service {
        let restart =
            RestartPolicy { condition: RestartCondition::OnFailure as i32, delay_ns: Some(0), ..Default::default() };
        Service {
            id: "job".into(),
            spec: Some(ServiceSpec {
                task: Some(TaskSpec { restart: Some(restart), ..Default::default() }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn task(id: &str, slot: u64, created: u64, state: TaskState) -> Task {
        Task {
            id: id.into(),
            slot,
            meta: Some(Meta { created_index: created, ..Default::default() }),
            desired_state: TaskState::Running as i32,
            status: Some(TaskStatus { state: state as i32, ..Default::default() }),
            spec: service().spec.and_then(|s| s.task),
            ..Default::default()
        }
    }

    fn run(job: ReplicatedJob, tasks: &[Task]) -> Plan {
        let refs: Vec<&Task> = tasks.iter().collect();
        let mut n = 0;
        let mut new_id = || {
            n += 1;
            format!("new{n}")
        };
        reconcile(&service(), &job, &refs, &mut Env { now: 10, lost: &|_| false, new_id: &mut new_id })
    }

    fn created(plan: &Plan) -> Vec<u64> {
        plan.actions.iter().filter_map(|a| if let Action::Create(t) = a { Some(t.slot) } else { None }).collect()
    }

    #[test]
    fn starts_at_most_max_concurrent_slots_in_order() {
        let job = ReplicatedJob { total_completions: 5, max_concurrent: 2 };
        assert_eq!(created(&run(job, &[])), vec![1, 2]);
        let tasks = [task("a", 1, 1, TaskState::Complete), task("b", 2, 2, TaskState::Running)];
        assert_eq!(created(&run(job, &tasks)), vec![3], "slot 1 is done, slot 2 still runs");
        let job = ReplicatedJob { total_completions: 3, max_concurrent: 0 };
        assert_eq!(created(&run(job, &[])), vec![1, 2, 3], "max concurrent defaults to every completion");
    }

    #[test]
    fn completed_tasks_are_never_restarted_failed_ones_are() {
        let job = ReplicatedJob { total_completions: 2, max_concurrent: 2 };
        let tasks = [task("a", 1, 1, TaskState::Complete), task("b", 2, 2, TaskState::Failed)];
        let plan = run(job, &tasks);
        assert_eq!(plan.actions[0], Action::SetDesired("b".into(), TaskState::Shutdown));
        assert_eq!(created(&plan), vec![2]);
        let mut done = [task("a", 1, 1, TaskState::Complete), task("c", 2, 3, TaskState::Complete)];
        assert_eq!(run(job, &done), Plan::default(), "the job is complete");
        done[1].spec_version = 7;
        assert_eq!(created(&run(job, &done)), vec![2], "slot 2 completed an older spec");
    }

    #[test]
    fn a_scheduled_job_runs_its_slots_again_at_each_run() {
        use shoal_proto::{JobSchedule, JobStatus, ScheduleOverlap};
        let job = ReplicatedJob { total_completions: 2, max_concurrent: 2 };
        let scheduled = |iteration: u64, overlap: ScheduleOverlap| {
            let mut s = service();
            let schedule = JobSchedule { cron: "@every 1m".into(), overlap: overlap as i32, ..Default::default() };
            s.spec.as_mut().unwrap().schedule = Some(schedule);
            s.job_status = Some(JobStatus { iteration, ..Default::default() });
            s
        };
        let decide = |service: &Service, tasks: &[Task]| {
            let refs: Vec<&Task> = tasks.iter().collect();
            let mut n = 0;
            let mut new_id = || {
                n += 1;
                format!("new{n}")
            };
            reconcile(service, &job, &refs, &mut Env { now: 10, lost: &|_| false, new_id: &mut new_id })
        };
        assert_eq!(
            decide(&scheduled(0, ScheduleOverlap::Forbid), &[]),
            Plan::default(),
            "nothing before the first run"
        );
        let mut done = task("a", 1, 1, TaskState::Complete);
        let mut going = task("b", 2, 2, TaskState::Running);
        (done.job_iteration, going.job_iteration) = (1, 1);
        let tasks = [done, going];
        assert_eq!(decide(&scheduled(1, ScheduleOverlap::Forbid), &tasks), Plan::default(), "run 1 goes on");
        let replace = decide(&scheduled(2, ScheduleOverlap::Replace), &tasks);
        assert_eq!(created(&replace), vec![1, 2], "run 2 in both slots");
        assert!(replace.actions.contains(&Action::SetDesired("b".into(), TaskState::Shutdown)), "run 1 stopped");
        let allow = decide(&scheduled(2, ScheduleOverlap::Allow), &tasks);
        assert_eq!(created(&allow), vec![1, 2]);
        assert!(!allow.actions.iter().any(|a| matches!(a, Action::SetDesired(..))), "run 1 left to finish");
        assert!(allow.actions.iter().all(|a| !matches!(a, Action::Create(t) if t.job_iteration != 2)));
    }

    #[test]
    fn fewer_completions_remove_the_extra_slots() {
        let job = ReplicatedJob { total_completions: 1, max_concurrent: 1 };
        let tasks = [task("a", 1, 1, TaskState::Running), task("b", 2, 2, TaskState::Running)];
        assert_eq!(run(job, &tasks).actions, vec![Action::SetDesired("b".into(), TaskState::Remove)]);
    }
}
