//! A typed compose service as a shoal service spec, for `stack deploy`.
//! On the process runtime `image` is the program and `command` its
//! arguments (an `entrypoint` names the program and its first
//! arguments instead). The service is named `STACK_NAME` and labelled
//! `com.docker.stack.namespace=STACK`, as Docker does; named volumes are
//! the stack's [`super::volumes`]; bind sources come absolute from
//! [`super::resolve`].

use std::collections::HashMap;

use serde_json::Value;
use shoal_proto::{
    Annotations, BindOptions, ContainerSpec, Dependency, DependencyCondition, DnsConfig, EndpointMode, EndpointSpec,
    FailureAction, GlobalJob, GlobalService, HealthConfig, LogDriver, Mount, MountType, Placement, PlacementPreference,
    PortConfig, PortProtocol, PublishMode, ReplicatedJob, ReplicatedService, ResourceRequirements, Resources,
    RestartCondition, RestartPolicy, ServiceSpec, TaskSpec, TmpfsOptions, Ulimit, UpdateConfig, UpdateOrder,
    VolumeOptions, service_spec::Mode,
};
use shoal_spec::{engine_opts, update};

use super::declared::Declared;
use super::model::{self, Compose, Condition, DeployMode, Service, VolumeType};
use super::networks::StackNetwork;

/// The label Docker puts on everything of a stack.
pub const NAMESPACE_LABEL: &str = "com.docker.stack.namespace";
/// The label Docker puts on a stack's service: its image as written.
pub const IMAGE_LABEL: &str = "com.docker.stack.image";

/// A converted service, and what of it could not be honoured.
#[derive(Debug)]
pub struct Converted {
    pub spec: ServiceSpec,
    pub warnings: Vec<String>,
}

/// Converts service `name` of stack `stack` (declared in `compose`, as
/// [`super::resolve`] settled it); `networks` are the stack's networks
/// (attachments name them; the daemon resolves the names).
pub fn service(stack: &str, name: &str, compose: &Compose, networks: &[StackNetwork]) -> Result<Converted, String> {
    let svc = &compose.services[name];
    let mut warnings = Vec::new();
    let deploy = svc.deploy.clone().unwrap_or_default();
    let namespace = || (NAMESPACE_LABEL.to_string(), stack.to_string());
    let mut service_labels: HashMap<String, String> = deploy.labels.clone().into_iter().collect();
    service_labels.extend([namespace(), (IMAGE_LABEL.to_string(), svc.image.clone().unwrap_or_default())]);
    let mut container_labels: HashMap<String, String> = svc.labels.clone().into_iter().collect();
    container_labels.extend([namespace()]);

    // As Docker maps them: entrypoint -> Command, command -> Args (the
    // process runtime runs Command[0] when given, else the image).
    let entrypoint = svc.entrypoint.clone().unwrap_or_default();
    if svc.image.is_none() && entrypoint.is_empty() {
        return Err(format!("services.{name}.image: required (the program to run)"));
    }
    let (program, args) = (svc.image.clone().unwrap_or_default(), svc.command.clone().unwrap_or_default());
    let other = |key: &str| svc.other.get(key).and_then(|v| v.as_bool());
    // The env files are in `environment` already; a variable without a
    // value stays a bare name, as docker passes it.
    let env_entries = svc.environment.iter().map(|(k, v)| match v {
        Some(value) => format!("{k}={value}"),
        None => k.clone(),
    });
    let mut container = ContainerSpec {
        image: program,
        args,
        env: env_entries.collect(),
        dir: svc.working_dir.clone().unwrap_or_default(),
        user: svc.user.clone().unwrap_or_default(),
        labels: container_labels,
        stop_signal: svc.stop_signal.clone().unwrap_or_default(),
        stop_grace_period_ns: svc.stop_grace_period.map(|d| d.0),
        hostname: svc.hostname.clone().unwrap_or_default(),
        healthcheck: svc.healthcheck.as_ref().map(|h| healthcheck(name, h)).transpose()?,
        mounts: {
            let mut mounts: Vec<Mount> =
                svc.volumes.iter().map(|v| mount(stack, name, v, compose)).collect::<Result<_, _>>()?;
            mounts.extend(service_tmpfs(name, svc.other.get("tmpfs"))?);
            mounts
        },
        pids_limit: deploy.resources.as_ref().and_then(|r| r.limits.as_ref()).and_then(|l| l.pids).unwrap_or(0),
        command: entrypoint,
        init: other("init"),
        read_only: other("read_only").unwrap_or(false),
        pull_options: None,
        secrets: Vec::new(),
        configs: Vec::new(),
        ulimits: ulimits(name, svc.other.get("ulimits"))?,
        tty: other("tty").unwrap_or(false),
        open_stdin: other("stdin_open").unwrap_or(false),
        hosts: words(name, "extra_hosts", svc.other.get("extra_hosts"))?
            .iter()
            .map(|h| engine_opts::host(h).map_err(|e| format!("services.{name}.extra_hosts: {e}")))
            .collect::<Result<_, _>>()?,
        dns_config: dns_config(name, svc)?,
        sysctls: sysctls(name, svc.other.get("sysctls"))?,
        ..Default::default()
    };
    (container.capability_add, container.capability_drop) = engine_opts::effective_capabilities(
        &words(name, "cap_add", svc.other.get("cap_add"))?,
        &words(name, "cap_drop", svc.other.get("cap_drop"))?,
    );
    let task = TaskSpec {
        container: Some(container),
        restart: Some(restart(name, deploy.restart_policy.as_ref(), svc.other.get("restart"))?),
        placement: Some(placement(deploy.placement.as_ref())),
        resources: Some(resources(deploy.resources.as_ref())),
        // None: the cluster's default, decided when the service is created.
        runtime: match svc.runtime {
            Some(model::Runtime::Docker) => shoal_spec::runtime::DOCKER.into(),
            Some(model::Runtime::Process) => shoal_spec::runtime::PROCESS.into(),
            None => String::new(),
        },
        force_update: 0,
        networks: super::networks::attachments(name, svc, networks, &mut warnings),
        log_driver: logging(name, svc.other.get("logging"))?,
    };
    windows_only(name, svc, &mut warnings)?;
    let deploy_mode = deploy.mode.unwrap_or(DeployMode::Replicated);
    if matches!(deploy_mode, DeployMode::Global | DeployMode::GlobalJob) {
        if deploy.replicas.is_some() {
            return Err(format!(
                "services.{name}.deploy.replicas: replicas can only be used with replicated or replicated-job mode"
            ));
        }
        if deploy.placement.as_ref().is_some_and(|p| p.max_replicas_per_node.is_some()) {
            return Err(format!(
                "services.{name}.deploy.placement.max_replicas_per_node: can only be used with replicated or replicated-job mode"
            ));
        }
    }
    let replicas = deploy.replicas.unwrap_or(1);
    let mode = match deploy_mode {
        DeployMode::Replicated => Mode::Replicated(ReplicatedService { replicas }),
        DeployMode::Global => Mode::Global(GlobalService {}),
        DeployMode::ReplicatedJob => {
            Mode::ReplicatedJob(ReplicatedJob { max_concurrent: 0, total_completions: replicas })
        }
        DeployMode::GlobalJob => Mode::GlobalJob(GlobalJob {}),
    };
    let spec = ServiceSpec {
        annotations: Some(Annotations { name: format!("{stack}_{name}"), labels: service_labels }),
        task: Some(task),
        mode: Some(mode),
        update: Some(rollout(deploy.update_config.as_ref())),
        rollback: Some(rollout(deploy.rollback_config.as_ref())),
        endpoint: endpoint(name, svc, deploy.endpoint_mode)?,
        depends_on: dependencies(stack, svc),
        schedule: schedule(name, svc.schedule.as_ref(), deploy_mode)?,
        rebalance_on_join: svc.rebalance_on_join,
    };
    Ok(Converted { spec, warnings })
}

