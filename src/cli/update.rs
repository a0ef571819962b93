//! `shoal service update`, `service rollback` and `service restart`:
//! change a service's spec in place. A change to the task template (the
//! program, its environment, resources, placement...) rolls out as the
//! service's update config says; other changes (replicas, the update
//! config itself) restart nothing.

use std::collections::HashMap;

use anyhow::{Result, bail};
use clap::Args;
use shoal_proto::{
    ContainerSpec, EndpointMode, EndpointSpec, FileReference, GetServiceRequest, ListNetworksRequest, Mount, Network,
    NetworkAttachmentConfig, Placement, PlacementPreference, RebalanceServiceRequest, ResourceRequirements, Service,
    ServiceSpec, UpdateServiceRequest, service_spec::Mode,
};

use super::Ctx;
use super::args::{
    LogArgs, Published, ResourceArgs, count, duration_ns, endpoint_mode, env_var, key_value, mount, network,
    placement_pref, published,
};
use super::policy::{HealthArgs, RestartArgs, RollbackPolicyArgs, UpdatePolicyArgs};
use super::progress::WaitFlags;
use crate::client::status;

/// `--args`: a shell-quoted string, as `docker service update --args`.
#[derive(Debug, Clone)]
pub struct ShellWords(pub Vec<String>);

pub fn shell_words(text: &str) -> Result<ShellWords, String> {
    let words = shlex::split(text).ok_or_else(|| format!("expected shell words, got {text:?} (unbalanced quotes?)"))?;
    Ok(ShellWords(words))
}

