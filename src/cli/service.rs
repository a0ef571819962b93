//! `shoal service ...`: create, ls, ps, inspect, rm, scale, logs (update: update.rs).

use std::collections::HashMap;

use anyhow::{Result, bail};
use clap::Subcommand;
use serde_json::{Value, json};
use shoal_proto::{
    CreateServiceRequest, GetServiceRequest, ListServicesRequest, ListTasksRequest, PublishMode, RemoveServiceRequest,
    Service, Task, TaskState, UpdateServiceRequest, service_spec::Mode,
};

use super::args::{CreateArgs, count};
use super::format::{Format, ListFlags, PsFlags};
use super::human::{ago, title};
use super::logs::{self, LogsArgs};
use super::{Ctx, inspect, pretty, progress};
use crate::client::status;
use shoal_spec::text::publish;

#[derive(Subcommand, Debug)]
pub enum ServiceCommand {
    /// Create a new service
    Create(Box<CreateArgs>),
    /// List services
    #[command(alias = "list")]
    Ls {
        /// Filter output (id=, name=, label=KEY[=VALUE], mode=replicated|global|replicated-job|global-job)
        #[arg(short, long, value_name = "KEY=VALUE", value_parser = shoal_dockerapi::filters::service)]
        filter: Vec<(String, String)>,
        #[command(flatten)]
        flags: ListFlags,
    },
    /// List the tasks of one or more services
    Ps {
        /// Filter output (desired-state=running|shutdown|accepted, node=NODE, name=NAME, id=ID)
        #[arg(short, long, value_name = "KEY=VALUE")]
        filter: Vec<String>,
        #[command(flatten)]
        flags: PsFlags,
        #[arg(required = true, value_name = "SERVICE")]
        services: Vec<String>,
    },
    /// Display detailed information on one or more services
    Inspect {
        /// Print the information in a human friendly format
        #[arg(long)]
        pretty: bool,
        /// Format output: "json", or a template like '{{.Spec.Name}}'
        #[arg(short, long)]
        format: Option<String>,
        #[arg(required = true, value_name = "SERVICE")]
        services: Vec<String>,
    },
    /// Remove one or more services
    #[command(alias = "remove")]
    Rm {
        #[arg(required = true, value_name = "SERVICE")]
        services: Vec<String>,
    },
    /// Update a service
    Update(Box<super::update::UpdateArgs>),
    /// Revert a service to its previous spec, or to a version of its history
    Rollback(super::update::RollbackArgs),
    /// List the versions of a service's spec, what changed and how each rollout ended
    History(super::history::HistoryArgs),
    /// Replace every task of a service, as its update config says, without changing its spec
    Restart(super::update::RolloutArgs),
    /// Move tasks off nodes that hold more than their share (after a node joined or came back), rolling as updates do
    Rebalance(super::update::RebalanceArgs),
    /// Scale one or more replicated services
    Scale {
        /// Exit immediately instead of waiting for the services to converge
        #[arg(short, long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
        detach: Option<bool>,
        #[arg(required = true, value_name = "SERVICE=REPLICAS", value_parser = scale_spec)]
        scales: Vec<(String, u64)>,
    },
    /// Fetch the logs of a service or task
    Logs(LogsArgs),
}

fn scale_spec(text: &str) -> Result<(String, u64), String> {
    let Some((name, n)) = text.split_once('=') else {
        return Err(format!("expected SERVICE=REPLICAS, got {text:?}"));
    };
    if name.is_empty() {
        return Err(format!("expected SERVICE=REPLICAS, got {text:?}"));
    }
    Ok((name.to_string(), count(n)?))
}