/// `x-shoal-schedule`, for jobs only, checked as `--schedule` is.
fn schedule(
    name: &str,
    schedule: Option<&model::JobSchedule>,
    mode: DeployMode,
) -> Result<Option<shoal_proto::JobSchedule>, String> {
    let Some(schedule) = schedule else { return Ok(None) };
    let at = format!("services.{name}.x-shoal-schedule");
    if !matches!(mode, DeployMode::ReplicatedJob | DeployMode::GlobalJob) {
        return Err(format!("{at}: only a job (deploy.mode replicated-job or global-job) runs on a schedule"));
    }
    let mut spec = shoal_proto::JobSchedule {
        cron: schedule.cron.clone(),
        time_zone: schedule.timezone.clone().unwrap_or_default(),
        ..Default::default()
    };
    spec.set_overlap(match schedule.overlap {
        None | Some(model::Overlap::Forbid) => shoal_proto::ScheduleOverlap::Forbid,
        Some(model::Overlap::Allow) => shoal_proto::ScheduleOverlap::Allow,
        Some(model::Overlap::Replace) => shoal_proto::ScheduleOverlap::Replace,
    });
    shoal_spec::schedule::Schedule::parse(&spec).map_err(|e| format!("{at}: {e}"))?;
    Ok(Some(spec))
}

/// `credential_spec` and `isolation`, which mean something on Windows
/// nodes only: a credential spec is ignored on Linux, as Docker's Linux
/// engine ignores it (said in a warning); an isolation other than
/// `default` is refused, as the engine would refuse every task of it.
fn windows_only(name: &str, svc: &Service, warnings: &mut Vec<String>) -> Result<(), String> {
    if svc.other.contains_key("credential_spec") {
        warnings.push(format!("services.{name}.credential_spec: for Windows nodes only, ignored on Linux"));
    }
    match svc.other.get("isolation").and_then(Value::as_str) {
        None | Some("default") => Ok(()),
        Some(other) => Err(format!(
            "services.{name}.isolation: Linux nodes support only \"default\" (\"{other}\" is for Windows nodes)"
        )),
    }
}