/// Flags of `service update`.
#[derive(Args, Debug)]
pub struct UpdateArgs {
    /// The program to run (a path, or a name found in PATH)
    #[arg(long, value_name = "IMAGE")]
    pub image: Option<String>,
    /// Send registry authentication details to the nodes (from this client's Docker configuration)
    #[arg(long)]
    pub with_registry_auth: bool,
    /// Runtime that runs the tasks: process or docker
    #[arg(long, value_name = "RUNTIME", value_parser = shoal_spec::runtime::RUNTIMES)]
    pub runtime: Option<String>,
    /// Its arguments, as one shell-quoted string
    #[arg(long, value_name = "COMMAND", value_parser = shell_words, allow_hyphen_values = true)]
    pub args: Option<ShellWords>,
    /// Replace the image's ENTRYPOINT (docker runtime; "" for the image's)
    #[arg(long, value_name = "COMMAND", value_parser = shell_words, allow_hyphen_values = true)]
    pub entrypoint: Option<ShellWords>,
    /// Run an init inside each container, forwarding signals and reaping processes (docker runtime)
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub init: Option<bool>,
    /// Mount the container's root filesystem read-only (docker runtime)
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub read_only: Option<bool>,
    /// Add or update an environment variable (KEY=VALUE)
    #[arg(long = "env-add", value_name = "KEY=VALUE", value_parser = env_var)]
    pub env_add: Vec<String>,
    /// Remove an environment variable
    #[arg(long = "env-rm", value_name = "KEY")]
    pub env_rm: Vec<String>,
    /// Add or update a service label
    #[arg(long = "label-add", value_name = "KEY=VALUE", value_parser = key_value)]
    pub label_add: Vec<(String, String)>,
    /// Remove a service label
    #[arg(long = "label-rm", value_name = "KEY")]
    pub label_rm: Vec<String>,
    /// Add or update a container (task) label
    #[arg(long = "container-label-add", value_name = "KEY=VALUE", value_parser = key_value)]
    pub container_label_add: Vec<(String, String)>,
    /// Remove a container label
    #[arg(long = "container-label-rm", value_name = "KEY")]
    pub container_label_rm: Vec<String>,
    /// Add or update a mount: type=bind|volume|tmpfs,source=..,target=..[,readonly]
    #[arg(long = "mount-add", value_name = "MOUNT", value_parser = mount)]
    pub mount_add: Vec<Mount>,
    /// Remove the mount at a target path
    #[arg(long = "mount-rm", value_name = "TARGET")]
    pub mount_rm: Vec<String>,
    /// Add or update a secret: NAME, or source=NAME[,target=PATH][,uid=N][,gid=N][,mode=0444]
    #[arg(long = "secret-add", value_name = "SECRET", value_parser = shoal_spec::text::file_ref::parse)]
    pub secret_add: Vec<FileReference>,
    /// Remove a secret (by name or id)
    #[arg(long = "secret-rm", value_name = "SECRET")]
    pub secret_rm: Vec<String>,
    /// Add or update a config: NAME, or source=NAME[,target=PATH][,uid=N][,gid=N][,mode=0444]
    #[arg(long = "config-add", value_name = "CONFIG", value_parser = shoal_spec::text::file_ref::parse)]
    pub config_add: Vec<FileReference>,
    /// Remove a config (by name or id)
    #[arg(long = "config-rm", value_name = "CONFIG")]
    pub config_rm: Vec<String>,
    /// Working directory of the program
    #[arg(short, long)]
    pub workdir: Option<String>,
    /// Username or UID (format: <name|uid>[:<group|gid>])
    #[arg(short, long)]
    pub user: Option<String>,
    /// Signal to stop the program
    #[arg(long, value_name = "SIGNAL")]
    pub stop_signal: Option<String>,
    /// Time to wait before force killing the program (ns|us|ms|s|m|h)
    #[arg(long, value_name = "DURATION", value_parser = duration_ns)]
    pub stop_grace_period: Option<i64>,
    /// Number of tasks
    #[arg(long, value_name = "N", value_parser = count, allow_hyphen_values = true)]
    pub replicas: Option<u64>,
    /// Add or update a placement constraint
    #[arg(long = "constraint-add", value_name = "EXPRESSION")]
    pub constraint_add: Vec<String>,
    /// Remove a constraint
    #[arg(long = "constraint-rm", value_name = "EXPRESSION")]
    pub constraint_rm: Vec<String>,
    /// Add a placement preference (spread=node.labels.KEY)
    #[arg(long = "placement-pref-add", value_name = "PREF", value_parser = placement_pref)]
    pub placement_pref_add: Vec<String>,
    /// Remove a placement preference
    #[arg(long = "placement-pref-rm", value_name = "PREF", value_parser = placement_pref)]
    pub placement_pref_rm: Vec<String>,
    /// Maximum number of tasks per node (0 = unlimited)
    #[arg(long = "replicas-max-per-node", visible_alias = "max-replicas", value_name = "N", value_parser = count, allow_hyphen_values = true)]
    pub max_replicas: Option<u64>,
    #[command(flatten)]
    pub resources: ResourceArgs,
    /// Add or update a published port (as --publish of service create)
    #[arg(long = "publish-add", value_name = "PORT", value_parser = published)]
    pub publish_add: Vec<Published>,
    /// Remove a published port by its target port: TARGET[/PROTOCOL]
    #[arg(long = "publish-rm", value_name = "PORT", value_parser = published)]
    pub publish_rm: Vec<Published>,
    /// Join a network (NAME, or name=NAME,alias=ALIAS)
    #[arg(long = "network-add", value_name = "NETWORK", value_parser = network)]
    pub network_add: Vec<NetworkAttachmentConfig>,
    /// Leave a network
    #[arg(long = "network-rm", value_name = "NETWORK")]
    pub network_rm: Vec<String>,
    /// Endpoint mode: vip or dnsrr
    #[arg(long, value_name = "MODE", value_parser = endpoint_mode)]
    pub endpoint_mode: Option<EndpointMode>,
    #[command(flatten)]
    pub restart: RestartArgs,
    #[command(flatten)]
    pub health: HealthArgs,
    #[command(flatten)]
    pub update: UpdatePolicyArgs,
    #[command(flatten)]
    pub rollback_policy: RollbackPolicyArgs,
    #[command(flatten)]
    pub logs: LogArgs,
    #[command(flatten)]
    pub engine: super::engine_opts::EngineUpdateArgs,
    #[command(flatten)]
    pub schedule: super::schedule::ScheduleArgs,
    /// Rebalance the service when a node becomes able to take tasks
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub rebalance_on_join: Option<bool>,
    /// Replace every task even if nothing in their spec changed
    #[arg(long)]
    pub force: bool,
    /// Roll back to the previous spec (as `service rollback`)
    #[arg(long)]
    pub rollback: bool,
    #[command(flatten)]
    pub target: RolloutArgs,
}

