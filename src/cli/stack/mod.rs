//! `shoal stack ...`: compose files as `docker stack` reads them. `stack
//! config` prints the merged, interpolated file in its normal form (long
//! syntax, durations and sizes spelled out) without deploying it, as
//! `docker stack config` prints it (a `$` left by interpolation printed
//! as is; `--skip-interpolation` prints the variables as written). `stack
//! deploy` creates or updates the stack's services (only those whose spec
//! changed), in `depends_on` order (see [`deploy`]); `ls`, `services`, `ps`, `rm` as in
//! Docker.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

mod deploy;

use anyhow::{Result, bail};
use clap::Subcommand;
use serde_json::{Value, json};
use shoal_proto::{
    ListConfigsRequest, ListNetworksRequest, ListSecretsRequest, ListServicesRequest, ListTasksRequest, Network,
    RemoveConfigRequest, RemoveNetworkRequest, RemoveSecretRequest, RemoveServiceRequest, Service,
};

use super::args::duration_ns;
use super::format::{Format, ListFlags, PsFlags};
use super::progress::WaitFlags;
use super::{Ctx, service};
use crate::client::status;
use shoal_compose::convert::NAMESPACE_LABEL;
use shoal_compose::load;
use shoal_compose::model::Compose;

#[derive(Subcommand, Debug)]
pub enum StackCommand {
    /// Print the merged, interpolated compose file (nothing is deployed)
    Config {
        /// Path to a compose file, or "-" to read from stdin; several merge in order
        #[arg(short = 'c', long = "compose-file", value_name = "FILE", required = true)]
        compose_file: Vec<String>,
        /// Variables for interpolation [default: .env beside the first file]
        #[arg(long, value_name = "FILE")]
        env_file: Option<PathBuf>,
        /// Skip interpolation and output only merged config
        #[arg(long)]
        skip_interpolation: bool,
    },
    /// Deploy a new stack or update an existing one
    #[command(alias = "up")]
    Deploy {
        /// Path to a compose file, or "-" to read from stdin; several merge in order
        #[arg(short = 'c', long = "compose-file", value_name = "FILE", required = true)]
        compose_file: Vec<String>,
        /// Variables for interpolation [default: .env beside the first file]
        #[arg(long, value_name = "FILE")]
        env_file: Option<PathBuf>,
        /// Remove services that are no longer in the file
        #[arg(long)]
        prune: bool,
        /// Send registry authentication details to the nodes (from this client's Docker configuration)
        #[arg(long)]
        with_registry_auth: bool,
        #[command(flatten)]
        wait: WaitFlags,
        /// Stop waiting after this long and fail, naming the services not converged
        /// and their tasks' errors; 0 waits for ever (ns|us|ms|s|m|h)
        #[arg(long, value_name = "DURATION", value_parser = duration_ns, default_value = deploy::DEFAULT_TIMEOUT)]
        timeout: i64,
        #[arg(value_name = "STACK")]
        stack: String,
    },
    /// List stacks
    #[command(alias = "list")]
    Ls {
        /// Format output: "json", or a template like '{{.Name}}'
        #[arg(long)]
        format: Option<String>,
    },
    /// List the services of a stack
    Services {
        #[command(flatten)]
        flags: ListFlags,
        #[arg(value_name = "STACK")]
        stack: String,
    },
    /// List the tasks of a stack
    Ps {
        #[command(flatten)]
        flags: PsFlags,
        #[arg(value_name = "STACK")]
        stack: String,
    },
    /// Remove one or more stacks
    #[command(alias = "remove", alias = "down")]
    Rm {
        /// Exit immediately instead of waiting for the stack's tasks to stop
        #[arg(short, long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
        detach: Option<bool>,
        #[arg(required = true, value_name = "STACK")]
        stacks: Vec<String>,
    },
}

/// Whether `service` belongs to `stack`.
pub fn in_stack(service: &Service, stack: &str) -> bool {
    let labels = service.spec.as_ref().and_then(|s| s.annotations.as_ref()).map(|a| &a.labels);
    labels.and_then(|l| l.get(NAMESPACE_LABEL)).is_some_and(|n| n == stack)
}