/// `dns` and `dns_search` (each one value or a list), as Docker's
/// DNSConfig; none when neither is given.
fn dns_config(name: &str, svc: &Service) -> Result<Option<DnsConfig>, String> {
    let (servers, search) = (svc.other.get("dns"), svc.other.get("dns_search"));
    if servers.is_none() && search.is_none() {
        return Ok(None);
    }
    let nameservers = words(name, "dns", servers)?
        .iter()
        .map(|s| engine_opts::nameserver(s).map_err(|e| format!("services.{name}.dns: {e}")))
        .collect::<Result<_, _>>()?;
    Ok(Some(DnsConfig { nameservers, search: words(name, "dns_search", search)?, options: Vec::new() }))
}

/// `sysctls`, a mapping of text as [`super::resolve`] leaves it.
fn sysctls(name: &str, value: Option<&Value>) -> Result<HashMap<String, String>, String> {
    match value {
        None | Some(Value::Null) => Ok(HashMap::new()),
        Some(Value::Object(map)) => map
            .iter()
            .map(|(k, v)| match v.as_str() {
                Some(text) => Ok((k.clone(), text.to_string())),
                None => Err(format!("services.{name}.sysctls.{k}: expected text, got {v}")),
            })
            .collect(),
        Some(other) => Err(format!("services.{name}.sysctls: expected a mapping, got {other}")),
    }
}

/// A list of text (`cap_add`, `cap_drop`, `extra_hosts`, and `dns`,
/// `dns_search`, `tmpfs`, which [`super::resolve`] makes lists).
fn words(name: &str, key: &str, value: Option<&Value>) -> Result<Vec<String>, String> {
    match value {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| {
                i.as_str().map(String::from).ok_or_else(|| format!("services.{name}.{key}: expected text, got {i}"))
            })
            .collect(),
        Some(other) => Err(format!("services.{name}.{key}: expected a list, got {other}")),
    }
}

/// `ulimits: { nofile: { soft: N, hard: N }, nproc: N }` (a number is
/// both limits), in name order.
fn ulimits(name: &str, value: Option<&Value>) -> Result<Vec<Ulimit>, String> {
    let Some(map) = value.and_then(Value::as_object) else { return Ok(Vec::new()) };
    let at = |limit: &str| format!("services.{name}.ulimits.{limit}");
    let mut limits = map
        .iter()
        .map(|(limit, v)| {
            let number = |v: Option<&Value>, which: &str| {
                v.and_then(Value::as_i64).ok_or_else(|| format!("{}: expected a number for {which}", at(limit)))
            };
            let (soft, hard) = match v {
                Value::Number(_) => {
                    let both = number(Some(v), "the limit")?;
                    (both, both)
                }
                _ => (number(v.get("soft"), "soft")?, number(v.get("hard"), "hard")?),
            };
            if soft > hard {
                return Err(format!("{}: soft {soft} is above hard {hard}", at(limit)));
            }
            Ok(Ulimit { name: limit.clone(), soft, hard })
        })
        .collect::<Result<Vec<_>, String>>()?;
    limits.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(limits)
}

/// `logging: { driver, options }` as the task's log driver, checked as
/// `--log-driver`/`--log-opt` are.
fn logging(name: &str, logging: Option<&Value>) -> Result<Option<LogDriver>, String> {
    let Some(logging) = logging.filter(|l| !l.is_null()) else { return Ok(None) };
    let d = Declared::new(&format!("services.{name}"), "logging", logging);
    let driver = LogDriver { name: d.text("driver")?.unwrap_or_default(), options: d.map("options")? };
    shoal_proto::logging::LogLimits::of(Some(&driver)).map_err(|e| format!("services.{name}.logging: {e}"))?;
    Ok(Some(driver))
}

/// The service's `tmpfs: [PATH[:size=BYTES,mode=OCTAL]]` as tmpfs mounts
/// (docker's converter drops them; a swarm's tmpfs mounts can hold them).
fn service_tmpfs(name: &str, tmpfs: Option<&Value>) -> Result<Vec<Mount>, String> {
    words(name, "tmpfs", tmpfs)?
        .iter()
        .map(|item| {
            let at = format!("services.{name}.tmpfs: {item}");
            let (target, options) = item.split_once(':').unwrap_or((item, ""));
            let mut fields = serde_json::Map::new();
            for option in options.split(',').filter(|o| !o.is_empty()) {
                match option.split_once('=') {
                    Some(("size", v)) => fields.insert("size".into(), Value::String(v.into())),
                    Some(("mode", v)) => fields.insert("mode".into(), Value::String(v.into())),
                    _ => return Err(format!("{at}: unknown option {option:?} (size=BYTES, mode=OCTAL)")),
                };
            }
            let tmpfs_options = if fields.is_empty() { None } else { Some(self::tmpfs(&Value::Object(fields), &at)?) };
            Ok(Mount {
                r#type: MountType::Tmpfs as i32,
                target: target.to_string(),
                tmpfs_options,
                ..Default::default()
            })
        })
        .collect()
}