/// Flags of `service rollback` and `service restart`.
#[derive(Args, Debug)]
pub struct RolloutArgs {
    #[command(flatten)]
    pub wait: WaitFlags,
    #[arg(value_name = "SERVICE")]
    pub service: String,
}

/// Flags of `service rollback`.
#[derive(Args, Debug)]
pub struct RollbackArgs {
    /// The version of the service's history to return to (see `service history`) [default: the previous spec]
    #[arg(long, value_name = "VERSION", value_parser = count)]
    pub to: Option<u64>,
    #[command(flatten)]
    pub target: RolloutArgs,
}

impl UpdateArgs {
    /// `spec` with these flags applied; `networks` are the cluster's (for
    /// `--network-rm` by name).
    fn apply(&self, mut spec: ServiceSpec, networks: &[Network]) -> Result<ServiceSpec> {
        if let Some(n) = self.replicas {
            match spec.mode.as_mut() {
                Some(Mode::Replicated(r)) => r.replicas = n,
                Some(Mode::ReplicatedJob(j)) => j.total_completions = n,
                _ => bail!("--replicas: can only be used with replicated or replicated-job mode"),
            }
        }
        self.schedule.apply(&mut spec.schedule)?;
        if let Some(on) = self.rebalance_on_join {
            spec.rebalance_on_join = on;
        }
        let annotations = spec.annotations.get_or_insert_with(Default::default);
        edit_map(&mut annotations.labels, &self.label_rm, &self.label_add);
        let task = spec.task.get_or_insert_with(Default::default);
        if let Some(runtime) = &self.runtime {
            task.runtime = runtime.clone();
        }
        self.apply_container(task.container.get_or_insert_with(ContainerSpec::default));
        let placement = task.placement.get_or_insert_with(Placement::default);
        edit(&mut placement.constraints, &self.constraint_rm, &self.constraint_add, |c| c.trim().to_string());
        let mut prefs: Vec<String> = placement.preferences.iter().map(|p| p.spread_descriptor.clone()).collect();
        edit(&mut prefs, &self.placement_pref_rm, &self.placement_pref_add, |p| p.trim().to_string());
        placement.preferences = prefs.into_iter().map(|d| PlacementPreference { spread_descriptor: d }).collect();
        if let Some(n) = self.max_replicas {
            placement.max_replicas = n;
        }
        self.resources.apply(task.resources.get_or_insert_with(ResourceRequirements::default));
        self.resources.apply_pids(task.container.get_or_insert_with(ContainerSpec::default));
        self.restart.apply(task.restart.get_or_insert_with(Default::default));
        self.logs.apply(&mut task.log_driver);
        if self.force {
            task.force_update += 1;
        }
        self.apply_networks(&mut task.networks, networks)?;
        self.apply_endpoint(spec.endpoint.get_or_insert_with(EndpointSpec::default));
        self.update.apply(spec.update.get_or_insert_with(shoal_spec::update::default_config));
        self.rollback_policy.apply(spec.rollback.get_or_insert_with(shoal_spec::update::default_config));
        Ok(spec)
    }

    /// `--network-rm` by name, id or id prefix, then `--network-add`.
    fn apply_networks(&self, attached: &mut Vec<NetworkAttachmentConfig>, networks: &[Network]) -> Result<()> {
        let matches = |reference: &str, id: &str| {
            id == reference
                || networks.iter().any(|n| n.id == id && (n.name() == reference || n.id.starts_with(reference)))
        };
        for reference in &self.network_rm {
            let before = attached.len();
            attached.retain(|a| !matches(reference, &a.target));
            if attached.len() == before {
                bail!("--network-rm: the service is not on network {reference:?}");
            }
        }
        for add in &self.network_add {
            attached.retain(|a| !matches(&add.target, &a.target));
            attached.push(add.clone());
        }
        Ok(())
    }

