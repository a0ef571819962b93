//! Checks a service or task spec from a client and fills in Swarm's defaults.
//! Every error names the field and says what was expected.

use shoal_proto::{
    Annotations, ContainerSpec, DependencyCondition, HealthConfig, Mount, MountType, Placement, ReplicatedService,
    ResourceRequirements, RestartPolicy, ServiceSpec, TaskSpec, UpdateConfig, service_spec::Mode, signal_number,
};
use shoal_scheduler::{Constraint, Spread};

use crate::{InvalidSpec, update};

/// Delay before a restart when the spec does not say (Swarm's default).
pub const DEFAULT_RESTART_DELAY_NS: i64 = 5_000_000_000;
/// Stop grace period unless the spec says otherwise (Swarm's default).
pub const DEFAULT_STOP_GRACE_NS: i64 = 10_000_000_000;
/// Most replicas a service may ask for.
pub const MAX_REPLICAS: u64 = 1_000_000;

fn invalid(msg: impl Into<String>) -> InvalidSpec {
    InvalidSpec(msg.into())
}

/// Largest spec (protobuf-encoded) a service or network may have: every
/// manager keeps it, and sends it to every node that runs its tasks.
pub const MAX_SPEC_BYTES: usize = 1 << 20;

/// Refuses a spec larger than [`MAX_SPEC_BYTES`].
pub fn check_size(what: &str, spec: &impl prost::Message) -> Result<(), InvalidSpec> {
    let len = spec.encoded_len();
    if len > MAX_SPEC_BYTES {
        return Err(invalid(format!(
            "{what}: {:.1} MB encoded, at most {} MB (labels, env and args included)",
            len as f64 / 1e6,
            MAX_SPEC_BYTES >> 20
        )));
    }
    Ok(())
}

/// Refuses a NUL byte in `value`, naming `field`.
fn no_nul(field: &str, value: &str) -> Result<(), InvalidSpec> {
    match value.find('\0') {
        Some(at) => Err(invalid(format!("{field}: a NUL byte at position {at} (a program cannot receive it)"))),
        None => Ok(()),
    }
}

/// Validates `spec` and returns it with defaults filled in.
pub fn service_spec(mut spec: ServiceSpec) -> Result<ServiceSpec, InvalidSpec> {
    let annotations = spec.annotations.get_or_insert_with(Annotations::default);
    if annotations.name.is_empty() {
        annotations.name = random_name();
    }
    check_name(&annotations.name)?;
    check_labels("label", annotations.labels.keys())?;

    match spec.mode.get_or_insert(Mode::Replicated(ReplicatedService { replicas: 1 })) {
        Mode::Replicated(r) if r.replicas > MAX_REPLICAS => {
            return Err(invalid(format!("replicas: at most {MAX_REPLICAS}, got {}", r.replicas)));
        }
        Mode::ReplicatedJob(j) if j.total_completions > MAX_REPLICAS => {
            return Err(invalid(format!("replicas: at most {MAX_REPLICAS}, got {}", j.total_completions)));
        }
        Mode::ReplicatedJob(j) if j.max_concurrent == 0 => j.max_concurrent = j.total_completions,
        Mode::Replicated(_) | Mode::Global(_) | Mode::ReplicatedJob(_) | Mode::GlobalJob(_) => {}
    }

    if let Some(schedule) = &spec.schedule {
        if !matches!(spec.mode, Some(Mode::ReplicatedJob(_) | Mode::GlobalJob(_))) {
            return Err(invalid("--schedule: only a job (--mode replicated-job or global-job) runs on a schedule"));
        }
        crate::schedule::Schedule::parse(schedule).map_err(|e| invalid(format!("{}: {e}", e.flag())))?;
    }
    if spec.rebalance_on_join && !matches!(spec.mode, Some(Mode::Replicated(_))) {
        return Err(invalid("--rebalance-on-join: only a replicated service's tasks are spread over the nodes"));
    }
    task_spec(spec.task.get_or_insert_with(Default::default))?;
    crate::ports::check(&spec)?;
    dependencies(&spec)?;
    update_config(spec.update.get_or_insert_with(update::default_config), "update")?;
    update_config(spec.rollback.get_or_insert_with(update::default_config), "rollback")?;
    check_size("spec", &spec)?;
    Ok(spec)
}

