//! Docker's `TaskSpec` (`TaskTemplate`): resources, restart policy,
//! placement, networks, log driver, runtime.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::Value;
use shoal_proto::{
    LogDriver, NetworkAttachmentConfig, Placement, PlacementPreference, Platform, ResourceRequirements, Resources,
    RestartCondition, RestartPolicy, TaskSpec,
};

use super::container::ContainerSpecIn;
use super::{Unsupported, refuse_if};

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", deny_unknown_fields, default)]
pub(super) struct TaskSpecIn {
    container_spec: Option<ContainerSpecIn>,
    plugin_spec: Option<Value>,
    network_attachment_spec: Option<Value>,
    resources: Option<ResourceRequirementsIn>,
    restart_policy: Option<RestartPolicyIn>,
    placement: Option<PlacementIn>,
    networks: Option<Vec<NetworkIn>>,
    log_driver: Option<LogDriverIn>,
    force_update: u64,
    runtime: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", deny_unknown_fields, default)]
struct ResourceRequirementsIn {
    limits: Option<LimitIn>,
    reservations: Option<ReservationIn>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", deny_unknown_fields, default)]
struct LimitIn {
    #[serde(rename = "NanoCPUs")]
    nano_cpus: i64,
    memory_bytes: i64,
    pids: i64,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", deny_unknown_fields, default)]
struct ReservationIn {
    #[serde(rename = "NanoCPUs")]
    nano_cpus: i64,
    memory_bytes: i64,
    generic_resources: Option<Vec<Value>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", deny_unknown_fields, default)]
struct RestartPolicyIn {
    condition: String,
    delay: Option<i64>,
    max_attempts: Option<u64>,
    window: Option<i64>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", deny_unknown_fields, default)]
struct PlacementIn {
    constraints: Option<Vec<String>>,
    preferences: Option<Vec<PreferenceIn>>,
    max_replicas: u64,
    platforms: Option<Vec<PlatformIn>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", deny_unknown_fields, default)]
struct PreferenceIn {
    spread: Option<SpreadIn>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", deny_unknown_fields, default)]
struct SpreadIn {
    spread_descriptor: String,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct PlatformIn {
    #[serde(rename = "Architecture")]
    architecture: String,
    #[serde(rename = "OS")]
    os: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", deny_unknown_fields, default)]
pub(super) struct NetworkIn {
    target: String,
    aliases: Option<Vec<String>>,
    driver_opts: Option<HashMap<String, String>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", deny_unknown_fields, default)]
struct LogDriverIn {
    name: String,
    options: Option<HashMap<String, String>>,
}

impl TaskSpecIn {
    pub(super) fn into_proto(self, warnings: &mut Vec<String>) -> Result<TaskSpec, Unsupported> {
        refuse_if(self.plugin_spec.is_some(), "TaskTemplate.PluginSpec")?;
        refuse_if(self.network_attachment_spec.is_some(), "TaskTemplate.NetworkAttachmentSpec")?;
        // Docker's runtime is the kind of task ("container", the default);
        // shoal's names its runtimes, and "" is the cluster's default.
        let runtime = match self.runtime.as_str() {
            "container" => String::new(),
            "plugin" | "attachment" => {
                return Err(Unsupported(format!("TaskTemplate.Runtime: {:?} is not supported by shoal", self.runtime)));
            }
            _ => self.runtime,
        };
        let container = self.container_spec.unwrap_or_default();
        let pids = self.resources.as_ref().and_then(|r| r.limits.as_ref()).map_or(0, |l| l.pids);
        let mut container = container.into_proto()?;
        container.pids_limit = pids;
        Ok(TaskSpec {
            container: Some(container),
            restart: self.restart_policy.map(RestartPolicyIn::into_proto).transpose()?,
            placement: self.placement.map(PlacementIn::into_proto).transpose()?,
            resources: self.resources.map(ResourceRequirementsIn::into_proto).transpose()?,
            runtime,
            force_update: self.force_update,
            networks: self
                .networks
                .unwrap_or_default()
                .into_iter()
                .map(|n| n.into_proto("TaskTemplate.Networks", warnings))
                .collect(),
            log_driver: self.log_driver.map(|d| LogDriver { name: d.name, options: d.options.unwrap_or_default() }),
        })
    }
}

impl ResourceRequirementsIn {
    fn into_proto(self) -> Result<ResourceRequirements, Unsupported> {
        let reservations = self.reservations.unwrap_or_default();
        refuse_if(
            reservations.generic_resources.as_ref().is_some_and(|g| !g.is_empty()),
            "TaskTemplate.Resources.Reservations.GenericResources",
        )?;
        let limits = self.limits.unwrap_or_default();
        let some = |nano_cpus: i64, memory_bytes: i64| {
            (nano_cpus != 0 || memory_bytes != 0).then_some(Resources { nano_cpus, memory_bytes })
        };
        Ok(ResourceRequirements {
            limits: some(limits.nano_cpus, limits.memory_bytes),
            reservations: some(reservations.nano_cpus, reservations.memory_bytes),
        })
    }
}

impl RestartPolicyIn {
    fn into_proto(self) -> Result<RestartPolicy, Unsupported> {
        let condition = if self.condition.is_empty() {
            RestartCondition::Any
        } else {
            RestartCondition::from_name(&self.condition).ok_or_else(|| {
                Unsupported(format!(
                    "TaskTemplate.RestartPolicy.Condition: expected none, on-failure or any, got {:?}",
                    self.condition
                ))
            })?
        };
        Ok(RestartPolicy {
            condition: condition as i32,
            delay_ns: self.delay,
            max_attempts: self.max_attempts.unwrap_or(0),
            window_ns: self.window.unwrap_or(0),
        })
    }
}

impl PlacementIn {
    fn into_proto(self) -> Result<Placement, Unsupported> {
        let preferences = self
            .preferences
            .unwrap_or_default()
            .into_iter()
            .map(|p| {
                p.spread.map(|s| PlacementPreference { spread_descriptor: s.spread_descriptor }).ok_or_else(|| {
                    Unsupported("TaskTemplate.Placement.Preferences: expected {\"Spread\": {...}}".into())
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Placement {
            constraints: self.constraints.unwrap_or_default(),
            preferences,
            max_replicas: self.max_replicas,
            platforms: self
                .platforms
                .unwrap_or_default()
                .into_iter()
                .map(|p| Platform { os: p.os, architecture: p.architecture })
                .collect(),
        })
    }
}

impl NetworkIn {
    /// The attachment; per-attachment `DriverOpts` are ignored with a
    /// warning (as `shoal stack deploy` ignores them).
    pub(super) fn into_proto(self, field: &str, warnings: &mut Vec<String>) -> NetworkAttachmentConfig {
        if self.driver_opts.as_ref().is_some_and(|d| !d.is_empty()) {
            warnings.push(format!("{field}.DriverOpts of {}: not supported by shoal, ignored", self.target));
        }
        NetworkAttachmentConfig { target: self.target, aliases: self.aliases.unwrap_or_default() }
    }
}