    /// `--publish-rm` by target port (and protocol), then `--publish-add`
    /// (replacing a port published on the same number), `--endpoint-mode`.
    fn apply_endpoint(&self, endpoint: &mut EndpointSpec) {
        for Published(gone) in &self.publish_rm {
            endpoint.ports.retain(|p| !gone.iter().any(|g| g.target_port == p.target_port && g.protocol == p.protocol));
        }
        for port in self.publish_add.iter().flat_map(|Published(ports)| ports) {
            endpoint.ports.retain(|p| {
                let same_published = port.published_port != 0 && p.published_port == port.published_port;
                let same_auto = port.published_port == 0 && p.target_port == port.target_port;
                !(p.protocol == port.protocol && (same_published || same_auto))
            });
            endpoint.ports.push(*port);
        }
        if let Some(mode) = self.endpoint_mode {
            endpoint.mode = mode as i32;
        }
    }

    fn apply_container(&self, c: &mut ContainerSpec) {
        if let Some(image) = &self.image {
            c.image = image.clone();
        }
        if let Some(ShellWords(args)) = &self.args {
            c.args = args.clone();
        }
        if let Some(ShellWords(command)) = &self.entrypoint {
            c.command = command.clone();
        }
        if let Some(init) = self.init {
            c.init = Some(init);
        }
        if let Some(read_only) = self.read_only {
            c.read_only = read_only;
        }
        let env_key = |e: &str| e.split('=').next().unwrap_or_default().to_string();
        edit(&mut c.env, &self.env_rm, &[], env_key);
        for entry in &self.env_add {
            c.env.retain(|e| env_key(e) != env_key(entry));
            c.env.push(entry.clone());
        }
        edit_map(&mut c.labels, &self.container_label_rm, &self.container_label_add);
        let target = |t: &str| t.trim_end_matches('/').to_string();
        c.mounts.retain(|m| {
            !self
                .mount_rm
                .iter()
                .chain(self.mount_add.iter().map(|a| &a.target))
                .any(|t| target(t) == target(&m.target))
        });
        c.mounts.extend(self.mount_add.iter().cloned());
        edit_files(&mut c.secrets, &self.secret_rm, &self.secret_add);
        edit_files(&mut c.configs, &self.config_rm, &self.config_add);
        if let Some(dir) = &self.workdir {
            c.dir = dir.clone();
        }
        if let Some(user) = &self.user {
            c.user = user.clone();
        }
        if let Some(signal) = &self.stop_signal {
            c.stop_signal = signal.clone();
        }
        if let Some(grace) = self.stop_grace_period {
            c.stop_grace_period_ns = Some(grace);
        }
        self.health.apply(&mut c.healthcheck);
        self.engine.apply(c);
    }
}

/// `--secret-rm` / `--config-rm` (a name, id or id prefix), then
/// `--secret-add` / `--config-add` (replacing a reference to the same
/// target: rotation is `--secret-rm old --secret-add source=new,target=t`
/// or, the same, just the add).
fn edit_files(refs: &mut Vec<FileReference>, rm: &[String], add: &[FileReference]) {
    refs.retain(|r| !rm.iter().any(|x| r.name == *x || r.id.starts_with(x.as_str())));
    for new in add {
        let target = |r: &FileReference| if r.target.is_empty() { r.name.clone() } else { r.target.clone() };
        refs.retain(|r| target(r) != target(new));
        refs.push(new.clone());
    }
}

/// Removes `rm` from `list` (compared as `key` says), then appends each
/// of `add` not already there.
pub(super) fn edit(list: &mut Vec<String>, rm: &[String], add: &[String], key: impl Fn(&str) -> String) {
    let gone: Vec<String> = rm.iter().map(|r| key(r)).collect();
    list.retain(|item| !gone.contains(&key(item)));
    for item in add {
        if !list.iter().any(|i| key(i) == key(item)) {
            list.push(item.clone());
        }
    }
}

