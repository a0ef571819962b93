//! `shoal node ...`: init, ls, inspect.

use anyhow::Result;
use clap::Subcommand;
use serde_json::{Value, json};
use shoal_proto::{GetNodeRequest, InitRequest, ListNodesRequest, Node, NodeAvailability, NodeState};

use super::format::Format;
use super::{Ctx, inspect, table};
use crate::client::status;

#[derive(Subcommand, Debug)]
pub enum NodeCommand {
    /// Make this daemon the first manager of a new cluster
    Init {
        /// Address other nodes reach this node at (IP or IP:PORT)
        #[arg(long, value_name = "IP[:PORT]")]
        advertise_addr: Option<String>,
        /// Old tasks kept per slot
        #[arg(long, value_name = "N", default_value_t = 5, value_parser = super::args::count)]
        task_history_limit: u64,
    },
    /// List nodes in the cluster
    #[command(alias = "list")]
    Ls {
        /// Only display IDs
        #[arg(short, long)]
        quiet: bool,
        /// Format output: "json", or a template like '{{.Hostname}}'
        #[arg(long)]
        format: Option<String>,
    },
    /// Display detailed information on one or more nodes
    Inspect {
        /// Print the information in a human friendly format
        #[arg(long)]
        pretty: bool,
        /// Format output: "json", or a template like '{{.Spec.Role}}'
        #[arg(short, long)]
        format: Option<String>,
        /// Node id, id prefix or hostname ("self" for this node)
        #[arg(required = true, value_name = "NODE")]
        nodes: Vec<String>,
    },
}

pub async fn run(ctx: &mut Ctx, cmd: NodeCommand) -> Result<()> {
    match cmd {
        NodeCommand::Init { advertise_addr, task_history_limit } => {
            let request = InitRequest {
                advertise_addr: advertise_addr.unwrap_or_default(),
                task_history_limit: Some(task_history_limit),
            };
            let resp = ctx.admin().await?.init(request).await.map_err(status)?.into_inner();
            println!("Cluster initialized: current node ({}) is now a manager.", resp.node_id);
            Ok(())
        }
        NodeCommand::Ls { quiet, format } => ls(ctx, quiet, Format::from_flag(format.as_deref())).await,
        NodeCommand::Inspect { pretty, format, nodes } => {
            let mut client = ctx.control().await?;
            let mut found = Vec::new();
            for reference in nodes {
                let reference = if reference == "self" { self_id(ctx).await? } else { reference };
                found.push(client.get_node(GetNodeRequest { reference }).await.map_err(status)?.into_inner());
            }
            if pretty {
                found.iter().for_each(print_pretty);
                return Ok(());
            }
            inspect::print(found.iter().map(inspect::node).collect(), &Format::from_flag(format.as_deref()))
        }
    }
}

async fn self_id(ctx: &mut Ctx) -> Result<String> {
    let list = ctx.control().await?.list_nodes(ListNodesRequest {}).await.map_err(status)?.into_inner();
    Ok(list.self_node_id)
}

fn hostname(n: &Node) -> &str {
    n.description.as_ref().map_or("", |d| d.hostname.as_str())
}

fn manager_status(n: &Node) -> &'static str {
    match &n.manager_status {
        None => "",
        Some(m) if m.leader => "Leader",
        Some(m) if m.reachability == shoal_proto::Reachability::Reachable as i32 => "Reachable",
        Some(_) => "Unreachable",
    }
}

fn state(n: &Node) -> &'static str {
    NodeState::try_from(n.status.as_ref().map_or(0, |s| s.state)).unwrap_or_default().title()
}

fn availability(n: &Node) -> &'static str {
    NodeAvailability::try_from(n.spec.as_ref().map_or(0, |s| s.availability)).unwrap_or_default().title()
}

fn engine_version(n: &Node) -> &str {
    n.description.as_ref().map_or("", |d| d.engine_version.as_str())
}

async fn ls(ctx: &mut Ctx, quiet: bool, format: Format) -> Result<()> {
    let list = ctx.control().await?.list_nodes(ListNodesRequest {}).await.map_err(status)?.into_inner();
    let mut nodes = list.nodes;
    nodes.sort_by(|a, b| (hostname(a), &a.id).cmp(&(hostname(b), &b.id)));
    if quiet {
        nodes.iter().for_each(|n| println!("{}", n.id));
        return Ok(());
    }
    let is_self = |n: &Node| n.id == list.self_node_id;
    if format != Format::Default {
        let rows: Vec<Value> = nodes
            .iter()
            .map(|n| {
                json!({
                    "Availability": availability(n), "EngineVersion": engine_version(n), "Hostname": hostname(n),
                    "ID": n.id, "ManagerStatus": manager_status(n), "Self": is_self(n), "Status": state(n),
                    "TLSStatus": "Ready",
                })
            })
            .collect();
        return format.print_each(&rows);
    }
    let rows: Vec<Vec<String>> = nodes
        .iter()
        .map(|n| {
            let id = if is_self(n) { format!("{} *", n.id) } else { n.id.clone() };
            [&id, hostname(n), state(n), availability(n), manager_status(n), engine_version(n)]
                .map(str::to_string)
                .to_vec()
        })
        .collect();
    print!(
        "{}",
        table::render(&["ID", "HOSTNAME", "STATUS", "AVAILABILITY", "MANAGER STATUS", "ENGINE VERSION"], &rows)
    );
    Ok(())
}

fn print_pretty(n: &Node) {
    let v = inspect::node(n);
    let s = |p: &str| super::format::render(p, &v).unwrap_or_default();
    println!("ID:\t\t\t{}", n.id);
    println!("Hostname:\t\t{}", hostname(n));
    println!("Joined at:\t\t{}", s("{{.CreatedAt}}"));
    println!(
        "Status:\n State:\t\t\t{}\n Availability:\t\t{}\n Address:\t\t{}",
        state(n),
        availability(n),
        s("{{.Status.Addr}}")
    );
    if let Some(m) = &n.manager_status {
        println!(
            "Manager Status:\n Address:\t\t{}\n Raft Status:\t\t{}\n Leader:\t\t{}",
            m.addr,
            if m.reachability == shoal_proto::Reachability::Reachable as i32 { "Reachable" } else { "Unreachable" },
            if m.leader { "Yes" } else { "No" }
        );
    }
    println!(
        "Platform:\n Operating System:\t{}\n Architecture:\t\t{}",
        s("{{.Description.Platform.OS}}"),
        s("{{.Description.Platform.Architecture}}")
    );
    let d = n.description.clone().unwrap_or_default();
    let r = d.resources.unwrap_or_default();
    println!(
        "Resources:\n CPUs:\t\t\t{}\n Memory:\t\t{}",
        r.nano_cpus / 1_000_000_000,
        super::human::bytes(r.memory_bytes)
    );
    println!("Runtimes:\t\t{}", d.runtimes.join(", "));
    println!("Engine Version:\t\t{}", d.engine_version);
}
