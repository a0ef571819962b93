//! `shoal cluster ...`: the cluster's settings (`docker swarm inspect` and
//! `docker swarm update` in Docker).

use anyhow::Result;
use clap::Subcommand;
use shoal_proto::{GetClusterRequest, ListNodesRequest, UpdateClusterRequest};

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
        } => {
            let request = UpdateClusterRequest {
                heartbeat_period_ns: dispatcher_heartbeat.unwrap_or_default(),
                task_history_limit,
                spec_history_limit,
                cert_expiry_ns: cert_expiry.unwrap_or_default(),
                default_runtime: default_runtime.clone().unwrap_or_default(),
            };
            ctx.control().await?.update_cluster(request).await.map_err(status)?;
            outln!("Cluster updated.");
            if let Some(runtime) = default_runtime {
                warn_if_no_node_offers(ctx, &runtime).await?;
            }
            Ok(())
        }
        ClusterCommand::Admin(cmd) => admin::run(ctx, cmd).await,
    }
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