pub(super) fn edit_map(map: &mut HashMap<String, String>, rm: &[String], add: &[(String, String)]) {
    for key in rm {
        map.remove(key);
    }
    map.extend(add.iter().cloned());
}

pub async fn run(ctx: &mut Ctx, args: UpdateArgs) -> Result<()> {
    if args.rollback {
        return rollback(ctx, RollbackArgs { to: None, target: args.target }).await;
    }
    let target = &args.target;
    let service = get(ctx, &target.service).await?;
    let networks = if args.network_rm.is_empty() && args.network_add.is_empty() {
        Vec::new()
    } else {
        ctx.control().await?.list_networks(ListNetworksRequest {}).await.map_err(status)?.into_inner().networks
    };
    let mut spec = args.apply(service.spec.clone().unwrap_or_default(), &networks)?;
    if args.with_registry_auth {
        let task = spec.task.get_or_insert_with(Default::default);
        super::registry_auth::attach(task.container.get_or_insert_with(Default::default))?;
    }
    if args.image.is_some() && !args.force && same_template(&service, &spec) {
        errln!(
            "warning: {}: the service already runs {:?}; nothing to update. If that name now stands for \
             another build, --force replaces the tasks",
            target.service,
            image(Some(&spec))
        );
    }
    send(ctx, &service, spec).await?;
    outln!("{}", target.service);
    target.wait.wait(ctx, &service.id, false).await
}

/// `service rollback`: back to the previous spec (or `--to` a version of
/// the history), with the rollback config.
pub async fn rollback(ctx: &mut Ctx, args: RollbackArgs) -> Result<()> {
    let target = &args.target;
    let service = get(ctx, &target.service).await?;
    let to = match args.to {
        Some(v) => service.history.iter().find(|r| r.version == v).and_then(|r| r.spec.as_ref()),
        None => service.previous_spec.as_ref(),
    };
    if let Some(to) = to
        && image(Some(to)) == image(service.spec.as_ref())
    {
        errln!(
            "warning: {}: the spec rolled back to names the same program, {:?}: if that name now stands for \
             another build, the rollback does not bring the old build back",
            target.service,
            image(Some(to))
        );
    }
    let version = service.meta.as_ref().map_or(0, |m| m.version);
    let request = UpdateServiceRequest {
        service_id: service.id.clone(),
        version,
        spec: None,
        rollback: true,
        rollback_to: args.to.unwrap_or(0),
    };
    ctx.control().await?.update_service(request).await.map_err(status)?;
    outln!("{}", target.service);
    target.wait.wait(ctx, &service.id, true).await
}

/// `service restart`: replaces every task, one update at a time as the
/// service's update config says, without changing anything else.
pub async fn restart(ctx: &mut Ctx, args: RolloutArgs) -> Result<()> {
    let service = get(ctx, &args.service).await?;
    let mut spec = service.spec.clone().unwrap_or_default();
    spec.task.get_or_insert_with(Default::default).force_update += 1;
    send(ctx, &service, spec).await?;
    outln!("{}", args.service);
    args.wait.wait(ctx, &service.id, false).await
}

/// Flags of `service rebalance`.
#[derive(Args, Debug)]
pub struct RebalanceArgs {
    /// Move at most this many tasks [default: as many as it takes]
    #[arg(long, value_name = "N", value_parser = count)]
    pub max_moves: Option<u64>,
    #[command(flatten)]
    pub target: RolloutArgs,
}

pub async fn rebalance(ctx: &mut Ctx, args: RebalanceArgs) -> Result<()> {
    let max_moves = u32::try_from(args.max_moves.unwrap_or(0)).unwrap_or(u32::MAX);
    let request = RebalanceServiceRequest { reference: args.target.service.clone(), max_moves };
    let response = ctx.control().await?.rebalance_service(request).await.map_err(status)?.into_inner();
    let service = response.service.unwrap_or_default();
    outln!("{}", args.target.service);
    match response.moves.len() {
        0 => errln!("already balanced: no task to move"),
        1 => errln!("moving 1 task"),
        n => errln!("moving {n} tasks"),
    }
    args.target.wait.wait(ctx, &service.id, false).await
}

