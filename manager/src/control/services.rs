//! Service create, update, remove and list.

use std::collections::BTreeSet;

use shoal_proto::{
    ListServicesResponse, ObjectKind, RemoveServiceResponse, Service, ServiceSpec, ServiceSummary, SpecRecord,
    TaskState, UpdateServiceRequest, UpdateState, now_nanos, service_spec::Mode, store_object::Object,
};

use shoal_spec::tasks::{awaits_first_run, changes_tasks, counts_as_done};
use shoal_spec::{runtime, validate};

use super::{ControlError, Result, endpoint, files, resolve};
use crate::dependencies;
use crate::history;
use crate::ids::new_id;
use crate::leadership::Leadership;
use crate::ops;
use crate::orchestrator::update;
use crate::proposer::Proposer;
use crate::store::Store;

pub async fn create(store: &Store, proposer: &Proposer, spec: ServiceSpec) -> Result<Service> {
    let spec = checked(store, spec, None)?;
    let mut service = Service { id: new_id(), spec: Some(spec), spec_version: 1, ..Default::default() };
    history::record(&mut service, "create", now_nanos(), history_limit(store));
    let id = service.id.clone();
    proposer.propose(vec![ops::create(Object::Service(service))]).await?;
    read(store, &id)
}

pub async fn update(store: &Store, proposer: &Proposer, req: UpdateServiceRequest) -> Result<Service> {
    let current = read(store, &req.service_id)?;
    let mut service = current.clone();
    let now = now_nanos();
    let name = current.name().to_string();
    let (spec, cause, status) = if req.rollback {
        // As Swarm: the previous spec becomes the spec, and the spec it
        // replaces the previous one (rolling back twice toggles); or any
        // version still in the history.
        let (spec, cause) = if req.rollback_to > 0 {
            let record = current.history.iter().find(|r| r.version == req.rollback_to).ok_or_else(|| {
                let kept: Vec<String> = current.history.iter().map(|r| r.version.to_string()).collect();
                ControlError::Refused(format!(
                    "service {name} has no version {} (kept: {})",
                    req.rollback_to,
                    kept.join(", ")
                ))
            })?;
            (record.spec.clone().unwrap_or_default(), format!("rollback to version {}", req.rollback_to))
        } else {
            let previous = current
                .previous_spec
                .clone()
                .ok_or_else(|| ControlError::Refused(format!("service {name} has no previous spec to roll back to")))?;
            (previous, "rollback".to_string())
        };
        let status = update::status(UpdateState::RollbackStarted, now, &format!("manually requested {cause}"));
        (spec, cause, Some(status))
    } else {
        // A paused update resumes: the next change starts a new one.
        (checked(store, req.spec.unwrap_or_default(), current.spec.as_ref())?, "update".to_string(), None)
    };
    if changes_tasks(current.spec.as_ref(), &spec) {
        service.spec_version += 1;
    }
    service.previous_spec = current.spec;
    service.spec = Some(spec);
    if service.history.is_empty() {
        // Made before services kept a history: its spec is version 1.
        service.history.push(SpecRecord {
            version: 1,
            created_at: current.meta.as_ref().map_or(now, |m| m.created_at),
            spec: service.previous_spec.clone(),
            outcome: None,
            cause: "create".into(),
        });
    }
    history::record(&mut service, &cause, now, history_limit(store));
    service.update_status = status;
    // The version the client read: the store refuses the write if the
    // service changed since.
    service.meta.get_or_insert_with(Default::default).version = req.version;
    proposer.propose(vec![ops::update(Object::Service(service))]).await?;
    read(store, &req.service_id)
}

/// A spec from a client, checked, with Swarm's defaults, its runtime
/// (`current`'s for an update that names none, else the cluster's
/// default) and its networks named by id.
fn checked(store: &Store, spec: ServiceSpec, current: Option<&ServiceSpec>) -> Result<ServiceSpec> {
    let mut spec = validate::service_spec(spec)?;
    store.view(|s| {
        let runtime = current.map_or_else(|| runtime::cluster_default(s.cluster()), runtime::of);
        runtime::fill(spec.task.get_or_insert_with(Default::default), runtime);
        endpoint::resolve_networks(s, &mut spec)?;
        files::resolve_references(s, &mut spec)?;
        let name = spec.annotations.as_ref().map_or("", |a| a.name.as_str());
        match dependencies::cycle(s, name, &spec) {
            Some(cycle) => {
                Err(ControlError::Invalid(super::InvalidSpec(format!("depends_on: a cycle: {}", cycle.join(" -> ")))))
            }
            None => Ok(()),
        }
    })?;
    Ok(spec)
}

fn history_limit(store: &Store) -> u64 {
    store.view(|s| history::limit(s.cluster()))
}

/// Deletes the service and asks for all its tasks to be removed.
pub async fn remove(store: &Store, proposer: &Proposer, reference: &str) -> Result<RemoveServiceResponse> {
    let ops = store.view(|s| {
        let service = resolve::service(s, reference)?;
        let mut ops = vec![ops::delete(ObjectKind::Service, &service.id)];
        for task in s.tasks_of_service(&service.id) {
            ops.push(ops::task_desired(&task.id, TaskState::Remove));
        }
        Ok::<_, ControlError>((service.id.clone(), ops))
    });
    let (service_id, ops) = ops?;
    proposer.propose(ops).await?;
    Ok(RemoveServiceResponse { service_id })
}

pub fn list(store: &Store, leadership: &Leadership) -> ListServicesResponse {
    let warning = leadership.staleness();
    store.view(|s| ListServicesResponse {
        warning,
        services: s
            .services()
            .map(|service| {
                let running = s
                    .tasks_of_service(&service.id)
                    .filter(|t| {
                        t.desired_state() == TaskState::Running
                            && t.status.as_ref().is_some_and(|st| st.state() == TaskState::Running)
                    })
                    .count() as u64;
                let live = || s.tasks_of_service(&service.id).filter(|t| t.desired_state() == TaskState::Running);
                let completed = live().filter(|t| counts_as_done(t, service)).count() as u64;
                // A global job: one task per node that may run it, those the
                // orchestrator keeps meant to run.
                let per_node = || live().map(|t| t.node_id.as_str()).collect::<BTreeSet<_>>().len() as u64;
                let (desired, total_completions) = match service.spec.as_ref().and_then(|s| s.mode.as_ref()) {
                    Some(Mode::Replicated(r)) => (r.replicas, 0),
                    // A job: the tasks that may run now, and how many must complete.
                    // A scheduled job before its first run runs nothing yet.
                    Some(Mode::ReplicatedJob(j)) if awaits_first_run(service) => (0, j.total_completions),
                    Some(Mode::ReplicatedJob(j)) => {
                        (j.max_concurrent.min(j.total_completions.saturating_sub(completed)), j.total_completions)
                    }
                    Some(Mode::GlobalJob(_)) => {
                        let nodes = per_node();
                        (nodes.saturating_sub(completed), nodes)
                    }
                    _ => (live().count() as u64, 0),
                };
                ServiceSummary {
                    service: Some(service.clone()),
                    running_tasks: running,
                    desired_tasks: desired,
                    completed_tasks: completed,
                    total_completions,
                }
            })
            .collect(),
    })
}

fn read(store: &Store, id: &str) -> Result<Service> {
    store.view(|s| s.service(id).cloned()).ok_or_else(|| ControlError::NotFound(format!("no such service: {id}")))
}
