//! The command line: clap types and dispatch. Flags, columns and wording
//! follow the Docker CLI, so a Swarm user's habits carry over.

#[macro_use]
pub(crate) mod out;

pub(crate) mod args;
mod cluster;
mod engine_opts;
mod events;
mod files;
mod format;
mod history;
pub mod human;
mod inspect;
mod live;
mod logs;
mod network;
mod node;
mod object;
mod policy;
mod pretty;
mod progress;
mod registry_auth;
mod run;
mod schedule;
mod service;
mod stack;
mod table;
mod update;

use anyhow::Result;
use clap::{Parser, Subcommand};
use tonic::transport::Channel;

use crate::client;
use crate::daemon::DaemonArgs;

#[derive(Parser, Debug)]
#[command(name = "shoal", version, about = "A Swarm-style cluster orchestrator", propagate_version = true)]
pub struct Cli {
    /// Daemon socket to talk to (before the command, as Docker's -H: a
    /// command's own --host, such as `service create --host HOST:IP`, is
    /// another flag)
    #[arg(long, short = 'H', env = "SHOAL_HOST", default_value = client::DEFAULT_HOST)]
    pub host: String,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the node daemon
    Daemon(DaemonArgs),
    /// Manage the cluster's settings
    #[command(subcommand)]
    Cluster(cluster::ClusterCommand),
    /// Manage cluster nodes
    #[command(subcommand)]
    Node(node::NodeCommand),
    /// Manage overlay networks
    #[command(subcommand)]
    Network(network::NetworkCommand),
    /// Manage services
    #[command(subcommand)]
    Service(service::ServiceCommand),
    /// Manage secrets (data a service's tasks read as files, never shown)
    #[command(subcommand)]
    Secret(files::FileCommand),
    /// Manage configs (data a service's tasks read as files)
    #[command(subcommand)]
    Config(files::FileCommand),
    /// Run a program once on a node, outside services (on attachable networks)
    Run(run::RunArgs),
    /// Stop and remove tasks that `shoal run` started
    Rm(run::RmArgs),
    /// Manage stacks (compose files)
    #[command(subcommand)]
    Stack(stack::StackCommand),
    /// Display detailed information on services, nodes or tasks
    Inspect(object::InspectArgs),
    /// Get real time events from the cluster (and those kept since --since)
    Events(events::EventsArgs),
}

/// A connection to the daemon, made on first use.
pub struct Ctx {
    host: String,
    channel: Option<Channel>,
}

impl Ctx {
    pub fn new(host: String) -> Ctx {
        Ctx { host, channel: None }
    }

    pub async fn channel(&mut self) -> Result<Channel> {
        if let Some(c) = &self.channel {
            return Ok(c.clone());
        }
        let channel = client::connect(&self.host).await?;
        self.channel = Some(channel.clone());
        Ok(channel)
    }

    pub async fn control(&mut self) -> Result<shoal_proto::control_client::ControlClient<Channel>> {
        Ok(shoal_proto::control_client::ControlClient::new(self.channel().await?))
    }

    pub async fn admin(&mut self) -> Result<shoal_proto::node_admin_client::NodeAdminClient<Channel>> {
        Ok(shoal_proto::node_admin_client::NodeAdminClient::new(self.channel().await?))
    }
}

/// Runs `f` on each reference in turn, printing the line it returns when
/// it succeeds and the error when it fails (as `docker rm` does); fails
/// at the end if any did.
pub async fn each<F, Fut>(references: Vec<String>, mut f: F) -> Result<()>
where
    F: FnMut(String) -> Fut,
    Fut: std::future::Future<Output = std::result::Result<String, tonic::Status>>,
{
    let mut failed = false;
    for reference in references {
        match f(reference).await {
            Ok(line) => outln!("{line}"),
            Err(e) => {
                errln!("Error: {}", e.message());
                failed = true;
            }
        }
    }
    if failed {
        return Err(crate::Reported.into());
    }
    Ok(())
}

/// Prints a manager's warning (e.g. its view may be stale) to stderr.
pub fn warn(warning: &str) {
    if !warning.is_empty() {
        errln!("Warning: {warning}");
    }
}

/// Runs a client command.
pub async fn run(host: String, command: Command) -> Result<()> {
    let mut ctx = Ctx::new(host);
    match command {
        Command::Cluster(cmd) => cluster::run(&mut ctx, cmd).await,
        Command::Node(cmd) => node::run(&mut ctx, cmd).await,
        Command::Network(cmd) => network::run(&mut ctx, cmd).await,
        Command::Service(cmd) => service::run(&mut ctx, cmd).await,
        Command::Secret(cmd) => files::run(&mut ctx, files::Kind::Secret, cmd).await,
        Command::Config(cmd) => files::run(&mut ctx, files::Kind::Config, cmd).await,
        Command::Inspect(args) => object::run(&mut ctx, args).await,
        Command::Stack(cmd) => stack::run(&mut ctx, cmd).await,
        Command::Run(args) => run::run(&mut ctx, args).await,
        Command::Rm(args) => run::rm(&mut ctx, args).await,
        Command::Events(args) => events::run(&mut ctx, args).await,
        Command::Daemon(_) => unreachable!("handled in main"),
    }
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::*;

    #[test]
    fn flags_are_unique_and_the_socket_comes_before_the_command() {
        Cli::command().debug_assert();
        let cli =
            Cli::try_parse_from(["shoal", "-H", "unix:///s", "service", "create", "--host", "db:10.0.0.5", "app"])
                .unwrap();
        assert_eq!(cli.host, "unix:///s");
        let Command::Service(service::ServiceCommand::Create(create)) = cli.command else { panic!("a create") };
        assert_eq!(create.engine.host, ["10.0.0.5 db"]);
    }
}