/// `depends_on`, each service named as the stack names it.
fn dependencies(stack: &str, svc: &Service) -> Vec<Dependency> {
    let condition = |c: Condition| match c {
        Condition::Started => DependencyCondition::Started,
        Condition::Healthy => DependencyCondition::Healthy,
        Condition::CompletedSuccessfully => DependencyCondition::Completed,
    };
    svc.depends_on
        .iter()
        .map(|(name, d)| Dependency { service: format!("{stack}_{name}"), condition: condition(d.condition) as i32 })
        .collect()
}

/// `ports` and `deploy.endpoint_mode`.
fn endpoint(name: &str, svc: &Service, mode: Option<model::EndpointMode>) -> Result<Option<EndpointSpec>, String> {
    let mut ports = Vec::with_capacity(svc.ports.len());
    for p in &svc.ports {
        let protocol = match p.protocol {
            model::Protocol::Tcp => PortProtocol::Tcp,
            model::Protocol::Udp => PortProtocol::Udp,
            model::Protocol::Sctp => {
                return Err(format!(
                    "services.{name}.ports: {}: protocol sctp is not supported (tcp or udp)",
                    p.target
                ));
            }
        };
        ports.push(PortConfig {
            protocol: protocol as i32,
            target_port: p.target.into(),
            published_port: p.published.map_or(0, u32::from),
            publish_mode: match p.mode {
                model::PortMode::Ingress => PublishMode::Ingress,
                model::PortMode::Host => PublishMode::Host,
            } as i32,
        });
    }
    if ports.is_empty() && mode.is_none() {
        return Ok(None);
    }
    let mode = match mode {
        Some(model::EndpointMode::Dnsrr) => EndpointMode::Dnsrr,
        Some(model::EndpointMode::Vip) | None => EndpointMode::Vip,
    };
    Ok(Some(EndpointSpec { mode: mode as i32, ports }))
}

fn healthcheck(name: &str, h: &model::Healthcheck) -> Result<HealthConfig, String> {
    if h.disable && h.test.as_ref().is_some_and(|t| !t.is_empty()) {
        return Err(format!("services.{name}.healthcheck: test and disable can't be set at the same time"));
    }
    let ns = |d: Option<model::Duration>| d.map_or(0, |d| d.0);
    Ok(HealthConfig {
        test: if h.disable { vec!["NONE".into()] } else { h.test.clone().unwrap_or_default() },
        interval_ns: ns(h.interval),
        timeout_ns: ns(h.timeout),
        retries: h.retries.unwrap_or(0),
        start_period_ns: ns(h.start_period),
        start_interval_ns: ns(h.start_interval),
    })
}

fn mount(stack: &str, name: &str, v: &model::Volume, compose: &Compose) -> Result<Mount, String> {
    let at = || format!("services.{name}.volumes: {}", v.target);
    // Docker's rule: the options of one kind of mount never ride on another.
    for (options, kind) in [(&v.volume, VolumeType::Volume), (&v.tmpfs, VolumeType::Tmpfs), (&v.bind, VolumeType::Bind)]
    {
        if options.is_some() && v.kind != kind {
            let (kind, ty) = (format!("{kind:?}").to_lowercase(), format!("{:?}", v.kind).to_lowercase());
            return Err(format!("{}: {kind} options are incompatible with type {ty}", at()));
        }
    }
    let (mut volume_options, mut tmpfs_options, mut bind_options) = (None, None, None);
    let no_copy = v.volume.as_ref().and_then(|o| o.get("nocopy")).and_then(Value::as_bool);
    let (kind, source) = match v.kind {
        // Absolute already (see `resolve`).
        VolumeType::Bind => {
            bind_options = v.bind.as_ref().map(|o| bind(o, &at())).transpose()?;
            (MountType::Bind, v.source.clone().unwrap_or_default())
        }
        VolumeType::Volume => match &v.source {
            Some(volume) => {
                let (source, options) = super::volumes::source(stack, volume, &compose.volumes, no_copy == Some(true))
                    .map_err(|e| format!("{}: {e}", at()))?;
                volume_options = Some(options);
                (MountType::Volume, source)
            }
            // Anonymous: the engine makes one per task (docker runtime).
            None => {
                volume_options = no_copy.map(|no_copy| VolumeOptions { no_copy, ..Default::default() });
                (MountType::Volume, String::new())
            }
        },
        VolumeType::Tmpfs => {
            tmpfs_options = v.tmpfs.as_ref().map(|o| tmpfs(o, &at())).transpose()?;
            (MountType::Tmpfs, String::new())
        }
        other => return Err(format!("{}: {other:?} mounts are not supported", at())),
    };
    let target = v.target.clone();
    Ok(Mount {
        r#type: kind as i32,
        source,
        target,
        read_only: v.read_only,
        volume_options,
        tmpfs_options,
        bind_options,
    })
}

/// `bind: { propagation }` (compose's other bind keys are refused).
fn bind(options: &Value, at: &str) -> Result<BindOptions, String> {
    let fields = options.as_object().ok_or_else(|| format!("{at}: bind: expected a mapping, got {options}"))?;
    let mut bind = BindOptions::default();
    for (key, value) in fields {
        match (key.as_str(), value) {
            ("propagation", Value::String(p)) => {
                bind.propagation =
                    shoal_proto::bind_propagation(p).map_err(|e| format!("{at}: bind.propagation: {e}"))?;
            }
            (key, value) => return Err(format!("{at}: bind.{key}: not supported (got {value})")),
        }
    }
    Ok(bind)
}