pub async fn run(ctx: &mut Ctx, cmd: StackCommand) -> Result<()> {
    match cmd {
        StackCommand::Config { compose_file, env_file, skip_interpolation } => {
            let options = load::Options { env_file: env_file.as_deref(), interpolate: !skip_interpolation };
            let compose = load_files(&compose_file, options)?;
            out!("{}", serde_saphyr::to_string(&compose)?);
            Ok(())
        }
        StackCommand::Deploy { compose_file, env_file, prune, with_registry_auth, wait, timeout, stack } => {
            let compose =
                load_files(&compose_file, load::Options { env_file: env_file.as_deref(), interpolate: true })?;
            let base = load::base_dir(&compose_file);
            let options = deploy::Options { prune, with_registry_auth, wait: &wait, timeout: deploy::limit(timeout) };
            deploy::deploy(ctx, &stack, &compose, &base, options).await
        }
        StackCommand::Ls { format } => ls(ctx, Format::from_flag(format.as_deref())).await,
        StackCommand::Services { flags, stack } => {
            stack_services(ctx, &stack).await?;
            service::ls(ctx, &[], flags.quiet, flags.format(), Some(&stack)).await
        }
        StackCommand::Ps { flags, stack } => {
            let ids = stack_services(ctx, &stack).await?.into_iter().map(|s| s.id).collect::<Vec<_>>();
            service::ps(ctx, &ids, &[], &flags).await
        }
        StackCommand::Rm { detach, stacks } => rm(ctx, &stacks, detach.unwrap_or(false)).await,
    }
}

/// `stack rm`: the stacks' services, then (once their tasks have stopped,
/// unless `detach`) their secrets, configs and networks, a line for each
/// as Docker prints it.
async fn rm(ctx: &mut Ctx, stacks: &[String], detach: bool) -> Result<()> {
    let mut removed = BTreeSet::new();
    let mut failed = false;
    for stack in stacks {
        let services = all_services(ctx).await?.into_iter().filter(|s| in_stack(s, stack)).collect::<Vec<_>>();
        let networks = stack_networks(ctx, stack).await?;
        let (secrets, configs) = stack_files(ctx, stack).await?;
        if services.is_empty() && networks.is_empty() && secrets.is_empty() && configs.is_empty() {
            bail!("nothing found in stack: {stack}");
        }
        let mut services = services;
        services.sort_by(|a, b| a.name().cmp(b.name()));
        let mut control = ctx.control().await?;
        for s in &services {
            outln!("Removing service {}", s.name());
            match control.remove_service(RemoveServiceRequest { reference: s.id.clone() }).await {
                Ok(_) => {
                    removed.insert(s.id.clone());
                }
                Err(e) => {
                    errln!("Failed to remove service {}: {}", s.name(), e.message());
                    failed = true;
                }
            }
        }
    }
    // The removed services' tasks go once they have stopped (and their
    // addresses with them).
    if !detach {
        loop {
            let tasks = ctx.control().await?.list_tasks(ListTasksRequest::default()).await.map_err(status)?;
            if !tasks.into_inner().tasks.iter().any(|t| removed.contains(&t.service_id)) {
                break;
            }
            tokio::time::sleep(super::progress::POLL).await;
        }
    }
    let mut control = ctx.control().await?;
    for stack in stacks {
        let (secrets, configs) = stack_files(ctx, stack).await?;
        for (id, name) in secrets {
            outln!("Removing secret {name}");
            if let Err(e) = control.remove_secret(RemoveSecretRequest { reference: id }).await {
                errln!("Failed to remove secret {name}: {}", e.message());
                failed = true;
            }
        }
        for (id, name) in configs {
            outln!("Removing config {name}");
            if let Err(e) = control.remove_config(RemoveConfigRequest { reference: id }).await {
                errln!("Failed to remove config {name}: {}", e.message());
                failed = true;
            }
        }
        for network in stack_networks(ctx, stack).await? {
            let name = network.name().to_string();
            outln!("Removing network {name}");
            if let Err(e) = control.remove_network(RemoveNetworkRequest { reference: network.id.clone() }).await {
                errln!("Failed to remove network {name}: {}", e.message());
                failed = true;
            }
        }
    }
    if failed {
        return Err(crate::Reported.into());
    }
    Ok(())
}

