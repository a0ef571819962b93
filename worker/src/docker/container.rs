//! A task as a container of the engine: its name (Swarm's
//! `SERVICE.SLOT.TASKID`), the labels that say whose it is, and the
//! create request made from the task's spec the way Swarm's executor
//! makes it; for a task on networks, also its sandbox's, the container
//! that holds the network namespace the task's joins. Pure: no engine
//! needed.

use std::collections::HashMap;

use bollard::models::{
    ContainerCreateBody, HealthConfig, HostConfig, HostConfigLogConfig, Mount, MountBindOptions, MountTmpfsOptions,
    MountType as EngineMount, MountVolumeOptions, MountVolumeOptionsDriverConfig, ResourcesUlimits,
};
use shoal_proto::logging::LogLimits;
use shoal_proto::{ContainerSpec, MountType, Task};

/// The node that made the container: every list, adoption and removal
/// filters on it, so nodes sharing one engine never touch each other's
/// containers, nor any shoal did not make.
pub const NODE_LABEL: &str = "io.shoal.node.id";
pub const TASK_LABEL: &str = "io.shoal.task.id";
pub const TASK_NAME_LABEL: &str = "io.shoal.task.name";
pub const SERVICE_ID_LABEL: &str = "io.shoal.service.id";
pub const SERVICE_NAME_LABEL: &str = "io.shoal.service.name";
/// `task` or `sandbox`.
pub const ROLE_LABEL: &str = "io.shoal.role";
pub const TASK: &str = "task";
pub const SANDBOX: &str = "sandbox";

/// The task's container name, as Swarm names it: `SERVICE.SLOT.TASKID`,
/// or `SERVICE.NODEID.TASKID` for a global service's task (no slot).
pub fn name(task: &Task) -> String {
    let service = if task.service_name.is_empty() { "task" } else { &task.service_name };
    match task.slot {
        0 => format!("{service}.{}.{}", task.node_id, task.id),
        slot => format!("{service}.{slot}.{}", task.id),
    }
}

/// The name of the task's sandbox.
pub fn sandbox_name(task: &Task) -> String {
    format!("{}.sandbox", name(task))
}

/// The spec's container labels (a stack's namespace among them), then
/// shoal's own, which nothing in the spec can override.
pub fn labels(task: &Task, node_id: &str, role: &str) -> HashMap<String, String> {
    let mut labels =
        task.spec.as_ref().and_then(|s| s.container.as_ref()).map(|c| c.labels.clone()).unwrap_or_default();
    labels.extend([
        (NODE_LABEL.to_string(), node_id.to_string()),
        (TASK_LABEL.to_string(), task.id.clone()),
        (TASK_NAME_LABEL.to_string(), name(task)),
        (SERVICE_ID_LABEL.to_string(), task.service_id.clone()),
        (SERVICE_NAME_LABEL.to_string(), task.service_name.clone()),
        (ROLE_LABEL.to_string(), role.to_string()),
    ]);
    labels
}

/// Where a task on networks runs: in its sandbox's namespace, with the
/// node's resolver for the cluster's names (`resolv_conf`, a file of the
/// node mounted as the container's /etc/resolv.conf).
pub struct Sandboxed<'a> {
    pub sandbox_id: &'a str,
    pub resolv_conf: &'a str,
}