/// Checks a task spec (a service's, or one `shoal run` sends) and fills
/// in the defaults.
pub fn task_spec(task: &mut TaskSpec) -> Result<(), InvalidSpec> {
    // Empty: the cluster's default, filled in by the managers (see
    // `crate::runtime`).
    if !task.runtime.is_empty() {
        crate::runtime::check(&task.runtime, "runtime")?;
    }
    container_spec(task.container.get_or_insert_with(Default::default))?;
    shoal_proto::logging::LogLimits::of(task.log_driver.as_ref()).map_err(invalid)?;
    restart_policy(task.restart.get_or_insert_with(Default::default))?;
    if let Some(p) = &task.placement {
        placement(p)?;
    }
    if let Some(r) = &task.resources {
        resources(r)?;
    }
    Ok(())
}

fn container_spec(c: &mut ContainerSpec) -> Result<(), InvalidSpec> {
    if c.image.trim().is_empty() {
        return Err(invalid("image: the program to run is required"));
    }
    // What reaches exec(2) or the filesystem cannot hold a NUL byte: the
    // task would fail at every start.
    no_nul("image", &c.image)?;
    c.args.iter().try_for_each(|a| no_nul("args", a))?;
    for entry in &c.env {
        let (key, value) = entry.split_once('=').unwrap_or((entry, ""));
        if key.is_empty() || key.contains('\0') {
            return Err(invalid(format!("env: expected KEY=VALUE, got {entry:?}")));
        }
        no_nul(&format!("env: the value of {key}"), value)?;
    }
    for (field, value) in [("workdir", &c.dir), ("user", &c.user), ("hostname", &c.hostname)] {
        no_nul(field, value)?;
    }
    if let Some(h) = &c.healthcheck {
        h.test.iter().try_for_each(|t| no_nul("health command", t))?;
    }
    for m in &c.mounts {
        no_nul("mount source", &m.source)?;
        no_nul("mount target", &m.target)?;
    }
    placeholders(c)?;
    check_labels("container label", c.labels.keys())?;
    if c.pids_limit < 0 {
        return Err(invalid(format!("limit pids: expected 0 (no limit) or more, got {}", c.pids_limit)));
    }
    if !c.stop_signal.is_empty() && signal_number(&c.stop_signal).is_none() {
        return Err(invalid(format!("stop signal: unknown signal {:?}", c.stop_signal)));
    }
    let grace = c.stop_grace_period_ns.get_or_insert(DEFAULT_STOP_GRACE_NS);
    if *grace < 0 {
        return Err(invalid("stop grace period: must not be negative"));
    }
    not_absurd("stop grace period", *grace)?;
    if let Some(h) = &c.healthcheck {
        healthcheck(h)?;
    }
    mounts(&c.mounts)?;
    crate::engine_opts::check(c)?;
    if !c.dir.is_empty() && !c.dir.starts_with('/') {
        return Err(invalid(format!("workdir: expected an absolute path, got {:?}", c.dir)));
    }
    Ok(())
}

/// Swarm's placeholders (`{{.Node.Hostname}}`...) in env values, the
/// hostname and mount sources: each understood, or the field named.
fn placeholders(c: &ContainerSpec) -> Result<(), InvalidSpec> {
    let check = |field: &str, text: &str| {
        crate::template::check(text, false).map_err(|e| invalid(format!("{field}: template: {e}")))
    };
    for entry in &c.env {
        let (key, value) = entry.split_once('=').unwrap_or((entry, ""));
        check(&format!("env {key}"), value)?;
    }
    check("hostname", &c.hostname)?;
    c.mounts.iter().try_for_each(|m| check("mount source", &m.source))
}

