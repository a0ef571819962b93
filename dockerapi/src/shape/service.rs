//! Services and their specs in Docker's shape.

use serde_json::{Map, Value, json};
use shoal_proto::{
    ContainerSpec, Dependency, EndpointSpec, JobSchedule, Mount, PortConfig, RestartCondition, Service, ServiceSpec,
    TaskSpec, UpdateConfig, service_spec::Mode,
};

use super::{Obj, labels, meta, rfc3339};

pub fn service(s: &Service) -> Value {
    let mut obj = meta(Obj::new(), &s.id, s.meta.as_ref()).always("Spec", spec(s.spec.as_ref()));
    if let Some(previous) = &s.previous_spec {
        obj = obj.always("PreviousSpec", spec(Some(previous)));
    }
    let endpoint = s.endpoint.clone().unwrap_or_default();
    let vips: Vec<Value> =
        endpoint.virtual_ips.iter().map(|v| json!({ "NetworkID": v.network_id, "Addr": v.addr })).collect();
    obj = obj.always(
        "Endpoint",
        Obj::new()
            .always("Spec", endpoint_spec(s.spec.as_ref().and_then(|s| s.endpoint.as_ref())))
            .put("Ports", endpoint.ports.iter().map(port).collect::<Vec<_>>())
            .put("VirtualIPs", vips)
            .done(),
    );
    if let Some(u) = &s.update_status {
        obj = obj.always(
            "UpdateStatus",
            Obj::new()
                .put("State", u.state().name())
                .put("StartedAt", (u.started_at > 0).then(|| rfc3339(u.started_at)))
                .put("CompletedAt", (u.completed_at > 0).then(|| rfc3339(u.completed_at)))
                .put("Message", u.message.clone())
                .done(),
        );
    }
    // Docker's shape: the run the job is on, and when it started.
    if let Some(j) = s.job_status.as_ref().filter(|j| j.iteration > 0) {
        let status = json!({ "JobIteration": { "Index": j.iteration }, "LastExecution": rfc3339(j.last_execution) });
        obj = obj.always("JobStatus", status);
    }
    obj.done()
}

pub fn spec(spec: Option<&ServiceSpec>) -> Value {
    let spec = spec.cloned().unwrap_or_default();
    let annotations = spec.annotations.unwrap_or_default();
    let mode = match spec.mode {
        Some(Mode::Global(_)) => json!({ "Global": {} }),
        Some(Mode::Replicated(r)) => json!({ "Replicated": { "Replicas": r.replicas } }),
        Some(Mode::ReplicatedJob(j)) => {
            json!({ "ReplicatedJob": { "MaxConcurrent": j.max_concurrent, "TotalCompletions": j.total_completions } })
        }
        Some(Mode::GlobalJob(_)) => json!({ "GlobalJob": {} }),
        None => json!({ "Replicated": { "Replicas": 1 } }),
    };
    Obj::new()
        .always("Name", annotations.name)
        .always("Labels", labels(&annotations.labels))
        .always("TaskTemplate", task_spec(spec.task.as_ref()))
        .always("Mode", mode)
        .put("UpdateConfig", spec.update.as_ref().map(update_config))
        .put("RollbackConfig", spec.rollback.as_ref().map(update_config))
        .always("EndpointSpec", endpoint_spec(spec.endpoint.as_ref()))
        .put("DependsOn", spec.depends_on.iter().map(dependency).collect::<Vec<_>>())
        .put("Schedule", spec.schedule.as_ref().map(schedule))
        .put("RebalanceOnJoin", spec.rebalance_on_join)
        .done()
}

/// Shoal's own field (Docker's jobs run once):
/// `{"Cron": "@every 5m", "TimeZone": "UTC", "Overlap": "forbid"}`.
fn schedule(s: &JobSchedule) -> Value {
    json!({ "Cron": s.cron, "TimeZone": s.zone_name(), "Overlap": s.overlap().name() })
}

/// Shoal's own field (Docker has no `depends_on` in a service):
/// `{"Service": "app_db", "Condition": "service_healthy"}`.
fn dependency(d: &Dependency) -> Value {
    json!({ "Service": d.service, "Condition": d.condition().compose_name() })
}

