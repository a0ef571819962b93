//! Flag values and `service create` flags, turned into a service spec.
//! A bad value is a usage error naming the flag (clap prints it and
//! exits 2); nothing reaches the daemon.

use std::collections::HashMap;

use clap::Args;
use shoal_proto::{
    Annotations, ContainerSpec, EndpointMode, EndpointSpec, FileReference, GlobalJob, GlobalService, LogDriver, Mount,
    NetworkAttachmentConfig, Placement, PlacementPreference, PortConfig, ReplicatedJob, ReplicatedService,
    ResourceRequirements, Resources, RestartCondition, RestartPolicy, ServiceSpec, TaskSpec, service_spec::Mode,
};

use shoal_spec::update;

use super::policy::{HealthArgs, RestartArgs, RollbackPolicyArgs, UpdatePolicyArgs};
use super::progress::WaitFlags;
use shoal_spec::text::{duration, file_ref, mount, publish, units};

/// A count: a non-negative integer.
pub fn count(text: &str) -> Result<u64, String> {
    text.parse().map_err(|_| format!("expected a non-negative number, got {text:?}"))
}

/// A duration like `5s`, `1m30s`, `100ms`.
pub fn duration_ns(text: &str) -> Result<i64, String> {
    duration::parse(text)
}

/// `KEY=VALUE`, or `KEY` with an empty value (labels).
pub fn key_value(text: &str) -> Result<(String, String), String> {
    let (k, v) = text.split_once('=').unwrap_or((text, ""));
    if k.is_empty() {
        return Err(format!("expected KEY=VALUE, got {text:?}"));
    }
    Ok((k.to_string(), v.to_string()))
}

/// `KEY=VALUE`; a bare `KEY` takes its value from this shell's
/// environment, as `docker service create --env KEY` does.
pub fn env_var(text: &str) -> Result<String, String> {
    match text.split_once('=') {
        Some(("", _)) => Err(format!("expected KEY=VALUE, got {text:?}")),
        Some(_) => Ok(text.to_string()),
        None if text.is_empty() => Err("expected KEY=VALUE, got an empty value".into()),
        None => Ok(std::env::var(text).map(|v| format!("{text}={v}")).unwrap_or_else(|_| text.to_string())),
    }
}

/// `--mount`: see [`mount`].
pub fn mount(text: &str) -> Result<Mount, String> {
    mount::parse(text)
}

/// The ports one `--publish` value publishes.
#[derive(Debug, Clone)]
pub struct Published(pub Vec<PortConfig>);

/// `--publish`/`-p`: see [`publish`].
pub fn published(text: &str) -> Result<Published, String> {
    publish::parse(text).map(Published)
}

/// `--network NAME`, or `name=NAME[,alias=ALIAS]...`.
pub fn network(text: &str) -> Result<NetworkAttachmentConfig, String> {
    if !text.contains('=') {
        return Ok(NetworkAttachmentConfig { target: text.to_string(), aliases: Vec::new() });
    }
    let mut attachment = NetworkAttachmentConfig::default();
    for field in text.split(',').filter(|f| !f.is_empty()) {
        match field.split_once('=') {
            Some(("name" | "target", v)) => attachment.target = v.to_string(),
            Some(("alias", v)) => attachment.aliases.push(v.to_string()),
            _ => return Err(format!("unknown or malformed field {field:?} (expected name, alias): {text:?}")),
        }
    }
    if attachment.target.is_empty() {
        return Err(format!("name is required: {text:?}"));
    }
    Ok(attachment)
}

/// `--endpoint-mode vip|dnsrr`.
pub fn endpoint_mode(text: &str) -> Result<EndpointMode, String> {
    EndpointMode::from_name(text).ok_or_else(|| format!("expected vip or dnsrr, got {text:?}"))
}

/// `spread=node.labels.KEY` -> the spread descriptor (the daemon checks it).
pub fn placement_pref(text: &str) -> Result<String, String> {
    match text.split_once('=') {
        Some((strategy, descriptor)) if strategy.eq_ignore_ascii_case("spread") && !descriptor.is_empty() => {
            Ok(descriptor.to_string())
        }
        _ => Err(format!("expected spread=node.labels.KEY, got {text:?}")),
    }
}

/// `--reserve-cpu`, `--reserve-memory`, `--limit-cpu`, `--limit-memory`,
/// `--limit-pids`, of `service create` and `service update` (where 0
/// removes a value).
#[derive(Args, Debug)]
pub struct ResourceArgs {
    /// Reserve CPUs
    #[arg(long, value_name = "DECIMAL", value_parser = units::nano_cpus, allow_hyphen_values = true)]
    pub reserve_cpu: Option<i64>,
    /// Reserve memory
    #[arg(long, value_name = "BYTES", value_parser = units::memory_bytes)]
    pub reserve_memory: Option<i64>,
    /// Limit CPUs
    #[arg(long, value_name = "DECIMAL", value_parser = units::nano_cpus, allow_hyphen_values = true)]
    pub limit_cpu: Option<i64>,
    /// Limit memory
    #[arg(long, value_name = "BYTES", value_parser = units::memory_bytes)]
    pub limit_memory: Option<i64>,
    /// Limit maximum number of processes (default 0 = unlimited)
    #[arg(long, value_name = "INT", value_parser = count)]
    pub limit_pids: Option<u64>,
}