/// Each mount has an absolute target, used once; a bind an absolute
/// source, a volume a name, a tmpfs none.
fn mounts(mounts: &[Mount]) -> Result<(), InvalidSpec> {
    let mut targets = std::collections::HashSet::new();
    for m in mounts {
        if !m.target.starts_with('/') {
            return Err(invalid(format!("mount target: expected an absolute path, got {:?}", m.target)));
        }
        if !targets.insert(m.target.trim_end_matches('/')) {
            return Err(invalid(format!("mount target: {} is mounted twice", m.target)));
        }
        let kind =
            MountType::try_from(m.r#type).map_err(|_| invalid(format!("mount type: unknown value {}", m.r#type)))?;
        match kind {
            MountType::Bind if !m.source.starts_with('/') => {
                return Err(invalid(format!("mount source: a bind needs an absolute path, got {:?}", m.source)));
            }
            // An empty source is an anonymous volume (the docker runtime's).
            MountType::Volume if !m.source.is_empty() && !valid_volume_name(&m.source) => {
                return Err(invalid(format!(
                    "mount source: a volume needs a name (letters, digits, '_', '.', '-'), got {:?}",
                    m.source
                )));
            }
            MountType::Tmpfs if !m.source.is_empty() => {
                return Err(invalid(format!("mount source: a tmpfs takes none, got {:?}", m.source)));
            }
            _ => {}
        }
        if m.volume_options.is_some() && kind != MountType::Volume {
            return Err(invalid(format!("mount {}: volume options on a mount that is not a volume", m.target)));
        }
        if m.tmpfs_options.is_some() && kind != MountType::Tmpfs {
            return Err(invalid(format!("mount {}: tmpfs options on a mount that is not a tmpfs", m.target)));
        }
        if let Some(b) = &m.bind_options {
            if kind != MountType::Bind {
                return Err(invalid(format!("mount {}: bind options on a mount that is not a bind", m.target)));
            }
            if !b.propagation.is_empty() {
                shoal_proto::bind_propagation(&b.propagation)
                    .map_err(|e| invalid(format!("mount {}: bind propagation: {e}", m.target)))?;
            }
        }
        if let Some(t) = &m.tmpfs_options
            && (t.size_bytes < 0 || t.mode > 0o7777)
        {
            return Err(invalid(format!(
                "mount {}: tmpfs size must not be negative and its mode at most 7777, got {} and {:o}",
                m.target, t.size_bytes, t.mode
            )));
        }
    }
    Ok(())
}

/// Docker's volume names: `[a-zA-Z0-9][a-zA-Z0-9_.-]*`.
fn valid_volume_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

/// Docker's rules: a known test form, and durations of at least 1 ms
/// when set.
fn healthcheck(h: &HealthConfig) -> Result<(), InvalidSpec> {
    match h.test.split_first() {
        None => {}
        Some((kind, rest)) if kind == "NONE" && rest.is_empty() => {}
        Some((kind, rest)) if (kind == "CMD" || kind == "CMD-SHELL") && !rest.is_empty() => {}
        Some(_) => {
            return Err(invalid(format!(
                "healthcheck test: expected [\"CMD\", program, args...], [\"CMD-SHELL\", command] or [\"NONE\"], got {:?}",
                h.test
            )));
        }
    }
    let durations = [
        ("interval", h.interval_ns),
        ("timeout", h.timeout_ns),
        ("start period", h.start_period_ns),
        ("start interval", h.start_interval_ns),
    ];
    for (what, ns) in durations {
        if ns < 0 || (ns > 0 && ns < 1_000_000) {
            return Err(invalid(format!("healthcheck {what}: expected at least 1ms, got {ns}ns")));
        }
        not_absurd(&format!("healthcheck {what}"), ns)?;
    }
    Ok(())
}

fn restart_policy(p: &mut RestartPolicy) -> Result<(), InvalidSpec> {
    if shoal_proto::RestartCondition::try_from(p.condition).is_err() {
        return Err(invalid(format!("restart condition: unknown value {}", p.condition)));
    }
    let delay = p.delay_ns.get_or_insert(DEFAULT_RESTART_DELAY_NS);
    if *delay < 0 {
        return Err(invalid("restart delay: must not be negative"));
    }
    if p.window_ns < 0 {
        return Err(invalid("restart window: must not be negative"));
    }
    not_absurd("restart delay", *delay)?;
    not_absurd("restart window", p.window_ns)
}

/// The longest duration a spec may hold: a year. Beyond it a delay means
/// "never" by mistake, and deadlines (now + delay) would overflow.
pub const MAX_DURATION_NS: i64 = 8760 * 3_600_000_000_000;

fn not_absurd(what: &str, ns: i64) -> Result<(), InvalidSpec> {
    if ns <= MAX_DURATION_NS {
        return Ok(());
    }
    let hours = format!("{}", ns as f64 / 3.6e12);
    Err(invalid(format!("{what}: expected at most 8760h (a year), got {hours}h")))
}

/// Constraints and preferences parse now, so a scheduling pass never
/// meets a malformed one.
fn placement(p: &Placement) -> Result<(), InvalidSpec> {
    for c in &p.constraints {
        Constraint::parse(c).map_err(|e| invalid(e.to_string()))?;
    }
    for pref in &p.preferences {
        Spread::parse(&pref.spread_descriptor).map_err(|e| invalid(e.to_string()))?;
    }
    Ok(())
}

/// The smallest CPU and memory a task may reserve or be limited to
/// (swarmkit's bounds).
const MIN_NANO_CPUS: i64 = 1_000_000;
const MIN_MEMORY: i64 = 4 << 20;

fn resources(r: &ResourceRequirements) -> Result<(), InvalidSpec> {
    let (limits, reservations) = (r.limits.unwrap_or_default(), r.reservations.unwrap_or_default());
    for (what, v) in [("limit", &limits), ("reservation", &reservations)] {
        if v.nano_cpus < 0 || (v.nano_cpus > 0 && v.nano_cpus < MIN_NANO_CPUS) {
            return Err(invalid(format!("{what} cpu: expected at least 0.001 CPUs, got {}", cpus(v.nano_cpus))));
        }
        if v.memory_bytes < 0 || (v.memory_bytes > 0 && v.memory_bytes < MIN_MEMORY) {
            return Err(invalid(format!("{what} memory: expected at least 4MiB, got {} bytes", v.memory_bytes)));
        }
    }
    if limits.nano_cpus > 0 && reservations.nano_cpus > limits.nano_cpus {
        return Err(invalid(format!(
            "reservation cpu: {} is more than the limit, {}",
            cpus(reservations.nano_cpus),
            cpus(limits.nano_cpus)
        )));
    }
    if limits.memory_bytes > 0 && reservations.memory_bytes > limits.memory_bytes {
        return Err(invalid(format!(
            "reservation memory: {} bytes is more than the limit, {} bytes",
            reservations.memory_bytes, limits.memory_bytes
        )));
    }
    Ok(())
}

fn cpus(nano: i64) -> String {
    format!("{}", nano as f64 / 1e9)
}

fn update_config(u: &UpdateConfig, what: &str) -> Result<(), InvalidSpec> {
    if u.delay_ns < 0 || u.monitor_ns < 0 {
        return Err(invalid(format!("{what} delay and monitor: must not be negative")));
    }
    not_absurd(&format!("{what} delay"), u.delay_ns)?;
    not_absurd(&format!("{what} monitor"), u.monitor_ns)?;
    if !(0.0..=1.0).contains(&u.max_failure_ratio) {
        return Err(invalid(format!("{what} max failure ratio: expected 0 to 1, got {}", u.max_failure_ratio)));
    }
    Ok(())
}

/// `depends_on`: valid names, each once, known conditions. (A cycle
/// through other services is refused where the store is at hand.)
fn dependencies(spec: &ServiceSpec) -> Result<(), InvalidSpec> {
    for (i, d) in spec.depends_on.iter().enumerate() {
        check_name(&d.service).map_err(|e| invalid(format!("depends_on: {}", e.0.trim_start_matches("name: "))))?;
        if DependencyCondition::try_from(d.condition).is_err() {
            return Err(invalid(format!("depends_on: {}: unknown condition {}", d.service, d.condition)));
        }
        if spec.depends_on[..i].iter().any(|e| e.service == d.service) {
            return Err(invalid(format!("depends_on: {} is named twice", d.service)));
        }
    }
    Ok(())
}

/// A service name is a DNS label: letters, digits, `-` and `_`, starting
/// and ending with a letter or digit, at most 63 characters (swarmkit's rule).
pub fn check_name(name: &str) -> Result<(), InvalidSpec> {
    let alnum = |c: char| c.is_ascii_alphanumeric();
    let ok = name.len() <= 63
        && name.starts_with(alnum)
        && name.ends_with(alnum)
        && name.chars().all(|c| alnum(c) || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(invalid(format!(
            "name: {name:?} is not valid: use letters, digits, '-' and '_', starting and ending with a letter or digit, at most 63 characters"
        )))
    }
}

pub fn check_labels<'a>(what: &str, mut keys: impl Iterator<Item = &'a String>) -> Result<(), InvalidSpec> {
    match keys.find(|k| k.is_empty()) {
        Some(_) => Err(invalid(format!("{what}: a label needs a key"))),
        None => Ok(()),
    }
}