fn endpoint_spec(e: Option<&EndpointSpec>) -> Value {
    let e = e.cloned().unwrap_or_default();
    let mode = e.mode().name();
    Obj::new().always("Mode", mode).put("Ports", e.ports.iter().map(port).collect::<Vec<_>>()).done()
}

fn port(p: &PortConfig) -> Value {
    let (protocol, mode) = (p.protocol().name(), p.publish_mode().name());
    Obj::new()
        .always("Protocol", protocol)
        .always("TargetPort", p.target_port)
        .put("PublishedPort", (p.published_port > 0).then_some(p.published_port))
        .always("PublishMode", mode)
        .done()
}

pub fn task_spec(task: Option<&TaskSpec>) -> Value {
    let task = task.cloned().unwrap_or_default();
    let restart = task.restart.unwrap_or_default();
    let condition = RestartCondition::try_from(restart.condition).unwrap_or_default();
    let placement = task.placement.unwrap_or_default();
    let c = task.container.unwrap_or_default();
    Obj::new()
        .always("ContainerSpec", container(&c))
        .always("Resources", resources(task.resources.unwrap_or_default(), c.pids_limit))
        .always(
            "RestartPolicy",
            Obj::new()
                .always("Condition", condition.name())
                .always("Delay", restart.delay_ns.unwrap_or(0))
                .always("MaxAttempts", restart.max_attempts)
                .put("Window", (restart.window_ns > 0).then_some(restart.window_ns))
                .done(),
        )
        .always("Placement", placement_json(placement))
        .put(
            "Networks",
            task.networks
                .iter()
                .map(|n| Obj::new().always("Target", n.target.clone()).put("Aliases", n.aliases.clone()).done())
                .collect::<Vec<_>>(),
        )
        .put("LogDriver", task.log_driver.map(|d| json!({ "Name": d.name, "Options": labels(&d.options) })))
        .always("ForceUpdate", task.force_update)
        .always("Runtime", task.runtime)
        .done()
}

/// A secret or config reference in Docker's shape: `File` (the target
/// as given, owner and mode as strings and a number), `SecretID` and
/// `SecretName` (`ConfigID`, `ConfigName`).
fn file_reference(r: &shoal_proto::FileReference, kind: &str) -> Value {
    let target = if r.target.is_empty() { &r.name } else { &r.target };
    let file = json!({
        "Name": target,
        "UID": r.uid.to_string(),
        "GID": r.gid.to_string(),
        "Mode": r.mode.unwrap_or(shoal_spec::files::DEFAULT_MODE),
    });
    json!({ "File": file, format!("{kind}ID"): r.id, format!("{kind}Name"): r.name })
}

/// Docker's shape: the pids limit (kept in the container spec, as
/// swarmkit does) shows among the limits.
fn resources(r: shoal_proto::ResourceRequirements, pids_limit: i64) -> Value {
    let size = |r: Option<shoal_proto::Resources>, pids: i64| {
        let r = r.unwrap_or_default();
        Obj::new()
            .put("NanoCPUs", (r.nano_cpus > 0).then_some(r.nano_cpus))
            .put("MemoryBytes", (r.memory_bytes > 0).then_some(r.memory_bytes))
            .put("Pids", (pids > 0).then_some(pids))
            .done()
    };
    json!({ "Limits": size(r.limits, pids_limit), "Reservations": size(r.reservations, 0) })
}

fn placement_json(p: shoal_proto::Placement) -> Value {
    let preferences: Vec<Value> =
        p.preferences.iter().map(|p| json!({ "Spread": { "SpreadDescriptor": p.spread_descriptor } })).collect();
    let platforms: Vec<Value> =
        p.platforms.iter().map(|p| json!({ "Architecture": p.architecture, "OS": p.os })).collect();
    Obj::new()
        .put("Constraints", p.constraints)
        .put("Preferences", preferences)
        .put("MaxReplicas", (p.max_replicas > 0).then_some(p.max_replicas))
        .put("Platforms", platforms)
        .done()
}