impl ResourceArgs {
    /// Sets in `r` what the flags give.
    pub fn apply(&self, r: &mut ResourceRequirements) {
        set(&mut r.reservations, self.reserve_cpu, self.reserve_memory);
        set(&mut r.limits, self.limit_cpu, self.limit_memory);
    }

    /// Sets the pids limit in `c` if the flag gives one (the spec keeps it
    /// with the container, as swarmkit does).
    pub fn apply_pids(&self, c: &mut ContainerSpec) {
        if let Some(n) = self.limit_pids {
            c.pids_limit = i64::try_from(n).unwrap_or(i64::MAX);
        }
    }
}

fn set(size: &mut Option<Resources>, cpus: Option<i64>, memory: Option<i64>) {
    if cpus.is_none() && memory.is_none() {
        return;
    }
    let r = size.get_or_insert_with(Resources::default);
    if let Some(c) = cpus {
        r.nano_cpus = c;
    }
    if let Some(m) = memory {
        r.memory_bytes = m;
    }
}

/// `--log-driver` and `--log-opt` (service create and update).
#[derive(Args, Debug)]
pub struct LogArgs {
    /// Logging driver for the tasks: json-file (output kept on their node, read by `service logs`)
    #[arg(long, value_name = "DRIVER")]
    pub log_driver: Option<String>,
    /// Logging driver options: max-size=10m (per file; -1: no limit), max-file=3 (files kept)
    #[arg(long = "log-opt", value_name = "KEY=VALUE", value_parser = key_value)]
    pub log_opt: Vec<(String, String)>,
}

impl LogArgs {
    /// Applies the flags to a task spec's log driver: `--log-driver`
    /// replaces it (with the `--log-opt` given), `--log-opt` alone sets
    /// options of the one there (Docker ignores it without
    /// `--log-driver`; shoal does not drop a flag without a word).
    pub fn apply(&self, driver: &mut Option<LogDriver>) {
        if let Some(name) = &self.log_driver {
            *driver = Some(LogDriver { name: name.clone(), options: map(self.log_opt.clone()) });
        } else if !self.log_opt.is_empty() {
            driver.get_or_insert_with(Default::default).options.extend(self.log_opt.iter().cloned());
        }
    }
}