/// `tmpfs: { size, mode }`: size in bytes or as `64m`, mode as a number
/// or octal text (`"1770"`).
fn tmpfs(options: &Value, at: &str) -> Result<TmpfsOptions, String> {
    let size_bytes = match options.get("size") {
        None | Some(Value::Null) => 0,
        Some(Value::Number(n)) => {
            n.as_i64().filter(|n| *n >= 0).ok_or_else(|| format!("{at}: tmpfs.size: expected bytes, got {n}"))?
        }
        Some(Value::String(s)) => shoal_proto::parse_size(s).map_err(|e| format!("{at}: tmpfs.size: {e}"))?,
        Some(other) => return Err(format!("{at}: tmpfs.size: expected a size, got {other}")),
    };
    let mode = match options.get("mode") {
        None | Some(Value::Null) => Some(0),
        Some(Value::Number(n)) => n.as_u64().and_then(|m| u32::try_from(m).ok()),
        Some(Value::String(s)) => u32::from_str_radix(s, 8).ok(),
        Some(_) => None,
    };
    let mode = mode
        .filter(|m| *m <= 0o7777)
        .ok_or_else(|| format!("{at}: tmpfs.mode: expected permission bits (a number, or octal text like \"1770\")"))?;
    Ok(TmpfsOptions { size_bytes, mode })
}

/// `deploy.restart_policy`, else compose's `restart:` as docker's
/// converter reads it (`always` and `unless-stopped` restart on any
/// exit, `on-failure[:N]` on failure at most N times), but that `no`
/// means no restart (docker leaves the swarm's default, any).
fn restart(
    name: &str,
    p: Option<&model::RestartPolicy>,
    compose_restart: Option<&Value>,
) -> Result<RestartPolicy, String> {
    let Some(p) = p else {
        let Some(text) = compose_restart.filter(|v| !v.is_null()) else {
            return Ok(restart_policy(&Default::default()));
        };
        let text = text.as_str().ok_or_else(|| format!("services.{name}.restart: expected text, got {text}"))?;
        let unknown = || {
            format!(
                "services.{name}.restart: unknown restart policy: {text} (no, always, unless-stopped or on-failure[:N])"
            )
        };
        let (condition, max_attempts) = match text.split_once(':') {
            None => match text {
                "" | "no" => (RestartCondition::None, 0),
                "always" | "unless-stopped" => (RestartCondition::Any, 0),
                "on-failure" => (RestartCondition::OnFailure, 0),
                _ => return Err(unknown()),
            },
            Some(("on-failure", n)) => (RestartCondition::OnFailure, n.parse::<u64>().map_err(|_| unknown())?),
            Some(_) => return Err(unknown()),
        };
        return Ok(RestartPolicy { condition: condition as i32, delay_ns: None, max_attempts, window_ns: 0 });
    };
    Ok(restart_policy(p))
}

fn restart_policy(p: &model::RestartPolicy) -> RestartPolicy {
    RestartPolicy {
        condition: match p.condition {
            Some(model::RestartCondition::None) => RestartCondition::None,
            Some(model::RestartCondition::OnFailure) => RestartCondition::OnFailure,
            Some(model::RestartCondition::Any) | None => RestartCondition::Any,
        } as i32,
        delay_ns: p.delay.map(|d| d.0),
        max_attempts: p.max_attempts.unwrap_or(0),
        window_ns: p.window.map_or(0, |d| d.0),
    }
}

fn placement(p: Option<&model::Placement>) -> Placement {
    let p = p.cloned().unwrap_or_default();
    Placement {
        constraints: p.constraints,
        preferences: p.preferences.into_iter().map(|s| PlacementPreference { spread_descriptor: s.spread }).collect(),
        max_replicas: p.max_replicas_per_node.unwrap_or(0),
        platforms: Vec::new(),
    }
}

fn resources(r: Option<&model::Resources>) -> ResourceRequirements {
    let size = |s: Option<&model::ResourceSpec>| {
        s.map(|s| Resources { nano_cpus: s.cpus.map_or(0, |c| c.0), memory_bytes: s.memory.map_or(0, |m| m.0) })
    };
    let r = r.cloned().unwrap_or_default();
    ResourceRequirements { limits: size(r.limits.as_ref()), reservations: size(r.reservations.as_ref()) }
}