fn container(c: &ContainerSpec) -> Value {
    Obj::new()
        .always("Image", c.image.clone())
        .put("Labels", if c.labels.is_empty() { Value::Null } else { labels(&c.labels) })
        .put("Command", c.command.clone())
        .put("Args", c.args.clone())
        .put("Hostname", c.hostname.clone())
        .put("Env", c.env.clone())
        .put("Dir", c.dir.clone())
        .put("User", c.user.clone())
        .put("StopSignal", c.stop_signal.clone())
        .put("StopGracePeriod", c.stop_grace_period_ns)
        .given("Init", c.init)
        .put("ReadOnly", c.read_only.then_some(true))
        .put("TTY", c.tty.then_some(true))
        .put("OpenStdin", c.open_stdin.then_some(true))
        .put("CapabilityAdd", c.capability_add.clone())
        .put("CapabilityDrop", c.capability_drop.clone())
        .put(
            "Ulimits",
            c.ulimits.iter().map(|u| json!({ "Name": u.name, "Soft": u.soft, "Hard": u.hard })).collect::<Vec<Value>>(),
        )
        .put(
            "Sysctls",
            c.sysctls.iter().map(|(k, v)| (k.clone(), Value::from(v.clone()))).collect::<Map<String, Value>>(),
        )
        .put("Hosts", c.hosts.clone())
        .put(
            "DNSConfig",
            c.dns_config.as_ref().map(|d| {
                Obj::new()
                    .put("Nameservers", d.nameservers.clone())
                    .put("Search", d.search.clone())
                    .put("Options", d.options.clone())
                    .done()
            }),
        )
        .put("Mounts", c.mounts.iter().map(mount).collect::<Vec<Value>>())
        .put("Secrets", c.secrets.iter().map(|r| file_reference(r, "Secret")).collect::<Vec<Value>>())
        .put("Configs", c.configs.iter().map(|r| file_reference(r, "Config")).collect::<Vec<Value>>())
        .put(
            "Healthcheck",
            c.healthcheck.as_ref().map(|h| {
                Obj::new()
                    .always("Test", h.test.clone())
                    .put("Interval", (h.interval_ns > 0).then_some(h.interval_ns))
                    .put("Timeout", (h.timeout_ns > 0).then_some(h.timeout_ns))
                    .put("StartPeriod", (h.start_period_ns > 0).then_some(h.start_period_ns))
                    .put("StartInterval", (h.start_interval_ns > 0).then_some(h.start_interval_ns))
                    .put("Retries", (h.retries > 0).then_some(h.retries))
                    .done()
            }),
        )
        .done()
}

fn mount(m: &Mount) -> Value {
    let volume = m.volume_options.as_ref().map(|v| {
        let driver = (!v.driver.is_empty() || !v.driver_options.is_empty())
            .then(|| Obj::new().put("Name", v.driver.clone()).put("Options", labels(&v.driver_options)).done());
        Obj::new()
            .put("NoCopy", v.no_copy)
            .put("Labels", if v.labels.is_empty() { Value::Null } else { labels(&v.labels) })
            .put("DriverConfig", driver)
            .done()
    });
    let tmpfs = m.tmpfs_options.as_ref().map(|t| {
        Obj::new()
            .put("SizeBytes", (t.size_bytes > 0).then_some(t.size_bytes))
            .put("Mode", (t.mode > 0).then_some(t.mode))
            .done()
    });
    let bind = m.bind_options.as_ref().map(|b| Obj::new().put("Propagation", b.propagation.clone()).done());
    Obj::new()
        .always("Type", m.r#type().name())
        .put("Source", m.source.clone())
        .always("Target", m.target.clone())
        .put("ReadOnly", m.read_only)
        .put("BindOptions", bind)
        .put("VolumeOptions", volume)
        .put("TmpfsOptions", tmpfs)
        .done()
}

fn update_config(u: &UpdateConfig) -> Value {
    Obj::new()
        .always("Parallelism", u.parallelism)
        .put("Delay", (u.delay_ns > 0).then_some(u.delay_ns))
        .always("FailureAction", u.failure_action().name())
        .always("Monitor", u.monitor_ns)
        .always("MaxFailureRatio", u.max_failure_ratio)
        .always("Order", u.order().name())
        .done()
}