/// Flags of `service create`.
#[derive(Args, Debug)]
pub struct CreateArgs {
    /// Service name
    #[arg(long)]
    pub name: Option<String>,
    /// Service mode: replicated (N tasks), global (one task on every node),
    /// replicated-job or global-job (tasks that run to completion)
    #[arg(long, default_value = "replicated", value_parser = ["replicated", "global", "replicated-job", "global-job"])]
    pub mode: String,
    /// Number of job tasks to run at once [default: --replicas]
    #[arg(long, value_name = "N", value_parser = count, allow_hyphen_values = true)]
    pub max_concurrent: Option<u64>,
    /// Number of tasks
    #[arg(long, value_name = "N", value_parser = count, allow_hyphen_values = true)]
    pub replicas: Option<u64>,
    /// Service labels
    #[arg(short, long = "label", value_name = "KEY=VALUE", value_parser = key_value)]
    pub label: Vec<(String, String)>,
    /// Container (task) labels
    #[arg(long = "container-label", value_name = "KEY=VALUE", value_parser = key_value)]
    pub container_label: Vec<(String, String)>,
    #[command(flatten)]
    pub restart: RestartArgs,
    #[command(flatten)]
    pub health: HealthArgs,
    #[command(flatten)]
    pub update: UpdatePolicyArgs,
    #[command(flatten)]
    pub rollback: RollbackPolicyArgs,
    /// Signal to stop the program [default: SIGTERM]
    #[arg(long, value_name = "SIGNAL")]
    pub stop_signal: Option<String>,
    /// Time to wait before force killing the program (ns|us|ms|s|m|h) [default: 10s]
    #[arg(long, value_name = "DURATION", value_parser = duration_ns)]
    pub stop_grace_period: Option<i64>,
    /// Placement constraints (node.labels.zone==east, node.role!=manager...)
    #[arg(long = "constraint", value_name = "EXPRESSION")]
    pub constraint: Vec<String>,
    /// Add a placement preference (spread=node.labels.KEY)
    #[arg(long = "placement-pref", value_name = "PREF", value_parser = placement_pref)]
    pub placement_pref: Vec<String>,
    /// Maximum number of tasks per node (default 0 = unlimited)
    #[arg(long = "replicas-max-per-node", visible_alias = "max-replicas", value_name = "N", value_parser = count, allow_hyphen_values = true)]
    pub max_replicas: Option<u64>,
    #[command(flatten)]
    pub resources: ResourceArgs,
    /// Publish a port: [PUBLISHED:]TARGET[/PROTOCOL], or published=P,target=T[,protocol=tcp|udp][,mode=ingress|host]
    #[arg(short, long = "publish", value_name = "PORT", value_parser = published)]
    pub publish: Vec<Published>,
    /// Network attachments (NAME, or name=NAME,alias=ALIAS)
    #[arg(long = "network", value_name = "NETWORK", value_parser = network)]
    pub network: Vec<NetworkAttachmentConfig>,
    /// Endpoint mode: vip (a virtual IP per network) or dnsrr (DNS round robin)
    #[arg(long, value_name = "MODE", value_parser = endpoint_mode)]
    pub endpoint_mode: Option<EndpointMode>,
    /// Runtime that runs the tasks: process or docker [default: the
    /// cluster's default runtime]
    #[arg(long, value_name = "RUNTIME", value_parser = shoal_spec::runtime::RUNTIMES)]
    pub runtime: Option<String>,
    #[command(flatten)]
    pub logs: LogArgs,
    /// Send registry authentication details to the nodes (from this client's Docker configuration)
    #[arg(long)]
    pub with_registry_auth: bool,
    /// Give the tasks a secret: NAME, or source=NAME[,target=PATH][,uid=N][,gid=N][,mode=0444]
    #[arg(long = "secret", value_name = "SECRET", value_parser = file_ref::parse)]
    pub secret: Vec<FileReference>,
    /// Give the tasks a config: NAME, or source=NAME[,target=PATH][,uid=N][,gid=N][,mode=0444]
    #[arg(long = "config", value_name = "CONFIG", value_parser = file_ref::parse)]
    pub config: Vec<FileReference>,
    #[command(flatten)]
    pub engine: super::engine_opts::EngineArgs,
    #[command(flatten)]
    pub schedule: super::schedule::ScheduleArgs,
    /// Rebalance the service when a node becomes able to take tasks (it joins, comes back, is made active)
    #[arg(long)]
    pub rebalance_on_join: bool,
    #[command(flatten)]
    pub wait: WaitFlags,
    #[command(flatten)]
    pub program: ProgramArgs,
}

/// What to run and with what (`service create`, `run`).
#[derive(Args, Debug)]
pub struct ProgramArgs {
    /// Set environment variables (KEY=VALUE)
    #[arg(short, long = "env", value_name = "KEY=VALUE", value_parser = env_var)]
    pub env: Vec<String>,
    /// Attach a mount: type=bind|volume|tmpfs,source=..,target=..[,readonly][,volume-*|tmpfs-* options]
    #[arg(long = "mount", value_name = "MOUNT", value_parser = mount)]
    pub mounts: Vec<Mount>,
    /// Working directory of the program
    #[arg(short, long)]
    pub workdir: Option<String>,
    /// Username or UID (format: <name|uid>[:<group|gid>])
    #[arg(short, long)]
    pub user: Option<String>,
    /// Replace the image's ENTRYPOINT, as one shell-quoted string (docker runtime)
    #[arg(long, value_name = "COMMAND", value_parser = super::update::shell_words, allow_hyphen_values = true)]
    pub entrypoint: Option<super::update::ShellWords>,
    /// Run an init inside each container, forwarding signals and reaping processes (docker runtime)
    #[arg(long)]
    pub init: bool,
    /// Mount the container's root filesystem read-only (docker runtime)
    #[arg(long)]
    pub read_only: bool,
    /// The program to run (a path, or a name found in PATH)
    #[arg(value_name = "IMAGE")]
    pub image: String,
    /// Its arguments
    #[arg(value_name = "ARG", trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<String>,
}

impl ProgramArgs {
    /// The container spec these flags describe (the rest left default).
    pub fn container(&self) -> ContainerSpec {
        ContainerSpec {
            image: self.image.clone(),
            args: self.args.clone(),
            env: self.env.clone(),
            dir: self.workdir.clone().unwrap_or_default(),
            user: self.user.clone().unwrap_or_default(),
            mounts: self.mounts.clone(),
            command: self.entrypoint.clone().map(|w| w.0).unwrap_or_default(),
            init: self.init.then_some(true),
            read_only: self.read_only,
            ..Default::default()
        }
    }
}

fn map(pairs: Vec<(String, String)>) -> HashMap<String, String> {
    pairs.into_iter().collect()
}