async fn get(ctx: &mut Ctx, reference: &str) -> Result<Service> {
    let request = GetServiceRequest { reference: reference.to_string() };
    Ok(ctx.control().await?.get_service(request).await.map_err(status)?.into_inner())
}

async fn send(ctx: &mut Ctx, service: &Service, spec: ServiceSpec) -> Result<()> {
    let version = service.meta.as_ref().map_or(0, |m| m.version);
    let request =
        UpdateServiceRequest { service_id: service.id.clone(), version, spec: Some(spec), ..Default::default() };
    ctx.control().await?.update_service(request).await.map_err(status)?;
    Ok(())
}

fn same_template(service: &Service, spec: &ServiceSpec) -> bool {
    service.spec.as_ref().and_then(|s| s.task.as_ref()) == spec.task.as_ref()
}

fn image(spec: Option<&ServiceSpec>) -> &str {
    spec.and_then(|s| s.task.as_ref()).and_then(|t| t.container.as_ref()).map_or("", |c| c.image.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use shoal_proto::Resources;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: UpdateArgs,
    }

    fn apply(flags: &[&str], spec: ServiceSpec) -> Result<ServiceSpec> {
        let mut argv = vec!["update"];
        argv.extend_from_slice(flags);
        argv.push("web");
        Cli::try_parse_from(argv).unwrap().args.apply(spec, &[])
    }

    #[test]
    fn secrets_and_configs_are_added_removed_and_rotated() {
        let stored = |id: &str, name: &str, target: &str| FileReference {
            id: id.into(),
            name: name.into(),
            target: target.into(),
            ..Default::default()
        };
        let mut spec = ServiceSpec::default();
        let c = spec.task.get_or_insert_with(Default::default).container.get_or_insert_with(Default::default);
        c.secrets = vec![stored("s1id", "db_pw", "db_pw"), stored("s2id", "api", "")];
        c.configs = vec![stored("c1id", "conf", "/etc/app.conf")];
        let spec = apply(
            &[
                "--secret-rm",
                "db_pw",
                "--secret-add",
                "source=db_pw_2,target=db_pw",
                "--secret-rm",
                "s2",
                "--config-add",
                "source=conf_2,target=/etc/app.conf,mode=0440",
            ],
            spec,
        )
        .unwrap();
        let c = spec.task.unwrap().container.unwrap();
        let secrets: Vec<(&str, &str)> = c.secrets.iter().map(|r| (r.name.as_str(), r.target.as_str())).collect();
        assert_eq!(secrets, [("db_pw_2", "db_pw")], "removed by name and by id prefix; the new one at the old target");
        let configs: Vec<(&str, Option<u32>)> = c.configs.iter().map(|r| (r.name.as_str(), r.mode)).collect();
        assert_eq!(configs, [("conf_2", Some(0o440))], "an add at a target replaces what was there");
    }

    #[test]
    fn ports_and_networks_are_added_and_removed() {
        let spec = apply(
            &["--publish-add", "8080:80", "--publish-add", "53:53/udp", "--network-add", "back"],
            ServiceSpec::default(),
        )
        .unwrap();
        let spec =
            apply(&["--publish-add", "8080:81", "--publish-rm", "53/udp", "--endpoint-mode", "dnsrr"], spec).unwrap();
        let endpoint = spec.endpoint.clone().unwrap();
        let ports: Vec<(u32, u32)> = endpoint.ports.iter().map(|p| (p.published_port, p.target_port)).collect();
        assert_eq!(ports, vec![(8080, 81)]);
        assert_eq!(endpoint.mode(), EndpointMode::Dnsrr);
        assert_eq!(spec.task.as_ref().unwrap().networks[0].target, "back");
        let spec = apply(&["--network-rm", "back"], spec).unwrap();
        assert!(spec.task.as_ref().unwrap().networks.is_empty());
        assert_eq!(
            apply(&["--network-rm", "front"], spec).unwrap_err().to_string(),
            "--network-rm: the service is not on network \"front\""
        );
    }

    #[test]
    fn constraints_and_preferences_are_added_and_removed() {
        let spec = apply(
            &["--constraint-add", "node.role==worker", "--constraint-add", "node.labels.a==b"],
            ServiceSpec::default(),
        )
        .unwrap();
        let spec = apply(
            &[
                "--constraint-rm",
                "node.labels.a==b",
                "--constraint-add",
                "node.role==worker",
                "--placement-pref-add",
                "spread=node.labels.dc",
            ],
            spec,
        )
        .unwrap();
        let placement = spec.task.as_ref().unwrap().placement.clone().unwrap();
        assert_eq!(placement.constraints, vec!["node.role==worker".to_string()]);
        assert_eq!(placement.preferences[0].spread_descriptor, "node.labels.dc");
        let spec = apply(&["--placement-pref-rm", "spread=node.labels.dc", "--max-replicas", "2"], spec).unwrap();
        let placement = spec.task.as_ref().unwrap().placement.clone().unwrap();
        assert!(placement.preferences.is_empty());
        assert_eq!(placement.max_replicas, 2);
        let spec = apply(&["--replicas-max-per-node", "3"], spec).unwrap();
        assert_eq!(spec.task.unwrap().placement.unwrap().max_replicas, 3, "Docker's spelling");
    }

    #[test]
    fn resources_change_one_field_at_a_time() {
        let spec = apply(&["--reserve-cpu", "0.5", "--limit-memory", "1g"], ServiceSpec::default()).unwrap();
        let spec = apply(&["--reserve-memory", "64m", "--limit-pids", "20"], spec).unwrap();
        let task = spec.task.clone().unwrap();
        let r = task.resources.unwrap();
        assert_eq!(r.reservations, Some(Resources { nano_cpus: 500_000_000, memory_bytes: 64 << 20 }));
        assert_eq!(r.limits, Some(Resources { nano_cpus: 0, memory_bytes: 1 << 30 }));
        assert_eq!(task.container.unwrap().pids_limit, 20);
        let spec = apply(&["--limit-pids", "0"], spec).unwrap();
        assert_eq!(spec.task.unwrap().container.unwrap().pids_limit, 0, "0 removes the limit");
    }

    #[test]
    fn container_fields_env_and_labels() {
        let spec = apply(
            &["--image", "/bin/new", "--args", "-c 'echo hi'", "--env-add", "A=1", "--env-add", "B=2"],
            ServiceSpec::default(),
        )
        .unwrap();
        let spec = apply(&["--env-add", "A=3", "--env-rm", "B", "--label-add", "tier=web", "--force"], spec).unwrap();
        let task = spec.task.clone().unwrap();
        let c = task.container.unwrap();
        assert_eq!(c.image, "/bin/new");
        assert_eq!(c.args, vec!["-c".to_string(), "echo hi".to_string()]);
        assert_eq!(c.env, vec!["A=3".to_string()]);
        assert_eq!(task.force_update, 1);
        assert_eq!(spec.annotations.as_ref().unwrap().labels.get("tier").map(String::as_str), Some("web"));
        let spec = apply(&["--label-rm", "tier", "--update-parallelism", "2", "--rollback-order", "start-first"], spec)
            .unwrap();
        assert!(spec.annotations.as_ref().unwrap().labels.is_empty());
        assert_eq!(spec.update.unwrap().parallelism, 2);
        let rollback = spec.rollback.unwrap();
        assert_eq!((rollback.order(), rollback.parallelism), (shoal_proto::UpdateOrder::StartFirst, 1));
    }

    #[test]
    fn unbalanced_args_are_a_usage_error() {
        let err = Cli::try_parse_from(["update", "--args", "'oops", "web"]).err().unwrap();
        assert_eq!(err.kind(), clap::error::ErrorKind::ValueValidation);
    }

    #[test]
    fn replicas_only_for_replicated_services() {
        let global = ServiceSpec { mode: Some(Mode::Global(Default::default())), ..Default::default() };
        assert_eq!(
            apply(&["--replicas", "3"], global).unwrap_err().to_string(),
            "--replicas: can only be used with replicated or replicated-job mode"
        );
    }
}
