//! `shoal cluster ...`: the cluster's settings (`docker swarm inspect` and
//! `docker swarm update` in Docker).

use anyhow::Result;
use clap::Subcommand;
use shoal_proto::{GetClusterRequest, ListNodesRequest, UnlockKeyRequest, UpdateClusterRequest};

use super::format::Format;
use super::{Ctx, inspect};
use crate::client::status;

mod admin;

#[derive(Subcommand, Debug)]
pub enum ClusterCommand {
    /// Display the cluster's settings and join tokens
    Inspect {
        /// Format output: "json", or a template like '{{.Spec.Dispatcher.HeartbeatPeriod}}'
        #[arg(short, long)]
        format: Option<String>,
    },
    /// Update the cluster's settings
    Update {
        /// Dispatcher heartbeat period (ns|us|ms|s|m|h); a node missing three is Down
        #[arg(long, value_name = "DURATION", value_parser = super::args::duration_ns)]
        dispatcher_heartbeat: Option<i64>,
        /// Task history retention limit
        #[arg(long, value_name = "N", value_parser = super::args::count)]
        task_history_limit: Option<u64>,
        /// Specs kept per service for `service rollback --to` [default: 10]
        #[arg(long, value_name = "N", value_parser = super::args::count)]
        spec_history_limit: Option<u64>,
        /// Validity period for node certificates (ns|us|ms|s|m|h)
        #[arg(long, value_name = "DURATION", value_parser = super::args::duration_ns)]
        cert_expiry: Option<i64>,
        /// Runtime of services created without --runtime: process or docker
        /// (services that exist keep theirs)
        #[arg(long, value_name = "RUNTIME", value_parser = shoal_spec::runtime::RUNTIMES)]
        default_runtime: Option<String>,
        /// Change manager autolocking setting (true|false)
        #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true", value_parser = clap::builder::BoolishValueParser::new())]
        autolock: Option<bool>,
    },
    /// Manage the unlock key of autolocked managers
    UnlockKey {
        /// Rotate the unlock key
        #[arg(long)]
        rotate: bool,
        /// Only display the key
        #[arg(short, long)]
        quiet: bool,
    },
    /// Manage admin client certificates (remote access with --host https://...)
    #[command(subcommand)]
    Admin(admin::AdminCommand),
}

pub async fn run(ctx: &mut Ctx, cmd: ClusterCommand) -> Result<()> {
    match cmd {
        ClusterCommand::Inspect { format } => {
            let cluster = ctx.control().await?.get_cluster(GetClusterRequest {}).await.map_err(status)?.into_inner();
            inspect::print(vec![inspect::cluster(&cluster)], &Format::from_flag(format.as_deref()))
        }
        ClusterCommand::Update {
            dispatcher_heartbeat,
            task_history_limit,
            spec_history_limit,
            cert_expiry,
            default_runtime,
            autolock,
        } => {
            let request = UpdateClusterRequest {
                heartbeat_period_ns: dispatcher_heartbeat.unwrap_or_default(),
                task_history_limit,
                spec_history_limit,
                cert_expiry_ns: cert_expiry.unwrap_or_default(),
                default_runtime: default_runtime.clone().unwrap_or_default(),
                autolock,
                rotate_unlock_key: false,
            };
            ctx.control().await?.update_cluster(request).await.map_err(status)?;
            outln!("Cluster updated.");
            if autolock == Some(true) {
                let key = ctx.control().await?.unlock_key(UnlockKeyRequest {}).await.map_err(status)?.into_inner().key;
                print_unlock_key(&key);
            }
            if let Some(runtime) = default_runtime {
                warn_if_no_node_offers(ctx, &runtime).await?;
            }
            Ok(())
        }
        ClusterCommand::UnlockKey { rotate, quiet } => {
            let mut control = ctx.control().await?;
            if rotate {
                let request = UpdateClusterRequest { rotate_unlock_key: true, ..Default::default() };
                control.update_cluster(request).await.map_err(status)?;
            }
            let key = control.unlock_key(UnlockKeyRequest {}).await.map_err(status)?.into_inner().key;
            if key.is_empty() {
                anyhow::bail!(
                    "no unlock key is set: autolock is off (turn it on: shoal cluster update --autolock=true)"
                );
            }
            match (quiet, rotate) {
                (true, _) => outln!("{key}"),
                (false, true) => {
                    outln!("Successfully rotated manager unlock key.\n");
                    print_unlock_key(&key);
                }
                (false, false) => print_unlock_key(&key),
            }
            Ok(())
        }
        ClusterCommand::Admin(cmd) => admin::run(ctx, cmd).await,
    }
}

/// The unlock key, with Swarm's advice.
pub(super) fn print_unlock_key(key: &str) {
    outln!("To unlock a manager after it restarts, run the `shoal node unlock`");
    outln!("command and provide the following key:\n");
    outln!("    {key}\n");
    outln!("Please remember to store this key in a password manager, since without it you");
    outln!("will not be able to restart the manager.");
}

/// The unlock key from STDIN: asked for on a terminal, else its first line.
pub(super) fn read_unlock_key() -> Result<String> {
    use std::io::{BufRead, IsTerminal, Write};
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("Please enter unlock key: ");
        let _ = std::io::stderr().flush();
    }
    let mut line = String::new();
    stdin.lock().read_line(&mut line)?;
    let key = line.trim().to_string();
    if key.is_empty() {
        anyhow::bail!("unlock key: none given (expected SHOALKEY-1-...)");
    }
    Ok(key)
}

/// A default runtime no node offers is allowed (nodes may come), but the
/// services that get it wait: say so.
pub(super) async fn warn_if_no_node_offers(ctx: &mut Ctx, runtime: &str) -> Result<()> {
    let nodes = ctx.control().await?.list_nodes(ListNodesRequest {}).await.map_err(status)?.into_inner().nodes;
    let offers =
        |n: &shoal_proto::Node| n.description.as_ref().is_some_and(|d| d.runtimes.iter().any(|r| r == runtime));
    if !nodes.iter().any(offers) {
        errln!(
            "WARN: no node offers the {runtime} runtime yet: services created without --runtime wait until one does"
        );
    }
    Ok(())
}