fn rollout(c: Option<&model::UpdateConfig>) -> UpdateConfig {
    let mut out = update::default_config();
    let Some(c) = c else { return out };
    if let Some(p) = c.parallelism {
        out.parallelism = p;
    }
    if let Some(d) = c.delay {
        out.delay_ns = d.0;
    }
    if let Some(m) = c.monitor {
        out.monitor_ns = m.0;
    }
    if let Some(r) = c.max_failure_ratio {
        out.max_failure_ratio = r as f32;
    }
    if let Some(a) = c.failure_action {
        out.failure_action = match a {
            model::FailureAction::Pause => FailureAction::Pause,
            model::FailureAction::Continue => FailureAction::Continue,
            model::FailureAction::Rollback => FailureAction::Rollback,
        } as i32;
    }
    if let Some(o) = c.order {
        out.order = match o {
            model::Order::StopFirst => UpdateOrder::StopFirst,
            model::Order::StartFirst => UpdateOrder::StartFirst,
        } as i32;
    }
    out
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::model::Compose;

    fn resolved(yaml: &str, base: &Path) -> Result<Compose, String> {
        let mut compose = Compose::from_tree(serde_saphyr::from_str(yaml).unwrap())?;
        let env = |k: &str| (k == "FROM_SHELL").then(|| "yes".to_string());
        let cx = crate::resolve::Context { base, lookup: &env, version: "3.8" };
        crate::resolve::compose(&mut compose, &cx)?;
        Ok(compose)
    }

    fn convert(yaml: &str, name: &str) -> Result<Converted, String> {
        let compose = resolved(yaml, Path::new("/srv/demo"))?;
        let (networks, _) = crate::networks::plan("demo", &compose)?;
        service("demo", name, &compose, &networks)
    }

    #[test]
    fn the_get_started_service_becomes_a_spec() {
        let yaml = r#"
services:
  web:
    image: ./web
    command: --port 80
    environment: [A=1, FROM_SHELL, UNSET]
    labels: { tier: front }
    deploy:
      replicas: 5
      labels: { team: a }
      restart_policy: { condition: on-failure }
      resources: { limits: { cpus: "0.1", memory: 50M, pids: 30 } }
      placement: { constraints: [node.role == manager], max_replicas_per_node: 2 }
      update_config: { parallelism: 2, order: start-first }
    volumes: ["./data:/data:ro", "cache:/cache", { type: tmpfs, target: /tmp }]
    healthcheck: { test: [CMD, /bin/true], interval: 5s }
    ports: ["4000:80", { target: 53, published: 53, protocol: udp, mode: host, host_ip: 127.0.0.1 }]
volumes:
  cache:
"#;
        let c = convert(yaml, "web").unwrap();
        let spec = c.spec;
        let a = spec.annotations.unwrap();
        assert_eq!(a.name, "demo_web");
        assert_eq!((a.labels["team"].as_str(), a.labels[NAMESPACE_LABEL].as_str()), ("a", "demo"));
        assert_eq!(a.labels[IMAGE_LABEL], "./web");
        assert_eq!(spec.mode, Some(Mode::Replicated(ReplicatedService { replicas: 5 })));
        let task = spec.task.unwrap();
        let container = task.container.unwrap();
        assert_eq!((container.image.as_str(), container.args.clone()), ("./web", vec!["--port".into(), "80".into()]));
        assert_eq!(container.env, ["A=1", "FROM_SHELL=yes", "UNSET"], "an unset variable stays bare, as docker has it");
        assert_eq!(container.labels["tier"], "front");
        let sources: Vec<(MountType, &str, bool)> =
            container.mounts.iter().map(|m| (m.r#type(), m.source.as_str(), m.read_only)).collect();
        assert_eq!(
            sources,
            vec![
                (MountType::Bind, "/srv/demo/data", true),
                (MountType::Volume, "demo_cache", false),
                (MountType::Tmpfs, "", false)
            ]
        );
        assert_eq!(container.healthcheck.unwrap().interval_ns, 5_000_000_000);
        assert_eq!(container.pids_limit, 30);
        assert_eq!(task.restart.unwrap().condition(), RestartCondition::OnFailure);
        assert_eq!(task.resources.unwrap().limits, Some(Resources { nano_cpus: 100_000_000, memory_bytes: 50 << 20 }));
        assert_eq!(task.placement.unwrap().max_replicas, 2);
        let u = spec.update.unwrap();
        assert_eq!((u.parallelism, u.order(), u.monitor_ns), (2, UpdateOrder::StartFirst, 5_000_000_000));
        assert_eq!(task.networks[0].target, "demo_default");
        let endpoint = spec.endpoint.unwrap();
        let ports: Vec<(u32, u32, PortProtocol, PublishMode)> =
            endpoint.ports.iter().map(|p| (p.published_port, p.target_port, p.protocol(), p.publish_mode())).collect();
        assert_eq!(
            ports,
            [(4000, 80, PortProtocol::Tcp, PublishMode::Ingress), (53, 53, PortProtocol::Udp, PublishMode::Host)]
        );
        assert_eq!(endpoint.mode(), EndpointMode::Vip);
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    }

    #[test]
    fn env_files_under_environment_and_the_runtime_extension() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("app.env"), "A=from-file\nB=from-file\n").unwrap();
        let yaml =
            "services: { web: { image: a, env_file: app.env, environment: { B: mine }, x-shoal-runtime: docker } }";
        let compose = resolved(yaml, dir.path()).unwrap();
        let c = service("demo", "web", &compose, &[]).unwrap();
        let task = c.spec.task.unwrap();
        assert_eq!(task.container.unwrap().env, vec!["A=from-file".to_string(), "B=mine".to_string()]);
        assert_eq!(task.runtime, "docker");
    }

    #[test]
    fn volume_and_tmpfs_options_as_docker_stack_makes_them() {
        let yaml = r#"
services:
  db:
    image: a
    volumes:
      - { type: volume, source: data, target: /d, volume: { nocopy: true } }
      - { type: tmpfs, target: /t, tmpfs: { size: 64m, mode: "1770" } }
      - { type: volume, source: shared, target: /s }
volumes:
  data: { driver: local, driver_opts: { type: tmpfs, device: tmpfs } }
  shared: { external: true }
"#;
        let mounts = convert(yaml, "db").unwrap().spec.task.unwrap().container.unwrap().mounts;
        assert_eq!(mounts[0].source, "demo_data");
        let v = mounts[0].volume_options.clone().unwrap();
        assert!(v.no_copy);
        assert_eq!(v.driver, "local");
        assert_eq!(v.driver_options.get("type").map(String::as_str), Some("tmpfs"));
        assert_eq!(v.labels.get(NAMESPACE_LABEL).map(String::as_str), Some("demo"));
        assert_eq!(mounts[1].tmpfs_options, Some(TmpfsOptions { size_bytes: 64 << 20, mode: 0o1770 }));
        assert_eq!((mounts[2].source.as_str(), mounts[2].volume_options.clone()), ("shared", Some(Default::default())));

        let undeclared = convert("services: { web: { image: a, volumes: [cache:/c] } }", "web").unwrap_err();
        assert_eq!(undeclared, "services.web.volumes: /c: volume \"cache\" is not declared under volumes:");
        let mixed =
            "services: { w: { image: a, volumes: [{ type: bind, source: /a, target: /b, tmpfs: { size: 1 } }] } }";
        assert_eq!(
            convert(mixed, "w").unwrap_err(),
            "services.w.volumes: /b: tmpfs options are incompatible with type bind"
        );
        let mode = "services: { w: { image: a, volumes: [{ type: tmpfs, target: /b, tmpfs: { mode: \"99\" } }] } }";
        assert!(convert(mode, "w").unwrap_err().contains("tmpfs.mode: expected permission bits"));
    }

    #[test]
    fn engine_options_and_logging_and_service_tmpfs_are_carried() {
        let yaml = "services: { w: { image: a, logging: { driver: json-file, options: { max-size: 1m, max-file: 3 } }, tmpfs: [/run, \"/cache:size=1m,mode=1777\"], extra_hosts: [\"h:1.2.3.4\"], dns: [1.1.1.1] } }";
        let c = convert(yaml, "w").unwrap();
        let task = c.spec.task.unwrap();
        let log = task.log_driver.unwrap();
        assert_eq!(
            (log.name.as_str(), log.options["max-size"].as_str(), log.options["max-file"].as_str()),
            ("json-file", "1m", "3")
        );
        let mounts = task.container.unwrap().mounts;
        assert_eq!((mounts[0].r#type(), mounts[0].target.as_str()), (MountType::Tmpfs, "/run"));
        assert_eq!(mounts[1].tmpfs_options, Some(TmpfsOptions { size_bytes: 1 << 20, mode: 0o1777 }));
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
        let yaml = "services: { w: { image: a, extra_hosts: [\"db:10.0.0.5\", \"v6:::1\"], dns: 10.0.0.2, dns_search: [a.test], sysctls: [net.core.somaxconn=1024], credential_spec: { file: x.json }, isolation: default } }";
        let c = convert(yaml, "w").unwrap();
        assert_eq!(c.warnings, ["services.w.credential_spec: for Windows nodes only, ignored on Linux"]);
        let container = c.spec.task.unwrap().container.unwrap();
        assert_eq!(container.hosts, ["10.0.0.5 db", "::1 v6"]);
        let dns = container.dns_config.unwrap();
        assert_eq!((dns.nameservers, dns.search), (vec!["10.0.0.2".to_string()], vec!["a.test".to_string()]));
        assert_eq!(container.sysctls["net.core.somaxconn"], "1024");
        let map = "services: { w: { image: a, sysctls: { net.ipv4.ip_forward: 1 } } }";
        assert_eq!(
            convert(map, "w").unwrap().spec.task.unwrap().container.unwrap().sysctls["net.ipv4.ip_forward"],
            "1"
        );
        let hyperv = "services: { w: { image: a, isolation: hyperv } }";
        assert!(convert(hyperv, "w").unwrap_err().starts_with("services.w.isolation: Linux nodes support only"));
        let bad_host = "services: { w: { image: a, extra_hosts: [\"db:nowhere\"] } }";
        assert!(convert(bad_host, "w").unwrap_err().starts_with("services.w.extra_hosts: \"nowhere\" is not an IP"));
        let bad_dns = "services: { w: { image: a, dns: dns.example } }";
        assert!(convert(bad_dns, "w").unwrap_err().starts_with("services.w.dns: expected an IP address"));
        let yaml = "services: { w: { image: a, cap_add: [NET_ADMIN], cap_drop: [ALL], tty: true, stdin_open: true, ulimits: { nproc: 64, nofile: { soft: 100, hard: 200 } } } }";
        let c = convert(yaml, "w").unwrap().spec.task.unwrap().container.unwrap();
        assert_eq!((c.capability_add, c.capability_drop), (vec!["CAP_NET_ADMIN".to_string()], vec!["ALL".to_string()]));
        assert!(c.tty && c.open_stdin);
        let limits: Vec<(&str, i64, i64)> = c.ulimits.iter().map(|u| (u.name.as_str(), u.soft, u.hard)).collect();
        assert_eq!(limits, [("nofile", 100, 200), ("nproc", 64, 64)]);
        let bad = "services: { w: { image: a, ulimits: { nofile: { soft: 300, hard: 200 } } } }";
        assert_eq!(convert(bad, "w").unwrap_err(), "services.w.ulimits.nofile: soft 300 is above hard 200");
        let syslog = "services: { w: { image: a, logging: { driver: syslog } } }";
        assert!(convert(syslog, "w").unwrap_err().starts_with("services.w.logging: "));
    }

    #[test]
    fn compose_restart_is_the_policy_when_deploy_gives_none() {
        let policy = |restart: &str| {
            let yaml = format!("services: {{ w: {{ image: a, restart: {restart:?} }} }}");
            convert(&yaml, "w").map(|c| {
                let p = c.spec.task.unwrap().restart.unwrap();
                (p.condition(), p.max_attempts)
            })
        };
        assert_eq!(policy("always"), Ok((RestartCondition::Any, 0)));
        assert_eq!(policy("unless-stopped"), Ok((RestartCondition::Any, 0)));
        assert_eq!(policy("on-failure:3"), Ok((RestartCondition::OnFailure, 3)));
        assert_eq!(policy("no"), Ok((RestartCondition::None, 0)));
        assert!(policy("sometimes").unwrap_err().starts_with("services.w.restart: unknown restart policy: sometimes"));
        assert!(policy("on-failure:x").is_err());
        let both = "services: { w: { image: a, restart: always, deploy: { restart_policy: { condition: none } } } }";
        let p = convert(both, "w").unwrap().spec.task.unwrap().restart.unwrap();
        assert_eq!(p.condition(), RestartCondition::None, "deploy.restart_policy wins");
    }

    #[test]
    fn what_cannot_be_deployed_yet_is_refused_by_name() {
        let err = convert("services: { web: { command: x } }", "web").unwrap_err();
        assert_eq!(err, "services.web.image: required (the program to run)");
        let anonymous = convert("services: { web: { image: a, volumes: [/anon] } }", "web").unwrap();
        let m = &anonymous.spec.task.unwrap().container.unwrap().mounts[0];
        assert_eq!((m.r#type(), m.source.as_str(), m.target.as_str()), (MountType::Volume, "", "/anon"));
        let global = "services: { g: { image: a, deploy: { mode: global, replicas: 2 } } }";
        assert_eq!(
            convert(global, "g").unwrap_err(),
            "services.g.deploy.replicas: replicas can only be used with replicated or replicated-job mode"
        );
        let global = "services: { g: { image: a, deploy: { mode: global, placement: { max_replicas_per_node: 1 } } } }";
        assert!(convert(global, "g").unwrap_err().starts_with("services.g.deploy.placement.max_replicas_per_node: "));
        let job = convert("services: { j: { image: a, deploy: { mode: replicated-job, replicas: 3 } } }", "j").unwrap();
        let every = "services: { j: { image: a, deploy: { mode: replicated-job }, x-shoal-schedule: '@every 5m' } }";
        assert_eq!(convert(every, "j").unwrap().spec.schedule.map(|s| s.cron), Some("@every 5m".into()));
        let long = "services: { j: { image: a, deploy: { mode: global-job }, \
                    x-shoal-schedule: { cron: '0 3 * * *', timezone: Europe/Paris, overlap: replace } } }";
        let long = convert(long, "j").unwrap().spec.schedule.unwrap();
        assert_eq!((long.time_zone.as_str(), long.overlap()), ("Europe/Paris", shoal_proto::ScheduleOverlap::Replace));
        let spread = "services: { w: { image: a, deploy: { replicas: 4 }, x-shoal-rebalance-on-join: true } }";
        assert!(convert(spread, "w").unwrap().spec.rebalance_on_join);
        let not_a_job = "services: { j: { image: a, x-shoal-schedule: '@daily' } }";
        assert!(convert(not_a_job, "j").unwrap_err().starts_with("services.j.x-shoal-schedule: only a job"));
        let bad = "services: { j: { image: a, deploy: { mode: replicated-job }, x-shoal-schedule: '@every 1ms' } }";
        assert!(
            convert(bad, "j").unwrap_err().starts_with("services.j.x-shoal-schedule: \"@every\" takes"),
            "{:?}",
            convert(bad, "j")
        );
        assert_eq!(job.spec.mode, Some(Mode::ReplicatedJob(ReplicatedJob { max_concurrent: 0, total_completions: 3 })));
    }
}