pub async fn run(ctx: &mut Ctx, cmd: ServiceCommand) -> Result<()> {
    match cmd {
        ServiceCommand::Create(args) => create(ctx, *args).await,
        ServiceCommand::Ls { filter, flags } => ls(ctx, &filter, flags.quiet, flags.format(), None).await,
        ServiceCommand::Ps { filter, flags, services } => ps(ctx, &services, &filter, &flags).await,
        ServiceCommand::Inspect { pretty, format, services } => {
            let mut client = ctx.control().await?;
            let mut found = Vec::new();
            for reference in services {
                found.push(client.get_service(GetServiceRequest { reference }).await.map_err(status)?.into_inner());
            }
            if pretty {
                found.iter().for_each(pretty::print);
                return Ok(());
            }
            inspect::print(found.iter().map(inspect::service).collect(), &Format::from_flag(format.as_deref()))
        }
        ServiceCommand::Rm { services } => rm(ctx, services).await,
        ServiceCommand::Update(args) => super::update::run(ctx, *args).await,
        ServiceCommand::Rollback(args) => super::update::rollback(ctx, args).await,
        ServiceCommand::Restart(args) => super::update::restart(ctx, args).await,
        ServiceCommand::Rebalance(args) => super::update::rebalance(ctx, args).await,
        ServiceCommand::History(args) => super::history::run(ctx, args).await,
        ServiceCommand::Scale { detach, scales } => scale(ctx, scales, detach.unwrap_or(false)).await,
        ServiceCommand::Logs(args) => logs::run(ctx, args).await,
    }
}

async fn create(ctx: &mut Ctx, args: CreateArgs) -> Result<()> {
    if args.mode.starts_with("global") && args.replicas.is_some() {
        bail!("--replicas: can only be used with replicated or replicated-job mode");
    }
    if args.mode != "replicated-job" && args.max_concurrent.is_some() {
        bail!("--max-concurrent: can only be used with replicated-job mode");
    }
    let mut spec = args.spec();
    spec.schedule = args.schedule.spec()?;
    if args.with_registry_auth {
        let task = spec.task.get_or_insert_with(Default::default);
        super::registry_auth::attach(task.container.get_or_insert_with(Default::default))?;
    }
    let request = CreateServiceRequest { spec: Some(spec) };
    let service = ctx.control().await?.create_service(request).await.map_err(status)?.into_inner();
    outln!("{}", service.id);
    args.wait.wait(ctx, &service.id, false).await
}

/// A running task's health as `docker ps` shows it: " (healthy)".
fn health(status: &shoal_proto::TaskStatus) -> &'static str {
    if status.state() != TaskState::Running {
        return "";
    }
    match status.health() {
        shoal_proto::TaskHealth::None => "",
        shoal_proto::TaskHealth::Starting => " (health: starting)",
        shoal_proto::TaskHealth::Healthy => " (healthy)",
        shoal_proto::TaskHealth::Unhealthy => " (unhealthy)",
    }
}

pub(super) fn replicas(s: &Service) -> u64 {
    match s.spec.as_ref().and_then(|s| s.mode.as_ref()) {
        Some(Mode::Replicated(r)) => r.replicas,
        _ => 0,
    }
}

fn image(s: &Service) -> String {
    s.spec
        .as_ref()
        .and_then(|s| s.task.as_ref())
        .and_then(|t| t.container.as_ref())
        .map_or(String::new(), |c| c.image.clone())
}

fn short(id: &str, no_trunc: bool) -> &str {
    if no_trunc { id } else { &id[..id.len().min(12)] }
}

