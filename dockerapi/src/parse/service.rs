//! Docker's `ServiceSpec`: name, labels, mode, update and rollback
//! configs, endpoint, and shoal's own fields (`DependsOn`, `Schedule`,
//! `RebalanceOnJoin`, as `shoal service inspect` shows them).

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::Value;
use shoal_proto::service_spec::Mode;
use shoal_proto::{
    Annotations, Dependency, DependencyCondition, EndpointMode, EndpointSpec, FailureAction, GlobalJob, GlobalService,
    JobSchedule, PortConfig, PortProtocol, PublishMode, ReplicatedJob, ReplicatedService, ScheduleOverlap, ServiceSpec,
    UpdateConfig, UpdateOrder,
};

use super::task::TaskSpecIn;
use super::{Unsupported, refuse_if};

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", deny_unknown_fields, default)]
pub(super) struct ServiceSpecIn {
    name: String,
    labels: Option<HashMap<String, String>>,
    task_template: TaskSpecIn,
    mode: Option<ModeIn>,
    update_config: Option<UpdateConfigIn>,
    rollback_config: Option<UpdateConfigIn>,
    /// Deprecated by Docker for `TaskTemplate.Networks`; taken the same.
    networks: Option<Vec<super::task::NetworkIn>>,
    endpoint_spec: Option<EndpointSpecIn>,
    depends_on: Option<Vec<DependencyIn>>,
    schedule: Option<ScheduleIn>,
    rebalance_on_join: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", deny_unknown_fields, default)]
struct ModeIn {
    replicated: Option<ReplicatedIn>,
    global: Option<Value>,
    replicated_job: Option<ReplicatedJobIn>,
    global_job: Option<Value>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", deny_unknown_fields, default)]
struct ReplicatedIn {
    replicas: Option<u64>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", deny_unknown_fields, default)]
struct ReplicatedJobIn {
    max_concurrent: Option<u64>,
    total_completions: Option<u64>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", deny_unknown_fields, default)]
struct UpdateConfigIn {
    parallelism: u64,
    delay: i64,
    failure_action: String,
    monitor: i64,
    max_failure_ratio: f32,
    order: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", deny_unknown_fields, default)]
struct EndpointSpecIn {
    mode: String,
    ports: Vec<PortIn>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", deny_unknown_fields, default)]
struct PortIn {
    name: String,
    protocol: String,
    target_port: u32,
    published_port: u32,
    publish_mode: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", deny_unknown_fields, default)]
struct DependencyIn {
    service: String,
    condition: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", deny_unknown_fields, default)]
struct ScheduleIn {
    cron: String,
    time_zone: String,
    overlap: String,
}

/// Parses Docker's `ServiceSpec` JSON (already a value) into shoal's,
/// with warnings for what was ignored (the API answers them in
/// `Warnings`, and the docker CLI prints them).
///
/// For an update, `current` is the service's spec: what Docker's types
/// cannot carry (shoal's `DependsOn`, `Schedule`, `RebalanceOnJoin`, the
/// runtime's name), and so a docker CLI sends back without, is kept from
/// it when the body leaves it out.
pub fn service_spec(value: Value, current: Option<&ServiceSpec>) -> Result<(ServiceSpec, Vec<String>), Unsupported> {
    let spec: ServiceSpecIn = serde_path_to_error::deserialize(value).map_err(|e| {
        let at = e.path().to_string();
        Unsupported(format!("{at}: {}", e.into_inner()))
    })?;
    let mut warnings = Vec::new();
    let mut parsed = spec.into_proto(&mut warnings, current)?;
    let runtime = parsed.task.as_ref().map(|t| t.runtime.as_str());
    if let Some(current) = current.and_then(|c| c.task.as_ref())
        && runtime == Some("")
        && let Some(task) = parsed.task.as_mut()
    {
        task.runtime = current.runtime.clone();
    }
    Ok((parsed, warnings))
}

impl ServiceSpecIn {
    fn into_proto(self, warnings: &mut Vec<String>, current: Option<&ServiceSpec>) -> Result<ServiceSpec, Unsupported> {
        let mut task = self.task_template.into_proto(warnings)?;
        if let Some(networks) = self.networks
            && task.networks.is_empty()
        {
            task.networks = networks.into_iter().map(|n| n.into_proto("Networks", warnings)).collect();
        }
        Ok(ServiceSpec {
            annotations: Some(Annotations { name: self.name, labels: self.labels.unwrap_or_default() }),
            task: Some(task),
            mode: Some(
                self.mode
                    .map(ModeIn::into_proto)
                    .transpose()?
                    .unwrap_or(Mode::Replicated(ReplicatedService { replicas: 1 })),
            ),
            update: self.update_config.map(|u| u.into_proto("UpdateConfig")).transpose()?,
            rollback: self.rollback_config.map(|u| u.into_proto("RollbackConfig")).transpose()?,
            endpoint: self.endpoint_spec.map(EndpointSpecIn::into_proto).transpose()?,
            depends_on: match self.depends_on {
                Some(list) => list.into_iter().map(DependencyIn::into_proto).collect::<Result<_, _>>()?,
                None => current.map(|c| c.depends_on.clone()).unwrap_or_default(),
            },
            schedule: match self.schedule {
                Some(schedule) => Some(schedule.into_proto()?),
                None => current.and_then(|c| c.schedule.clone()),
            },
            rebalance_on_join: self.rebalance_on_join.or(current.map(|c| c.rebalance_on_join)).unwrap_or(false),
        })
    }
}

impl ModeIn {
    fn into_proto(self) -> Result<Mode, Unsupported> {
        let given = [
            self.replicated.is_some(),
            self.global.is_some(),
            self.replicated_job.is_some(),
            self.global_job.is_some(),
        ];
        if given.iter().filter(|g| **g).count() > 1 {
            return Err(Unsupported("Mode: expected one of Replicated, Global, ReplicatedJob, GlobalJob".into()));
        }
        Ok(if let Some(r) = self.replicated {
            Mode::Replicated(ReplicatedService { replicas: r.replicas.unwrap_or(1) })
        } else if self.global.is_some() {
            Mode::Global(GlobalService {})
        } else if let Some(j) = self.replicated_job {
            // Docker's defaults: one at a time, as many as run at once.
            let max_concurrent = j.max_concurrent.unwrap_or(1);
            Mode::ReplicatedJob(ReplicatedJob {
                max_concurrent,
                total_completions: j.total_completions.unwrap_or(max_concurrent),
            })
        } else if self.global_job.is_some() {
            Mode::GlobalJob(GlobalJob {})
        } else {
            Mode::Replicated(ReplicatedService { replicas: 1 })
        })
    }
}

/// An enum by its Docker name; `default` when the name is left empty.
fn named<T>(name: &str, default: T, from_name: fn(&str) -> Option<T>) -> Option<T> {
    if name.is_empty() { Some(default) } else { from_name(name) }
}

impl UpdateConfigIn {
    fn into_proto(self, field: &str) -> Result<UpdateConfig, Unsupported> {
        let failure_action =
            named(&self.failure_action, FailureAction::Pause, FailureAction::from_name).ok_or_else(|| {
                Unsupported(format!(
                    "{field}.FailureAction: expected pause, continue or rollback, got {:?}",
                    self.failure_action
                ))
            })?;
        let order = named(&self.order, UpdateOrder::StopFirst, UpdateOrder::from_name).ok_or_else(|| {
            Unsupported(format!("{field}.Order: expected stop-first or start-first, got {:?}", self.order))
        })?;
        Ok(UpdateConfig {
            parallelism: self.parallelism,
            delay_ns: self.delay,
            failure_action: failure_action as i32,
            monitor_ns: self.monitor,
            max_failure_ratio: self.max_failure_ratio,
            order: order as i32,
        })
    }
}

impl EndpointSpecIn {
    fn into_proto(self) -> Result<EndpointSpec, Unsupported> {
        let mode = named(&self.mode, EndpointMode::Vip, EndpointMode::from_name)
            .ok_or_else(|| Unsupported(format!("EndpointSpec.Mode: expected vip or dnsrr, got {:?}", self.mode)))?;
        let ports = self.ports.into_iter().map(PortIn::into_proto).collect::<Result<_, _>>()?;
        Ok(EndpointSpec { mode: mode as i32, ports })
    }
}

impl PortIn {
    fn into_proto(self) -> Result<PortConfig, Unsupported> {
        refuse_if(!self.name.is_empty(), "EndpointSpec.Ports.Name")?;
        let protocol = named(&self.protocol, PortProtocol::Tcp, PortProtocol::from_name).ok_or_else(|| {
            Unsupported(format!("EndpointSpec.Ports.Protocol: expected tcp or udp, got {:?}", self.protocol))
        })?;
        let publish_mode =
            named(&self.publish_mode, PublishMode::Ingress, PublishMode::from_name).ok_or_else(|| {
                Unsupported(format!(
                    "EndpointSpec.Ports.PublishMode: expected ingress or host, got {:?}",
                    self.publish_mode
                ))
            })?;
        Ok(PortConfig {
            protocol: protocol as i32,
            target_port: self.target_port,
            published_port: self.published_port,
            publish_mode: publish_mode as i32,
        })
    }
}

impl DependencyIn {
    fn into_proto(self) -> Result<Dependency, Unsupported> {
        let condition = [DependencyCondition::Started, DependencyCondition::Healthy, DependencyCondition::Completed]
            .into_iter()
            .find(|c| c.compose_name() == self.condition || (self.condition.is_empty() && *c == DependencyCondition::Started))
            .ok_or_else(|| Unsupported(format!("DependsOn.Condition: expected service_started, service_healthy or service_completed_successfully, got {:?}", self.condition)))?;
        Ok(Dependency { service: self.service, condition: condition as i32 })
    }
}

impl ScheduleIn {
    fn into_proto(self) -> Result<JobSchedule, Unsupported> {
        let overlap = if self.overlap.is_empty() {
            ScheduleOverlap::Forbid
        } else {
            ScheduleOverlap::from_name(&self.overlap).ok_or_else(|| {
                Unsupported(format!("Schedule.Overlap: expected forbid, allow or replace, got {:?}", self.overlap))
            })?
        };
        let time_zone = if self.time_zone == "UTC" { String::new() } else { self.time_zone };
        Ok(JobSchedule { cron: self.cron, time_zone, overlap: overlap as i32 })
    }
}