/// The secrets and configs a stack made (labelled with its namespace):
/// (id, name) of each.
async fn stack_files(ctx: &mut Ctx, stack: &str) -> Result<(Vec<(String, String)>, Vec<(String, String)>)> {
    let mut control = ctx.control().await?;
    let ours = |labels: Option<&std::collections::HashMap<String, String>>| {
        labels.and_then(|l| l.get(NAMESPACE_LABEL)).is_some_and(|v| v == stack)
    };
    let secrets = control.list_secrets(ListSecretsRequest {}).await.map_err(status)?.into_inner().secrets;
    let configs = control.list_configs(ListConfigsRequest {}).await.map_err(status)?.into_inner().configs;
    let secrets = secrets
        .into_iter()
        .filter(|s| ours(s.spec.as_ref().and_then(|s| s.annotations.as_ref()).map(|a| &a.labels)))
        .map(|s| (s.id.clone(), s.name().to_string()))
        .collect();
    let configs = configs
        .into_iter()
        .filter(|c| ours(c.spec.as_ref().and_then(|s| s.annotations.as_ref()).map(|a| &a.labels)))
        .map(|c| (c.id.clone(), c.name().to_string()))
        .collect();
    Ok((secrets, configs))
}

/// The networks a stack made (labelled with its namespace).
async fn stack_networks(ctx: &mut Ctx, stack: &str) -> Result<Vec<Network>> {
    let list = ctx.control().await?.list_networks(ListNetworksRequest {}).await.map_err(status)?.into_inner();
    let ours = |n: &Network| {
        let labels = n.spec.as_ref().and_then(|s| s.annotations.as_ref()).map(|a| &a.labels);
        labels.and_then(|l| l.get(NAMESPACE_LABEL)).is_some_and(|v| v == stack)
    };
    Ok(list.networks.into_iter().filter(ours).collect())
}

fn load_files(files: &[String], options: load::Options<'_>) -> Result<Compose> {
    let loaded = load::load(files, options)?;
    for warning in &loaded.warnings {
        errln!("WARN: {warning}");
    }
    Ok(loaded.compose)
}

async fn all_services(ctx: &mut Ctx) -> Result<Vec<Service>> {
    let list = ctx.control().await?.list_services(ListServicesRequest {}).await.map_err(status)?.into_inner();
    Ok(list.services.into_iter().filter_map(|s| s.service).collect())
}

/// The services of `stack`; an error if it has none.
async fn stack_services(ctx: &mut Ctx, stack: &str) -> Result<Vec<Service>> {
    let services: Vec<Service> = all_services(ctx).await?.into_iter().filter(|s| in_stack(s, stack)).collect();
    if services.is_empty() {
        bail!("nothing found in stack: {stack}");
    }
    Ok(services)
}

async fn ls(ctx: &mut Ctx, format: Format) -> Result<()> {
    let mut stacks: BTreeMap<String, usize> = BTreeMap::new();
    for s in all_services(ctx).await? {
        let labels = s.spec.as_ref().and_then(|s| s.annotations.as_ref()).map(|a| a.labels.clone());
        if let Some(stack) = labels.and_then(|l| l.get(NAMESPACE_LABEL).cloned()) {
            *stacks.entry(stack).or_default() += 1;
        }
    }
    let rows: Vec<Value> = stacks.iter().map(|(name, n)| json!({ "Name": name, "Services": n.to_string() })).collect();
    format.print_rows(&rows, &[("NAME", "Name"), ("SERVICES", "Services")])
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(subcommand)]
        command: StackCommand,
    }

    /// The wait's limit of `stack deploy` with `flags`.
    fn limit(flags: &[&str]) -> Result<Option<Duration>, clap::Error> {
        let mut argv = vec!["stack", "deploy", "-c", "stack.yml"];
        argv.extend_from_slice(flags);
        argv.push("demo");
        match Cli::try_parse_from(argv)?.command {
            StackCommand::Deploy { timeout, .. } => Ok(deploy::limit(timeout)),
            other => panic!("not a deploy: {other:?}"),
        }
    }

    #[test]
    fn deploy_waits_five_minutes_unless_told_and_zero_is_for_ever() {
        assert_eq!(limit(&[]).unwrap(), Some(Duration::from_secs(300)));
        assert_eq!(limit(&["--timeout", "5s"]).unwrap(), Some(Duration::from_secs(5)));
        assert_eq!(limit(&["--timeout", "1m30s"]).unwrap(), Some(Duration::from_secs(90)));
        assert_eq!(limit(&["--timeout", "0"]).unwrap(), None);
        assert_eq!(limit(&["--timeout", "0s"]).unwrap(), None);
        let err = limit(&["--timeout", "soon"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::ValueValidation);
        assert!(err.to_string().contains("expected a duration like 5s"), "{err}");
        assert_eq!(err.exit_code(), 2);
    }
}