/// A name like Docker's, for services (and runs) created without one.
pub fn random_name() -> String {
    use rand::seq::IndexedRandom;
    const ADJECTIVES: [&str; 12] =
        ["brave", "calm", "eager", "gentle", "happy", "jolly", "keen", "lucid", "nimble", "quiet", "swift", "witty"];
    const NAMES: [&str; 12] = [
        "turing", "hopper", "lovelace", "knuth", "ritchie", "thompson", "liskov", "lamport", "hamilton", "dijkstra",
        "curie", "noether",
    ];
    let mut rng = rand::rng();
    format!("{}_{}", ADJECTIVES.choose(&mut rng).unwrap_or(&"calm"), NAMES.choose(&mut rng).unwrap_or(&"turing"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use shoal_proto::TaskSpec;

    fn spec(name: &str, image: &str) -> ServiceSpec {
        ServiceSpec {
            annotations: Some(Annotations { name: name.into(), ..Default::default() }),
            task: Some(TaskSpec {
                container: Some(ContainerSpec { image: image.into(), ..Default::default() }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn fills_swarm_defaults() {
        let s = service_spec(spec("web", "sleep")).unwrap();
        let task = s.task.unwrap();
        assert_eq!(task.runtime, "", "the managers fill in the cluster's default");
        assert_eq!(task.restart.unwrap().delay_ns, Some(5_000_000_000));
        assert_eq!(task.container.unwrap().stop_grace_period_ns, Some(10_000_000_000));
        assert_eq!(s.mode, Some(Mode::Replicated(ReplicatedService { replicas: 1 })));
        assert_eq!(s.update.unwrap().monitor_ns, 5_000_000_000);
    }

    #[test]
    fn names_the_field_in_errors() {
        let err = |s: ServiceSpec| service_spec(s).unwrap_err().0;
        assert!(err(spec("web", "")).starts_with("image:"));
        assert!(err(spec("-web", "sleep")).starts_with("name:"));
        assert!(err(spec("a.b", "sleep")).starts_with("name:"));
        let mut s = spec("web", "sleep");
        s.task.as_mut().unwrap().container.as_mut().unwrap().stop_signal = "SIGNOPE".into();
        assert!(err(s).starts_with("stop signal:"));
        let mut s = spec("web", "sleep");
        s.task.as_mut().unwrap().container.as_mut().unwrap().env = vec!["=x".into()];
        assert!(err(s).starts_with("env:"));
        let mut s = spec("web", "sleep");
        s.task.as_mut().unwrap().container.as_mut().unwrap().env = vec!["A=b\0c".into()];
        assert_eq!(err(s), "env: the value of A: a NUL byte at position 1 (a program cannot receive it)");
        let mut s = spec("web", "sleep");
        s.task.as_mut().unwrap().container.as_mut().unwrap().args = vec!["x\0".into()];
        assert!(err(s).starts_with("args: a NUL byte"));
        let mut s = spec("web", "sleep");
        s.task.as_mut().unwrap().runtime = "lxc".into();
        assert!(err(s).starts_with("runtime:"));
        let mut s = spec("web", "sleep");
        s.task.as_mut().unwrap().container.as_mut().unwrap().pids_limit = -1;
        assert_eq!(err(s), "limit pids: expected 0 (no limit) or more, got -1");
        let mut s = spec("web", "sleep");
        let health = HealthConfig { test: vec!["CMD".into()], ..Default::default() };
        s.task.as_mut().unwrap().container.as_mut().unwrap().healthcheck = Some(health);
        assert!(err(s).starts_with("healthcheck test:"));
        let mut s = spec("web", "sleep");
        let health =
            HealthConfig { test: vec!["CMD-SHELL".into(), "true".into()], interval_ns: 5, ..Default::default() };
        s.task.as_mut().unwrap().container.as_mut().unwrap().healthcheck = Some(health);
        assert_eq!(err(s), "healthcheck interval: expected at least 1ms, got 5ns");
        let mut s = spec("web", "sleep");
        let hours = |h: i64| h * 3_600_000_000_000;
        s.task.as_mut().unwrap().restart =
            Some(RestartPolicy { delay_ns: Some(hours(2_500_000)), ..Default::default() });
        assert_eq!(err(s), "restart delay: expected at most 8760h (a year), got 2500000h");
        let mut s = spec("web", "sleep");
        s.update = Some(UpdateConfig { monitor_ns: hours(8761), ..update::default_config() });
        assert_eq!(err(s), "update monitor: expected at most 8760h (a year), got 8761h");
        let dep = |name: &str, condition: i32| shoal_proto::Dependency { service: name.into(), condition };
        let mut s = spec("web", "sleep");
        s.depends_on = vec![dep("db", 0), dep("db", 1)];
        assert_eq!(err(s), "depends_on: db is named twice");
        let mut s = spec("web", "sleep");
        s.depends_on = vec![dep("db", 7)];
        assert_eq!(err(s), "depends_on: db: unknown condition 7");
        let mut s = spec("web", "sleep");
        s.depends_on = vec![dep("-db", 0)];
        assert!(err(s).starts_with("depends_on: \"-db\" is not valid"));
        let mut s = spec("web", "sleep");
        s.task.as_mut().unwrap().restart = Some(RestartPolicy { delay_ns: Some(hours(8760)), ..Default::default() });
        assert!(service_spec(s).is_ok(), "a year is allowed");
        let with_mount = |kind: MountType, source: &str, target: &str| {
            let mut s = spec("web", "sleep");
            let m = Mount { r#type: kind as i32, source: source.into(), target: target.into(), ..Default::default() };
            s.task.as_mut().unwrap().container.as_mut().unwrap().mounts = vec![m];
            s
        };
        assert!(err(with_mount(MountType::Bind, "rel", "/t")).starts_with("mount source: a bind needs an absolute"));
        assert!(err(with_mount(MountType::Volume, "../x", "/t")).starts_with("mount source: a volume needs a name"));
        assert!(err(with_mount(MountType::Tmpfs, "", "t")).starts_with("mount target: expected an absolute"));
        assert!(service_spec(with_mount(MountType::Volume, "data", "/t")).is_ok());
        assert!(service_spec(with_mount(MountType::Volume, "", "/t")).is_ok(), "an anonymous volume");
        let mut tmpfs_on_a_bind = with_mount(MountType::Bind, "/s", "/t");
        let m = &mut tmpfs_on_a_bind.task.as_mut().unwrap().container.as_mut().unwrap().mounts[0];
        m.tmpfs_options = Some(shoal_proto::TmpfsOptions { size_bytes: 1, mode: 0 });
        assert_eq!(err(tmpfs_on_a_bind), "mount /t: tmpfs options on a mount that is not a tmpfs");
    }

    #[test]
    fn placement_and_resources_are_checked_before_anything_is_written() {
        let err = |placement: Placement, resources: ResourceRequirements| {
            let mut s = spec("web", "sleep");
            let task = s.task.as_mut().unwrap();
            task.placement = Some(placement);
            task.resources = Some(resources);
            service_spec(s).err().map(|e| e.0)
        };
        let constraints =
            |c: &[&str]| Placement { constraints: c.iter().map(|c| c.to_string()).collect(), ..Default::default() };
        let none = ResourceRequirements::default;
        assert_eq!(err(constraints(&["node.role==worker", "node.labels.a!=b"]), none()), None);
        assert_eq!(
            err(constraints(&["node.labels.zone=east"]), none()).unwrap(),
            "constraint \"node.labels.zone=east\", at character 17: expected an operator == or !="
        );
        let spread = |d: &str| Placement {
            preferences: vec![shoal_proto::PlacementPreference { spread_descriptor: d.into() }],
            ..Default::default()
        };
        assert_eq!(err(spread("node.labels.dc"), none()), None);
        assert!(err(spread("node.id"), none()).unwrap().starts_with("placement preference \"node.id\""));
        let res = |limit: i64, reserve: i64| ResourceRequirements {
            limits: Some(shoal_proto::Resources { nano_cpus: limit, memory_bytes: 0 }),
            reservations: Some(shoal_proto::Resources { nano_cpus: reserve, memory_bytes: 0 }),
        };
        assert_eq!(err(Placement::default(), res(2_000_000_000, 500_000_000)), None);
        assert_eq!(err(Placement::default(), res(0, 500_000_000)), None, "no limit");
        assert_eq!(
            err(Placement::default(), res(1_000_000_000, 1_500_000_000)).unwrap(),
            "reservation cpu: 1.5 is more than the limit, 1"
        );
        assert!(err(Placement::default(), res(0, -1)).unwrap().starts_with("reservation cpu: expected at least 0.001"));
        let memory = ResourceRequirements {
            limits: None,
            reservations: Some(shoal_proto::Resources { nano_cpus: 0, memory_bytes: 1024 }),
        };
        assert_eq!(
            err(Placement::default(), memory).unwrap(),
            "reservation memory: expected at least 4MiB, got 1024 bytes"
        );
    }

    #[test]
    fn unnamed_services_get_a_valid_name() {
        let s = service_spec(spec("", "sleep")).unwrap();
        check_name(&s.annotations.unwrap().name).unwrap();
    }
}