impl CreateArgs {
    /// The spec these flags describe; the daemon fills in the defaults.
    pub fn spec(&self) -> ServiceSpec {
        // A job is restarted only if it fails, as Docker does.
        let default_condition =
            if self.mode.ends_with("-job") { RestartCondition::OnFailure } else { RestartCondition::Any };
        let mut restart = RestartPolicy { condition: default_condition as i32, ..Default::default() };
        self.restart.apply(&mut restart);
        let mut container = ContainerSpec {
            labels: map(self.container_label.clone()),
            stop_signal: self.stop_signal.clone().unwrap_or_default(),
            stop_grace_period_ns: self.stop_grace_period,
            secrets: self.secret.clone(),
            configs: self.config.clone(),
            ..self.program.container()
        };
        self.health.apply(&mut container.healthcheck);
        self.resources.apply_pids(&mut container);
        self.engine.apply(&mut container);
        let mut log_driver = None;
        self.logs.apply(&mut log_driver);
        ServiceSpec {
            annotations: Some(Annotations {
                name: self.name.clone().unwrap_or_default(),
                labels: map(self.label.clone()),
            }),
            task: Some(TaskSpec {
                container: Some(container),
                restart: Some(restart),
                placement: Some(self.placement()),
                resources: Some(self.resources()),
                runtime: self.runtime.clone().unwrap_or_default(),
                networks: self.network.clone(),
                log_driver,
                ..Default::default()
            }),
            endpoint: self.endpoint(),
            mode: Some(match self.mode.as_str() {
                "global" => Mode::Global(GlobalService {}),
                "global-job" => Mode::GlobalJob(GlobalJob {}),
                "replicated-job" => Mode::ReplicatedJob(ReplicatedJob {
                    total_completions: self.replicas.unwrap_or(1),
                    max_concurrent: self.max_concurrent.unwrap_or(0),
                }),
                _ => Mode::Replicated(ReplicatedService { replicas: self.replicas.unwrap_or(1) }),
            }),
            update: self.update.any().then(|| {
                let mut c = update::default_config();
                self.update.apply(&mut c);
                c
            }),
            rollback: self.rollback.any().then(|| {
                let mut c = update::default_config();
                self.rollback.apply(&mut c);
                c
            }),
            depends_on: Vec::new(),
            schedule: None,
            rebalance_on_join: self.rebalance_on_join,
        }
    }
}

impl CreateArgs {
    fn placement(&self) -> Placement {
        Placement {
            constraints: self.constraint.clone(),
            preferences: self
                .placement_pref
                .iter()
                .map(|d| PlacementPreference { spread_descriptor: d.clone() })
                .collect(),
            max_replicas: self.max_replicas.unwrap_or(0),
            platforms: Vec::new(),
        }
    }

    fn endpoint(&self) -> Option<EndpointSpec> {
        let ports: Vec<PortConfig> = self.publish.iter().flat_map(|p| p.0.iter().copied()).collect();
        if ports.is_empty() && self.endpoint_mode.is_none() {
            return None;
        }
        Some(EndpointSpec { mode: self.endpoint_mode.unwrap_or_default() as i32, ports })
    }

    fn resources(&self) -> ResourceRequirements {
        let mut r = ResourceRequirements::default();
        self.resources.apply(&mut r);
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_errors_say_what_was_expected() {
        assert_eq!(count("3"), Ok(3));
        assert_eq!(count("x"), Err("expected a non-negative number, got \"x\"".into()));
        assert!(count("-1").is_err());
        assert_eq!(key_value("a=b"), Ok(("a".into(), "b".into())));
        assert_eq!(key_value("a"), Ok(("a".into(), "".into())));
        assert!(key_value("=b").is_err());
        assert!(env_var("=b").is_err());
        assert_eq!(env_var("A=1"), Ok("A=1".into()));
        assert_eq!(placement_pref("spread=node.labels.dc"), Ok("node.labels.dc".into()));
        assert_eq!(
            placement_pref("node.labels.dc"),
            Err("expected spread=node.labels.KEY, got \"node.labels.dc\"".into())
        );
        assert!(placement_pref("spread=").is_err());
    }

    #[test]
    fn dockers_flag_spellings_and_ours_both_parse() {
        use clap::Parser;
        #[derive(Parser)]
        struct Cli {
            #[command(flatten)]
            args: CreateArgs,
        }
        for flag in ["--replicas-max-per-node", "--max-replicas"] {
            let cli = Cli::try_parse_from(["create", flag, "2", "--secret", "source=pw,mode=0400", "sleep"]).unwrap();
            let spec = cli.args.spec();
            let task = spec.task.unwrap();
            assert_eq!(task.placement.unwrap().max_replicas, 2, "{flag}");
            assert_eq!(task.container.unwrap().secrets[0].mode, Some(0o400));
        }
    }
}