/// The create request of the task's sandbox: the pause image, no network
/// of the engine's (the data path wires its namespace), the task's
/// hostname, extra hosts and network sysctls (the task's container,
/// joining the sandbox's namespace, takes its hosts file and network
/// from there: the engine refuses them on a container that joins one).
pub fn sandbox_body(task: &Task, node_id: &str, image: &str) -> ContainerCreateBody {
    let c = task.spec.as_ref().and_then(|s| s.container.clone()).unwrap_or_default();
    ContainerCreateBody {
        image: Some(image.to_string()),
        hostname: Some(c.hostname.clone()).filter(|h| !h.is_empty()),
        labels: Some(labels(task, node_id, SANDBOX)),
        host_config: Some(HostConfig {
            network_mode: Some("none".into()),
            extra_hosts: extra_hosts(&c.hosts),
            sysctls: sysctls(&c, |key| key.starts_with("net.")),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Docker's Hosts lines (`IP HOST [ALIAS...]`) as the engine's
/// ExtraHosts (`HOST:IP` each).
fn extra_hosts(hosts: &[String]) -> Option<Vec<String>> {
    let pairs: Vec<String> = hosts
        .iter()
        .flat_map(|line| shoal_spec::engine_opts::host_pairs(line))
        .map(|(name, address)| format!("{name}:{address}"))
        .collect();
    (!pairs.is_empty()).then_some(pairs)
}

/// The spec's sysctls that `keep` keeps.
fn sysctls(c: &ContainerSpec, keep: impl Fn(&str) -> bool) -> Option<HashMap<String, String>> {
    let kept: HashMap<String, String> =
        c.sysctls.iter().filter(|(k, _)| keep(k)).map(|(k, v)| (k.clone(), v.clone())).collect();
    (!kept.is_empty()).then_some(kept)
}

/// The create request of the task's container. As in Swarm, the
/// service's args replace the image's CMD (its ENTRYPOINT stays); limits
/// become the container's cgroup limits; the output goes to the engine's
/// json-file log, rotated as the task's log options say.
pub fn create_body(
    task: &Task,
    node_id: &str,
    sandboxed: Option<Sandboxed<'_>>,
) -> Result<ContainerCreateBody, String> {
    let spec = task.spec.clone().unwrap_or_default();
    let c = spec.container.clone().unwrap_or_default();
    let limits = spec.resources.as_ref().and_then(|r| r.limits).unwrap_or_default();
    let logs = LogLimits::of(spec.log_driver.as_ref())?;
    let some = |s: &str| (!s.is_empty()).then(|| s.to_string());
    let positive = |n: i64| (n > 0).then_some(n);
    let mut host_config = HostConfig {
        nano_cpus: positive(limits.nano_cpus),
        memory: positive(limits.memory_bytes),
        pids_limit: positive(c.pids_limit),
        init: c.init,
        readonly_rootfs: c.read_only.then_some(true),
        cap_add: (!c.capability_add.is_empty()).then(|| c.capability_add.clone()),
        cap_drop: (!c.capability_drop.is_empty()).then(|| c.capability_drop.clone()),
        ulimits: (!c.ulimits.is_empty()).then(|| {
            c.ulimits
                .iter()
                .map(|u| ResourcesUlimits { name: Some(u.name.clone()), soft: Some(u.soft), hard: Some(u.hard) })
                .collect()
        }),
        log_config: Some(log_config(logs)),
        ..Default::default()
    };
    let mut mounts: Vec<Mount> = c.mounts.iter().map(mount).collect();
    match &sandboxed {
        None => {
            // A container of its own network: the engine writes its hosts
            // file and resolv.conf as the spec says.
            let dns = c.dns_config.clone().unwrap_or_default();
            let list = |l: Vec<String>| (!l.is_empty()).then_some(l);
            host_config.extra_hosts = extra_hosts(&c.hosts);
            host_config.dns = list(dns.nameservers);
            host_config.dns_search = list(dns.search);
            host_config.dns_options = list(dns.options);
            host_config.sysctls = sysctls(&c, |_| true);
        }
        Some(s) => {
            // The hosts and network sysctls are the sandbox's; the rest of
            // the sysctls (IPC) are the container's own.
            host_config.sysctls = sysctls(&c, |key| !key.starts_with("net."));
            host_config.network_mode = Some(format!("container:{}", s.sandbox_id));
            mounts.push(Mount {
                typ: Some(EngineMount::BIND),
                source: Some(s.resolv_conf.to_string()),
                target: Some("/etc/resolv.conf".into()),
                read_only: Some(true),
                ..Default::default()
            });
        }
    }
    host_config.mounts = (!mounts.is_empty()).then_some(mounts);
    Ok(ContainerCreateBody {
        image: Some(c.image.clone()),
        entrypoint: (!c.command.is_empty()).then(|| c.command.clone()),
        cmd: (!c.args.is_empty()).then(|| c.args.clone()),
        env: (!c.env.is_empty()).then(|| c.env.clone()),
        user: some(&c.user),
        working_dir: some(&c.dir),
        // In a sandbox the hostname is the sandbox's (the engine refuses
        // one of the task's own there).
        hostname: if sandboxed.is_some() { None } else { some(&c.hostname) },
        labels: Some(labels(task, node_id, TASK)),
        stop_signal: some(&c.stop_signal),
        // Whole seconds, rounded up: the engine's own `docker stop` waits
        // at least the grace period too.
        stop_timeout: c.stop_grace_period_ns.map(|ns| (ns.max(0) + 999_999_999) / 1_000_000_000),
        healthcheck: c.healthcheck.as_ref().and_then(health_config),
        tty: c.tty.then_some(true),
        open_stdin: c.open_stdin.then_some(true),
        host_config: Some(host_config),
        ..Default::default()
    })
}

/// The spec's health check as the engine runs it (`None`: the image's
/// HEALTHCHECK; `["NONE"]`, `--no-healthcheck`, turns that off). Unset
/// durations and retries are left to the engine (the image's, else
/// Docker's defaults), as Swarm leaves them.
fn health_config(h: &shoal_proto::HealthConfig) -> Option<HealthConfig> {
    let given = !h.test.is_empty()
        || h.interval_ns > 0
        || h.timeout_ns > 0
        || h.retries > 0
        || h.start_period_ns > 0
        || h.start_interval_ns > 0;
    if !given {
        return None;
    }
    let positive = |n: i64| (n > 0).then_some(n);
    Some(HealthConfig {
        // No command: the image's, with the settings given here.
        test: (!h.test.is_empty()).then(|| h.test.clone()),
        interval: positive(h.interval_ns),
        timeout: positive(h.timeout_ns),
        retries: (h.retries > 0).then_some(h.retries as i64),
        start_period: positive(h.start_period_ns),
        start_interval: positive(h.start_interval_ns),
    })
}

/// A mount of the spec as the engine's: a bind of a node path (which
/// must exist, as in Swarm), a named volume of the engine (made on first
/// use with the driver, options and labels asked, else the local
/// driver), or a tmpfs of the size and mode asked.
fn mount(m: &shoal_proto::Mount) -> Mount {
    let typ = match m.r#type() {
        MountType::Bind => EngineMount::BIND,
        MountType::Volume => EngineMount::VOLUME,
        MountType::Tmpfs => EngineMount::TMPFS,
    };
    let map = |m: &HashMap<String, String>| (!m.is_empty()).then(|| m.clone());
    let volume_options = m.volume_options.as_ref().map(|v| MountVolumeOptions {
        no_copy: v.no_copy.then_some(true),
        labels: map(&v.labels),
        driver_config: (!v.driver.is_empty() || !v.driver_options.is_empty()).then(|| MountVolumeOptionsDriverConfig {
            name: (!v.driver.is_empty()).then(|| v.driver.clone()),
            options: map(&v.driver_options),
        }),
        ..Default::default()
    });
    let tmpfs_options = m.tmpfs_options.as_ref().map(|t| MountTmpfsOptions {
        size_bytes: (t.size_bytes > 0).then_some(t.size_bytes),
        mode: (t.mode > 0).then_some(i64::from(t.mode)),
        ..Default::default()
    });
    let bind_options = m.bind_options.as_ref().filter(|b| !b.propagation.is_empty()).map(|b| MountBindOptions {
        // The names are checked when the spec is made; unknown ones
        // leave the engine's default.
        propagation: serde_json::from_value(serde_json::Value::String(b.propagation.clone())).ok(),
        ..Default::default()
    });
    Mount {
        typ: Some(typ),
        source: (!m.source.is_empty()).then(|| m.source.clone()),
        target: Some(m.target.clone()),
        read_only: m.read_only.then_some(true),
        bind_options,
        volume_options,
        tmpfs_options,
        ..Default::default()
    }
}

/// The engine's json-file driver keeping what the task's log options
/// allow (`max-file` only means something with `max-size`).
fn log_config(logs: LogLimits) -> HostConfigLogConfig {
    let config = match logs.max_size {
        Some(size) => HashMap::from([
            ("max-size".to_string(), size.to_string()),
            ("max-file".to_string(), logs.max_files.to_string()),
        ]),
        None => HashMap::new(),
    };
    HostConfigLogConfig { typ: Some("json-file".into()), config: Some(config) }
}

#[cfg(test)]
mod tests {
    use shoal_proto::{ContainerSpec, LogDriver, ResourceRequirements, TaskSpec};

    use super::*;

    fn task(container: ContainerSpec) -> Task {
        Task {
            id: "t1".into(),
            service_id: "s1".into(),
            service_name: "web".into(),
            slot: 2,
            node_id: "n1".into(),
            spec: Some(TaskSpec { container: Some(container), ..Default::default() }),
            ..Default::default()
        }
    }

    #[test]
    fn named_as_swarm_names_its_containers() {
        let mut t = task(Default::default());
        assert_eq!(name(&t), "web.2.t1");
        t.slot = 0;
        assert_eq!(name(&t), "web.n1.t1", "a global service's task");
    }

    #[test]
    fn shoal_labels_win_over_the_specs() {
        let t = task(ContainerSpec {
            labels: [("io.shoal.node.id".into(), "forged".into()), ("com.docker.stack.namespace".into(), "st".into())]
                .into(),
            ..Default::default()
        });
        let labels = labels(&t, "n1", TASK);
        assert_eq!(labels[NODE_LABEL], "n1");
        assert_eq!(labels[TASK_LABEL], "t1");
        assert_eq!(labels[TASK_NAME_LABEL], "web.2.t1");
        assert_eq!(labels[SERVICE_ID_LABEL], "s1");
        assert_eq!(labels[SERVICE_NAME_LABEL], "web");
        assert_eq!(labels["com.docker.stack.namespace"], "st");
        assert_eq!(labels[ROLE_LABEL], "task");
    }

    #[test]
    fn a_task_on_networks_joins_its_sandbox() {
        let t = task(ContainerSpec { image: "bb".into(), hostname: "h".into(), ..Default::default() });
        let sandbox = sandbox_body(&t, "n1", "shoal-pause:1");
        assert_eq!(sandbox.image.as_deref(), Some("shoal-pause:1"));
        assert_eq!(sandbox.hostname.as_deref(), Some("h"));
        assert_eq!(sandbox.labels.unwrap()[ROLE_LABEL], "sandbox");
        assert_eq!(sandbox.host_config.unwrap().network_mode.as_deref(), Some("none"));
        assert_eq!(sandbox_name(&t), "web.2.t1.sandbox");
        let body = create_body(&t, "n1", Some(Sandboxed { sandbox_id: "abc", resolv_conf: "/d/resolv.conf" })).unwrap();
        assert_eq!(body.hostname, None, "the sandbox's");
        let host = body.host_config.unwrap();
        assert_eq!(host.network_mode.as_deref(), Some("container:abc"));
        let resolv = &host.mounts.unwrap()[0];
        assert_eq!(
            (resolv.source.as_deref(), resolv.target.as_deref()),
            (Some("/d/resolv.conf"), Some("/etc/resolv.conf"))
        );
    }

    #[test]
    fn the_spec_becomes_the_create_request() {
        let mut t = task(ContainerSpec {
            image: "bb:1".into(),
            args: vec!["sleep".into(), "1000".into()],
            env: vec!["A=1".into()],
            user: "1000:1000".into(),
            dir: "/srv".into(),
            hostname: "h".into(),
            stop_signal: "SIGUSR1".into(),
            stop_grace_period_ns: Some(1_500_000_000),
            pids_limit: 50,
            command: vec!["/bin/sh".into(), "-c".into()],
            init: Some(true),
            read_only: true,
            ..Default::default()
        });
        let spec = t.spec.as_mut().unwrap();
        spec.resources = Some(ResourceRequirements {
            limits: Some(shoal_proto::Resources { nano_cpus: 500_000_000, memory_bytes: 64 << 20 }),
            ..Default::default()
        });
        spec.log_driver = Some(LogDriver {
            name: "json-file".into(),
            options: [("max-size".into(), "1k".into()), ("max-file".into(), "2".into())].into(),
        });
        let body = create_body(&t, "n1", None).unwrap();
        assert_eq!(body.image.as_deref(), Some("bb:1"));
        assert_eq!(body.cmd, Some(vec!["sleep".to_string(), "1000".to_string()]));
        assert_eq!(body.entrypoint, Some(vec!["/bin/sh".to_string(), "-c".to_string()]));
        assert_eq!(body.env, Some(vec!["A=1".to_string()]));
        assert_eq!(body.user.as_deref(), Some("1000:1000"));
        assert_eq!(body.working_dir.as_deref(), Some("/srv"));
        assert_eq!(body.hostname.as_deref(), Some("h"));
        assert_eq!(body.stop_signal.as_deref(), Some("SIGUSR1"));
        assert_eq!(body.stop_timeout, Some(2), "rounded up to whole seconds");
        let host = body.host_config.unwrap();
        assert_eq!((host.nano_cpus, host.memory, host.pids_limit), (Some(500_000_000), Some(64 << 20), Some(50)));
        assert_eq!((host.init, host.readonly_rootfs), (Some(true), Some(true)));
        let log = host.log_config.unwrap();
        assert_eq!(log.typ.as_deref(), Some("json-file"));
        assert_eq!(
            log.config.unwrap(),
            HashMap::from([("max-size".into(), "1024".into()), ("max-file".into(), "2".into())])
        );
    }

    #[test]
    fn what_the_spec_leaves_unset_the_image_decides() {
        let body = create_body(&task(ContainerSpec { image: "bb".into(), ..Default::default() }), "n1", None).unwrap();
        assert_eq!((body.cmd, body.env, body.user, body.working_dir, body.hostname), (None, None, None, None, None));
        assert_eq!(body.entrypoint, None, "the image's entrypoint");
        assert_eq!((body.stop_signal, body.stop_timeout), (None, None));
        let host = body.host_config.unwrap();
        assert_eq!((host.nano_cpus, host.memory, host.pids_limit), (None, None, None));
        assert_eq!((host.init, host.readonly_rootfs), (None, None), "the engine's defaults");
        assert_eq!(host.network_mode, None, "no network: the engine's default bridge, as Swarm");
        assert_eq!(host.mounts, None);
        assert_eq!(body.healthcheck, None, "the image's own HEALTHCHECK");
    }

    #[test]
    fn health_checks_override_the_images_or_turn_it_off() {
        let check = |test: &[&str], interval_ns: i64, retries: u64| {
            let healthcheck = shoal_proto::HealthConfig {
                test: test.iter().map(|s| s.to_string()).collect(),
                interval_ns,
                retries,
                ..Default::default()
            };
            let t = task(ContainerSpec { healthcheck: Some(healthcheck), ..Default::default() });
            create_body(&t, "n1", None).unwrap().healthcheck
        };
        let none = check(&["NONE"], 0, 0).unwrap();
        assert_eq!(none.test, Some(vec!["NONE".to_string()]));
        assert_eq!((none.interval, none.retries), (None, None));
        let shell = check(&["CMD-SHELL", "true"], 2_000_000_000, 3).unwrap();
        assert_eq!(shell.test, Some(vec!["CMD-SHELL".to_string(), "true".to_string()]));
        assert_eq!((shell.interval, shell.retries), (Some(2_000_000_000), Some(3)));
        let settings = check(&[], 2_000_000_000, 0).unwrap();
        assert_eq!((settings.test, settings.interval), (None, Some(2_000_000_000)), "the image's command, this often");
        assert_eq!(check(&[], 0, 0), None, "the image's, whole");
    }

    #[test]
    fn capabilities_ulimits_and_a_terminal_become_the_engines() {
        let t = task(ContainerSpec {
            capability_add: vec!["NET_ADMIN".into()],
            capability_drop: vec!["ALL".into()],
            ulimits: vec![shoal_proto::Ulimit { name: "nofile".into(), soft: 100, hard: 200 }],
            tty: true,
            open_stdin: true,
            ..Default::default()
        });
        let body = create_body(&t, "n1", None).unwrap();
        let host = body.host_config.unwrap();
        assert_eq!((host.cap_add, host.cap_drop), (Some(vec!["NET_ADMIN".into()]), Some(vec!["ALL".into()])));
        let limit = host.ulimits.unwrap().remove(0);
        assert_eq!((limit.name.as_deref(), limit.soft, limit.hard), (Some("nofile"), Some(100), Some(200)));
        assert_eq!((body.tty, body.open_stdin), (Some(true), Some(true)));
        let plain = create_body(&task(ContainerSpec::default()), "n1", None).unwrap();
        assert_eq!((plain.tty, plain.host_config.unwrap().cap_add), (None, None));
    }

    #[test]
    fn mounts_become_the_engines() {
        let m = |kind: MountType, source: &str, read_only: bool| shoal_proto::Mount {
            r#type: kind as i32,
            source: source.into(),
            target: "/t".into(),
            read_only,
            ..Default::default()
        };
        let t = task(ContainerSpec {
            mounts: vec![
                m(MountType::Bind, "/srv", true),
                m(MountType::Volume, "st_data", false),
                m(MountType::Tmpfs, "", false),
            ],
            ..Default::default()
        });
        let mounts = create_body(&t, "n1", None).unwrap().host_config.unwrap().mounts.unwrap();
        let seen: Vec<_> =
            mounts.iter().map(|m| (m.typ, m.source.as_deref(), m.target.as_deref(), m.read_only)).collect();
        assert_eq!(
            seen,
            [
                (Some(EngineMount::BIND), Some("/srv"), Some("/t"), Some(true)),
                (Some(EngineMount::VOLUME), Some("st_data"), Some("/t"), None),
                (Some(EngineMount::TMPFS), None, Some("/t"), None),
            ]
        );
    }

    #[test]
    fn volume_and_tmpfs_options_become_the_engines() {
        let volume = shoal_proto::Mount {
            r#type: MountType::Volume as i32,
            source: "st_db".into(),
            target: "/d".into(),
            volume_options: Some(shoal_proto::VolumeOptions {
                no_copy: true,
                labels: HashMap::from([("team".into(), "a".into())]),
                driver: "local".into(),
                driver_options: HashMap::from([("type".into(), "tmpfs".into())]),
            }),
            ..Default::default()
        };
        let tmpfs = shoal_proto::Mount {
            r#type: MountType::Tmpfs as i32,
            target: "/t".into(),
            tmpfs_options: Some(shoal_proto::TmpfsOptions { size_bytes: 1 << 20, mode: 0o1770 }),
            ..Default::default()
        };
        let t = task(ContainerSpec { mounts: vec![volume, tmpfs], ..Default::default() });
        let mounts = create_body(&t, "n1", None).unwrap().host_config.unwrap().mounts.unwrap();
        let v = mounts[0].volume_options.clone().unwrap();
        assert_eq!(v.no_copy, Some(true));
        assert_eq!(v.labels, Some(HashMap::from([("team".into(), "a".into())])));
        let driver = v.driver_config.unwrap();
        assert_eq!(driver.name.as_deref(), Some("local"));
        assert_eq!(driver.options, Some(HashMap::from([("type".into(), "tmpfs".into())])));
        let t = mounts[1].tmpfs_options.clone().unwrap();
        assert_eq!((t.size_bytes, t.mode), (Some(1 << 20), Some(0o1770)));
        let bind = shoal_proto::Mount {
            source: "/srv".into(),
            target: "/s".into(),
            bind_options: Some(shoal_proto::BindOptions { propagation: "rslave".into() }),
            ..Default::default()
        };
        let t = task(ContainerSpec { mounts: vec![bind], ..Default::default() });
        let mounts = create_body(&t, "n1", None).unwrap().host_config.unwrap().mounts.unwrap();
        let propagation = mounts[0].bind_options.clone().unwrap().propagation;
        assert_eq!(propagation, Some(bollard::models::MountBindOptionsPropagationEnum::RSLAVE));
    }

    #[test]
    fn a_bad_log_option_is_refused() {
        let mut t = task(ContainerSpec { image: "bb".into(), ..Default::default() });
        t.spec.as_mut().unwrap().log_driver = Some(LogDriver { name: "syslog".into(), options: Default::default() });
        assert!(create_body(&t, "n1", None).unwrap_err().contains("--log-driver"));
    }
}