/// `service ls`, or with `stack` the services of that stack (`stack services`).
pub(super) async fn ls(
    ctx: &mut Ctx,
    filters: &[(String, String)],
    quiet: bool,
    format: Format,
    stack: Option<&str>,
) -> Result<()> {
    let list = ctx.control().await?.list_services(ListServicesRequest {}).await.map_err(status)?.into_inner();
    super::warn(&list.warning);
    let mut services = list.services;
    services.retain(|s| s.service.as_ref().is_some_and(|s| shoal_dockerapi::filters::service_matches(filters, s)));
    if let Some(stack) = stack {
        services.retain(|s| s.service.as_ref().is_some_and(|s| super::stack::in_stack(s, stack)));
    }
    services.sort_by_key(|s| s.service.as_ref().map(|s| s.name().to_string()));
    let rows: Vec<Value> = services
        .iter()
        .filter_map(|summary| {
            let s = summary.service.as_ref()?;
            let mode = s.spec.as_ref().and_then(|s| s.mode.as_ref());
            let mut replicas = format!("{}/{}", summary.running_tasks, summary.desired_tasks);
            if matches!(mode, Some(Mode::ReplicatedJob(_) | Mode::GlobalJob(_))) {
                replicas += &format!(" ({}/{} completed)", summary.completed_tasks, summary.total_completions);
            }
            let mode = match mode {
                Some(Mode::Global(_)) => "global",
                Some(Mode::ReplicatedJob(_)) => "replicated job",
                Some(Mode::GlobalJob(_)) => "global job",
                _ => "replicated",
            };
            Some(json!({
                "ID": short(&s.id, false), "Image": image(s), "Mode": mode, "Name": s.name(),
                "Ports": mesh_ports(s), "Replicas": replicas,
            }))
        })
        .collect();
    if quiet {
        rows.iter().for_each(|r| outln!("{}", r["ID"].as_str().unwrap_or_default()));
        return Ok(());
    }
    format.print_rows(
        &rows,
        &[
            ("ID", "ID"),
            ("NAME", "Name"),
            ("MODE", "Mode"),
            ("REPLICAS", "Replicas"),
            ("IMAGE", "Image"),
            ("PORTS", "Ports"),
        ],
    )
}

/// `--filter` of `service ps`.
#[derive(Default)]
struct PsFilter {
    desired: Vec<i32>,
    nodes: Vec<String>,
    names: Vec<String>,
    ids: Vec<String>,
}

fn ps_filter(filters: &[String]) -> Result<PsFilter> {
    let mut f = PsFilter::default();
    for filter in filters {
        let Some((key, value)) = filter.split_once('=') else {
            bail!("--filter: expected KEY=VALUE, got {filter:?}");
        };
        match key {
            "desired-state" => match value {
                "running" => f.desired.extend([TaskState::Ready as i32, TaskState::Running as i32]),
                "shutdown" => f.desired.extend([TaskState::Shutdown as i32, TaskState::Remove as i32]),
                "accepted" => f.desired.push(TaskState::Accepted as i32),
                _ => bail!("--filter: desired-state must be running, shutdown or accepted, got {value:?}"),
            },
            "node" => f.nodes.push(value.to_string()),
            "name" => f.names.push(value.to_string()),
            "id" => f.ids.push(value.to_string()),
            _ => bail!("--filter: unknown key {key:?}: expected desired-state, node, name or id"),
        }
    }
    Ok(f)
}

pub(super) async fn ps(ctx: &mut Ctx, services: &[String], filters: &[String], flags: &PsFlags) -> Result<()> {
    let (no_trunc, quiet, format) = (flags.no_trunc, flags.list.quiet, flags.list.format());
    let filter = ps_filter(filters)?;
    let request = ListTasksRequest {
        services: services.to_vec(),
        desired_states: filter.desired.clone(),
        nodes: filter.nodes.clone(),
    };
    let resp = ctx.control().await?.list_tasks(request).await.map_err(status)?.into_inner();
    super::warn(&resp.warning);
    let mut tasks: Vec<Task> = resp
        .tasks
        .into_iter()
        .filter(|t| filter.names.is_empty() || filter.names.contains(&Task::name(t)))
        .filter(|t| filter.ids.is_empty() || filter.ids.iter().any(|id| t.id.starts_with(id.as_str())))
        .collect();
    // By slot (a global service's tasks: by node), newest first.
    tasks.sort_by(|a, b| {
        let created = |t: &Task| t.meta.as_ref().map_or(0, |m| m.created_at);
        let node = |t: &Task| if t.slot == 0 { t.node_id.clone() } else { String::new() };
        (&a.service_name, a.slot, node(a), created(b)).cmp(&(&b.service_name, b.slot, node(b), created(a)))
    });
    if quiet {
        tasks.iter().for_each(|t| outln!("{}", short(&t.id, no_trunc)));
        return Ok(());
    }
    let rows = ps_rows(&tasks, &resp.node_names, no_trunc);
    format.print_rows(
        &rows,
        &[
            ("ID", "ID"),
            ("NAME", "Name"),
            ("IMAGE", "Image"),
            ("NODE", "Node"),
            ("DESIRED STATE", "DesiredState"),
            ("CURRENT STATE", "CurrentState"),
            ("ERROR", "Error"),
            ("PORTS", "Ports"),
        ],
    )
}

