//! `shoal network ...`: create, ls, inspect, rm, as `docker network` does
//! for swarm-scoped overlay networks.

use anyhow::Result;
use clap::{Args, Subcommand};
use serde_json::{Value, json};
use shoal_proto::{
    Annotations, CreateNetworkRequest, GetNetworkRequest, ListNetworksRequest, Network, NetworkSpec,
    RemoveNetworkRequest,
};

use super::args::key_value;
use super::format::{Format, ListFlags};
use super::{Ctx, inspect};
use crate::client::status;

#[derive(Subcommand, Debug)]
pub enum NetworkCommand {
    /// Create an overlay network
    Create(CreateArgs),
    /// List networks
    #[command(alias = "list")]
    Ls(ListFlags),
    /// Display detailed information on one or more networks
    Inspect {
        /// Format output: "json", or a template like '{{.IPAM.Config}}'
        #[arg(short, long)]
        format: Option<String>,
        #[arg(required = true, value_name = "NETWORK")]
        networks: Vec<String>,
    },
    /// Remove one or more networks
    #[command(alias = "remove")]
    Rm {
        #[arg(required = true, value_name = "NETWORK")]
        networks: Vec<String>,
    },
}

#[derive(Args, Debug)]
pub struct CreateArgs {
    /// Driver to manage the network
    #[arg(short, long, default_value = "overlay")]
    pub driver: String,
    /// Subnet in CIDR format, e.g. 10.1.0.0/24 [default: the next free /24 of 10.0.0.0/8]
    #[arg(long, value_name = "CIDR")]
    pub subnet: Option<String>,
    /// Gateway of the subnet [default: its first address]
    #[arg(long, value_name = "IP")]
    pub gateway: Option<String>,
    /// Let standalone work join the network, not only services
    #[arg(long)]
    pub attachable: bool,
    /// Restrict external access to the network
    #[arg(long)]
    pub internal: bool,
    /// Set metadata on the network
    #[arg(long = "label", value_name = "KEY=VALUE", value_parser = key_value)]
    pub label: Vec<(String, String)>,
    #[arg(value_name = "NAME")]
    pub name: String,
}

pub async fn run(ctx: &mut Ctx, cmd: NetworkCommand) -> Result<()> {
    let mut client = ctx.control().await?;
    match cmd {
        NetworkCommand::Create(args) => {
            let spec = NetworkSpec {
                annotations: Some(Annotations { name: args.name, labels: args.label.into_iter().collect() }),
                driver: args.driver,
                subnet: args.subnet.unwrap_or_default(),
                gateway: args.gateway.unwrap_or_default(),
                attachable: args.attachable,
                ingress: false,
                internal: args.internal,
            };
            let network = client.create_network(CreateNetworkRequest { spec: Some(spec) }).await.map_err(status)?;
            outln!("{}", network.into_inner().id);
            Ok(())
        }
        NetworkCommand::Ls(flags) => {
            let list = client.list_networks(ListNetworksRequest {}).await.map_err(status)?.into_inner();
            super::warn(&list.warning);
            let mut networks = list.networks;
            networks.sort_by(|a, b| a.name().cmp(b.name()));
            ls(&networks, flags.quiet, flags.format())
        }
        NetworkCommand::Inspect { format, networks } => {
            let mut found = Vec::new();
            for reference in networks {
                let network = client.get_network(GetNetworkRequest { reference }).await.map_err(status)?;
                found.push(super::inspect::network(&network.into_inner()));
            }
            inspect::print(found, &Format::from_flag(format.as_deref()))
        }
        NetworkCommand::Rm { networks } => {
            super::each(networks, |reference| {
                let mut client = client.clone();
                async move {
                    client
                        .remove_network(RemoveNetworkRequest { reference: reference.clone() })
                        .await
                        .map(|_| reference)
                }
            })
            .await
        }
    }
}

fn ls(networks: &[Network], quiet: bool, format: Format) -> Result<()> {
    let rows: Vec<Value> = networks
        .iter()
        .map(|n| {
            let driver = n.spec.as_ref().map_or("", |s| s.driver.as_str());
            json!({ "ID": &n.id[..n.id.len().min(12)], "Name": n.name(), "Driver": driver, "Scope": "swarm" })
        })
        .collect();
    if quiet {
        rows.iter().for_each(|r| outln!("{}", r["ID"].as_str().unwrap_or_default()));
        return Ok(());
    }
    format.print_rows(&rows, &[("NETWORK ID", "ID"), ("NAME", "Name"), ("DRIVER", "Driver"), ("SCOPE", "Scope")])
}
