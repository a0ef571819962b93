//! `shoal node ...`: init, join, join-token, leave, ls, ps, inspect, update, rm.

use anyhow::Result;
use clap::Subcommand;
use serde_json::{Value, json};
use shoal_proto::{
    GetNodeRequest, InitRequest, JoinRequest, JoinTokenRequest, LeaveRequest, ListNodesRequest, Node, NodeAvailability,
    NodeRole, NodeState, RemoveNodeRequest, UpdateNodeRequest,
};

use super::format::{Format, PsFlags};
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
        /// Validity period for node certificates (ns|us|ms|s|m|h)
        #[arg(long, value_name = "DURATION", default_value = "2160h", value_parser = super::args::duration_ns)]
        cert_expiry: i64,
        /// Force create a new cluster from this manager's state (after losing the majority of managers)
        #[arg(long)]
        force_new_cluster: bool,
        /// Listen address for the node endpoint (IP:PORT) [default: the daemon's --listen-addr]
        #[arg(long, value_name = "IP:PORT")]
        listen_addr: Option<String>,
        /// UDP port of the VXLAN data path, the same on every node (1024-49151)
        #[arg(long, value_name = "PORT", default_value_t = 4789, value_parser = data_path_port)]
        data_path_port: u32,
        /// Runtime of services created without --runtime: process or docker
        /// [default: docker if this node runs images, else process]
        #[arg(long, value_name = "RUNTIME", value_parser = shoal_spec::runtime::RUNTIMES)]
        default_runtime: Option<String>,
        /// Enable manager autolocking (a restarted manager needs the unlock key)
        #[arg(long)]
        autolock: bool,
    },
    /// Unlock a locked manager (autolock): the key is asked for, or read from STDIN
    Unlock,
    /// Join a cluster as a worker or a manager (the token says which); on a member whose certificate expired, re-join keeping its identity
    Join {
        /// Token for entry into the cluster
        #[arg(long, required = true)]
        token: String,
        /// Address other nodes reach this node at (IP or IP:PORT)
        #[arg(long, value_name = "IP[:PORT]")]
        advertise_addr: Option<String>,
        /// Listen address for the node endpoint (IP:PORT) [default: the daemon's --listen-addr]
        #[arg(long, value_name = "IP:PORT")]
        listen_addr: Option<String>,
        /// A manager's endpoint
        #[arg(value_name = "HOST:PORT")]
        remote: String,
    },
    /// Leave the cluster (this node stops its tasks and becomes standalone)
    Leave {
        /// Leave even as a manager (the last manager leaving destroys the cluster)
        #[arg(short, long)]
        force: bool,
    },
    /// Manage join tokens
    JoinToken {
        /// Only display the token
        #[arg(short, long)]
        quiet: bool,
        /// Rotate the token (nodes already joined stay)
        #[arg(long)]
        rotate: bool,
        #[arg(value_parser = ["worker", "manager"])]
        role: String,
    },
    /// List nodes in the cluster
    #[command(alias = "list")]
    Ls {
        /// Filter output (id=, name=, role=manager|worker, label= (engine), node.label=, membership=)
        #[arg(short, long, value_name = "KEY=VALUE", value_parser = shoal_dockerapi::filters::node)]
        filter: Vec<(String, String)>,
        /// Only display IDs
        #[arg(short, long)]
        quiet: bool,
        /// Format output: "json", or a template like '{{.Hostname}}'
        #[arg(long)]
        format: Option<String>,
    },
    /// List tasks running on one or more nodes, defaults to current node
    Ps {
        /// Filter output (desired-state=running|shutdown|accepted, name=NAME, id=ID)
        #[arg(short, long, value_name = "KEY=VALUE")]
        filter: Vec<String>,
        #[command(flatten)]
        flags: PsFlags,
        #[arg(value_name = "NODE", default_value = "self")]
        nodes: Vec<String>,
    },
    /// Promote one or more nodes to manager in the cluster
    Promote {
        #[arg(required = true, value_name = "NODE")]
        nodes: Vec<String>,
    },
    /// Demote one or more nodes from manager in the cluster
    Demote {
        #[arg(required = true, value_name = "NODE")]
        nodes: Vec<String>,
    },
    /// Update a node's availability, labels or role
    Update {
        /// Role of the node ("worker", "manager")
        #[arg(long, value_parser = ["worker", "manager"])]
        role: Option<String>,
        /// Availability of the node ("active", "pause", "drain")
        #[arg(long, value_parser = ["active", "pause", "drain"])]
        availability: Option<String>,
        /// Add or update a node label (KEY=VALUE or KEY)
        #[arg(long, value_name = "KEY=VALUE", value_parser = super::args::key_value)]
        label_add: Vec<(String, String)>,
        /// Remove a node label if it exists
        #[arg(long, value_name = "KEY")]
        label_rm: Vec<String>,
        #[arg(value_name = "NODE")]
        node: String,
    },
    /// Remove one or more nodes from the cluster
    #[command(alias = "remove")]
    Rm {
        /// Force remove a node from the cluster
        #[arg(short, long)]
        force: bool,
        #[arg(required = true, value_name = "NODE")]
        nodes: Vec<String>,
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

/// `--data-path-port`: as Docker, 1024-49151.
fn data_path_port(text: &str) -> Result<u32, String> {
    match text.parse::<u32>() {
        Ok(port) if (1024..=49151).contains(&port) => Ok(port),
        _ => Err(format!("expected a port number 1024-49151, got {text:?}")),
    }
}

pub async fn run(ctx: &mut Ctx, cmd: NodeCommand) -> Result<()> {
    match cmd {
        NodeCommand::Init {
            advertise_addr,
            task_history_limit,
            cert_expiry,
            force_new_cluster,
            listen_addr,
            data_path_port,
            default_runtime,
            autolock,
        } => {
            let request = InitRequest {
                advertise_addr: advertise_addr.unwrap_or_default(),
                task_history_limit: Some(task_history_limit),
                cert_expiry_ns: cert_expiry,
                force_new_cluster,
                listen_addr: listen_addr.unwrap_or_default(),
                data_path_port,
                default_runtime: default_runtime.clone().unwrap_or_default(),
                autolock,
            };
            let resp = ctx.admin().await?.init(request).await.map_err(status)?.into_inner();
            outln!("Cluster initialized: current node ({}) is now a manager.\n", resp.node_id);
            outln!("To add a worker to this cluster, run the following command:\n");
            outln!("    shoal node join --token {} {}\n", resp.worker_token, resp.addr);
            outln!(
                "To add a manager to this cluster, run 'shoal node join-token manager' and follow the instructions."
            );
            if !resp.unlock_key.is_empty() {
                outln!();
                super::cluster::print_unlock_key(&resp.unlock_key);
            }
            if let Some(runtime) = default_runtime {
                super::cluster::warn_if_no_node_offers(ctx, &runtime).await?;
            }
            Ok(())
        }
        NodeCommand::Unlock => {
            let mut admin = ctx.admin().await?;
            if !admin.info(shoal_proto::InfoRequest {}).await.map_err(status)?.into_inner().locked {
                anyhow::bail!("this node is not locked");
            }
            let key = super::cluster::read_unlock_key()?;
            admin.unlock(shoal_proto::UnlockRequest { key }).await.map_err(status)?;
            Ok(())
        }
        NodeCommand::Join { token, advertise_addr, listen_addr, remote } => {
            let request = JoinRequest {
                token,
                remote_addr: remote,
                advertise_addr: advertise_addr.unwrap_or_default(),
                listen_addr: listen_addr.unwrap_or_default(),
            };
            let resp = ctx.admin().await?.join(request).await.map_err(status)?.into_inner();
            outln!("This node joined a cluster as a {}.", if resp.manager { "manager" } else { "worker" });
            Ok(())
        }
        NodeCommand::Leave { force } => {
            ctx.admin().await?.leave(LeaveRequest { force }).await.map_err(status)?;
            outln!("Node left the cluster.");
            Ok(())
        }
        NodeCommand::JoinToken { quiet, rotate, role } => {
            let request = JoinTokenRequest { role: role.clone(), rotate };
            let resp = ctx.control().await?.join_token(request).await.map_err(status)?.into_inner();
            if quiet {
                outln!("{}", resp.token);
                return Ok(());
            }
            if rotate {
                outln!("Successfully rotated {role} join token.\n");
            }
            outln!("To add a {role} to this cluster, run the following command:\n");
            outln!("    shoal node join --token {} {}\n", resp.token, resp.addr);
            Ok(())
        }
        NodeCommand::Ps { filter, flags, nodes } => {
            let filters: Vec<String> = nodes.iter().map(|n| format!("node={n}")).chain(filter).collect();
            super::service::ps(ctx, &[], &filters, &flags).await
        }
        NodeCommand::Promote { nodes } => set_role(ctx, nodes, NodeRole::Manager).await,
        NodeCommand::Demote { nodes } => set_role(ctx, nodes, NodeRole::Worker).await,
        NodeCommand::Update { role, availability, label_add, label_rm, node } => {
            // clap took only the values these name.
            let role = role.and_then(|r| NodeRole::from_name(&r)).map(|r| r as i32);
            let availability = availability.and_then(|a| NodeAvailability::from_name(&a)).map(|a| a as i32);
            let reference = if node == "self" { self_id(ctx).await? } else { node };
            let request = UpdateNodeRequest {
                reference: reference.clone(),
                availability,
                label_add: label_add.into_iter().collect(),
                label_rm,
                role,
                version: None,
            };
            ctx.control().await?.update_node(request).await.map_err(status)?;
            outln!("{reference}");
            Ok(())
        }
        NodeCommand::Rm { force, nodes } => {
            let client = ctx.control().await?;
            super::each(nodes, |reference| {
                let mut client = client.clone();
                async move {
                    client
                        .remove_node(RemoveNodeRequest { reference: reference.clone(), force })
                        .await
                        .map(|_| reference)
                }
            })
            .await
        }
        NodeCommand::Ls { filter, quiet, format } => {
            ls(ctx, &filter, quiet, Format::from_flag(format.as_deref())).await
        }
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

/// `node promote` / `node demote`, with Docker's messages.
async fn set_role(ctx: &mut Ctx, nodes: Vec<String>, role: NodeRole) -> Result<()> {
    let client = ctx.control().await?;
    super::each(nodes, |reference| {
        let mut client = client.clone();
        async move {
            let request =
                UpdateNodeRequest { reference: reference.clone(), role: Some(role as i32), ..Default::default() };
            client.update_node(request).await?;
            Ok(match role {
                NodeRole::Manager => format!("Node {reference} promoted to a manager in the cluster."),
                NodeRole::Worker => format!("Manager {reference} demoted in the cluster."),
            })
        }
    })
    .await
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

async fn ls(ctx: &mut Ctx, filters: &[(String, String)], quiet: bool, format: Format) -> Result<()> {
    let list = ctx.control().await?.list_nodes(ListNodesRequest {}).await.map_err(status)?.into_inner();
    super::warn(&list.warning);
    let mut nodes = list.nodes;
    nodes.retain(|n| shoal_dockerapi::filters::node_matches(filters, n));
    nodes.sort_by(|a, b| (hostname(a), &a.id).cmp(&(hostname(b), &b.id)));
    if quiet {
        nodes.iter().for_each(|n| outln!("{}", n.id));
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
    out!("{}", table::render(&["ID", "HOSTNAME", "STATUS", "AVAILABILITY", "MANAGER STATUS", "ENGINE VERSION"], &rows));
    Ok(())
}

fn print_pretty(n: &Node) {
    let v = inspect::node(n);
    let s = |p: &str| super::format::render(p, &v).unwrap_or_default();
    outln!("ID:\t\t\t{}", n.id);
    outln!("Hostname:\t\t{}", hostname(n));
    outln!("Joined at:\t\t{}", s("{{.CreatedAt}}"));
    outln!(
        "Status:\n State:\t\t\t{}\n Availability:\t\t{}\n Address:\t\t{}",
        state(n),
        availability(n),
        s("{{.Status.Addr}}")
    );
    if let Some(m) = &n.manager_status {
        outln!(
            "Manager Status:\n Address:\t\t{}\n Raft Status:\t\t{}\n Leader:\t\t{}",
            m.addr,
            if m.reachability == shoal_proto::Reachability::Reachable as i32 { "Reachable" } else { "Unreachable" },
            if m.leader { "Yes" } else { "No" }
        );
    }
    outln!(
        "Platform:\n Operating System:\t{}\n Architecture:\t\t{}",
        s("{{.Description.Platform.OS}}"),
        s("{{.Description.Platform.Architecture}}")
    );
    let d = n.description.clone().unwrap_or_default();
    let r = d.resources.unwrap_or_default();
    outln!(
        "Resources:\n CPUs:\t\t\t{}\n Memory:\t\t{}",
        r.nano_cpus / 1_000_000_000,
        super::human::bytes(r.memory_bytes)
    );
    outln!("Runtimes:\t\t{}", d.runtimes.join(", "));
    let limits = d.limits.unwrap_or_default();
    let enforced = if limits.enforced.is_empty() { "none".to_string() } else { limits.enforced.join(", ") };
    let cgroup = if limits.cgroup.is_empty() { String::new() } else { format!(" (cgroup {})", limits.cgroup) };
    outln!("Resource Limits:\t{enforced}{cgroup}");
    if !limits.message.is_empty() {
        outln!(" Not Enforced:\t\t{}", limits.message);
    }
    outln!("Engine Version:\t\t{}", d.engine_version);
    if let Some(e) = &d.docker {
        outln!("Docker Engine:\t\t{} (API {})", e.version, e.api_version);
    }
}