/// Rows of `service ps`; older tasks of a slot are listed as `\_ web.1`.
/// Errors are shown whole: Docker cuts them at 30 characters, which
/// hides the reason a user needs (see docs/swarm-differences.md).
fn ps_rows(tasks: &[Task], node_names: &HashMap<String, String>, no_trunc: bool) -> Vec<Value> {
    let mut previous = String::new();
    tasks
        .iter()
        .map(|t| {
            let name = Task::name(t);
            let shown = if name == previous { format!(" \\_ {name}") } else { name.clone() };
            previous = name;
            let st = t.status.clone().unwrap_or_default();
            let state = TaskState::try_from(st.state).unwrap_or_default();
            let desired = TaskState::try_from(t.desired_state).unwrap_or_default();
            let image = t.spec.as_ref().and_then(|s| s.container.as_ref()).map_or(String::new(), |c| c.image.clone());
            json!({
                "ID": short(&t.id, no_trunc),
                "Name": shown,
                "Image": image,
                "Node": node_names.get(&t.node_id).cloned().unwrap_or_default(),
                "DesiredState": title(desired.name()),
                "CurrentState": format!("{}{} {}", title(state.name()), health(&st), ago(st.timestamp)),
                // Why it failed, or why the orchestrator stopped it (as
                // Swarm's enforcer says a task was rejected from its node).
                "Error": match (st.err.as_str(), t.desired_reason.as_str()) {
                    ("", "") => String::new(),
                    ("", why) | (why, _) => format!("\"{why}\""),
                },
                "Ports": task_ports(t),
            })
        })
        .collect()
}

/// The ports a service publishes through the routing mesh (`service ls`).
fn mesh_ports(s: &Service) -> String {
    let ports = s.endpoint.as_ref().map_or(&[][..], |e| e.ports.as_slice());
    publish::show_all(ports.iter().filter(|p| p.publish_mode() == PublishMode::Ingress))
}

/// The host-mode ports a task binds on its node (`service ps`).
fn task_ports(t: &Task) -> String {
    let ports = t.endpoint.as_ref().map_or(&[][..], |e| e.ports.as_slice());
    let bound = !t.node_id.is_empty() && !t.state().is_terminal();
    publish::show_all(ports.iter().filter(|p| bound && p.publish_mode() == PublishMode::Host))
}

pub(super) async fn rm(ctx: &mut Ctx, services: Vec<String>) -> Result<()> {
    let client = ctx.control().await?;
    super::each(services, |reference| {
        let mut client = client.clone();
        async move { client.remove_service(RemoveServiceRequest { reference: reference.clone() }).await.map(|_| reference) }
    })
    .await
}

async fn scale(ctx: &mut Ctx, scales: Vec<(String, u64)>, detach: bool) -> Result<()> {
    let mut client = ctx.control().await?;
    let mut scaled = Vec::new();
    for (name, n) in scales {
        let service =
            client.get_service(GetServiceRequest { reference: name.clone() }).await.map_err(status)?.into_inner();
        let mut spec = service.spec.clone().unwrap_or_default();
        match spec.mode.as_mut() {
            Some(Mode::Replicated(r)) => r.replicas = n,
            Some(Mode::ReplicatedJob(j)) => j.total_completions = n,
            _ => bail!("{name}: scale can only be used with replicated or replicated-job mode"),
        }
        let version = service.meta.as_ref().map_or(0, |m| m.version);
        let request =
            UpdateServiceRequest { service_id: service.id.clone(), version, spec: Some(spec), ..Default::default() };
        client.update_service(request).await.map_err(status)?;
        outln!("{name} scaled to {n}");
        scaled.push(service.id);
    }
    if !detach {
        for id in scaled {
            progress::converge(ctx, &id, false, false).await?;
        }
    }
    Ok(())
}
