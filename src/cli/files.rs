//! `shoal secret ...` and `shoal config ...`: create, ls, inspect, rm, as
//! `docker secret` and `docker config` do. The two differ only in that a
//! config's data is shown and a secret's never is.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use serde_json::{Value, json};
use shoal_proto::control_client::ControlClient;
use shoal_proto::{
    Annotations, ConfigSpec, CreateConfigRequest, CreateSecretRequest, GetConfigRequest, GetSecretRequest,
    ListConfigsRequest, ListSecretsRequest, RemoveConfigRequest, RemoveSecretRequest, SecretSpec,
};
use tonic::transport::Channel;

use super::args::key_value;
use super::format::Format;
use super::human::{ago, rfc3339};
use super::{Ctx, inspect};
use crate::client::status;

/// Which of the two kinds a command is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Secret,
    Config,
}

#[derive(Subcommand, Debug)]
pub enum FileCommand {
    /// Create one from a file or STDIN as content
    Create(CreateArgs),
    /// List them
    #[command(alias = "list")]
    Ls(LsArgs),
    /// Display detailed information on one or more
    Inspect {
        /// Format output: "json", or a template like '{{.Spec.Name}}'
        #[arg(short, long)]
        format: Option<String>,
        /// Print the information in a human friendly format
        #[arg(long)]
        pretty: bool,
        #[arg(required = true, value_name = "NAME")]
        names: Vec<String>,
    },
    /// Remove one or more
    #[command(alias = "remove")]
    Rm {
        #[arg(required = true, value_name = "NAME")]
        names: Vec<String>,
    },
}

#[derive(Args, Debug)]
pub struct CreateArgs {
    /// Labels
    #[arg(short, long = "label", value_name = "KEY=VALUE", value_parser = key_value)]
    pub label: Vec<(String, String)>,
    /// Template driver ("golang": the data is a template rendered for each task)
    #[arg(long, value_name = "DRIVER")]
    pub template_driver: Option<String>,
    #[arg(value_name = "NAME")]
    pub name: String,
    /// The file holding the data, or "-" to read it from STDIN
    #[arg(value_name = "FILE")]
    pub file: String,
}

#[derive(Args, Debug)]
pub struct LsArgs {
    /// Filter output based on conditions provided (id=, name=, label=)
    #[arg(short, long, value_name = "FILTER", value_parser = shoal_dockerapi::filters::file)]
    pub filter: Vec<(String, String)>,
    /// Only display IDs
    #[arg(short, long)]
    pub quiet: bool,
    /// Format output: "json", or a template like '{{.Name}}'
    #[arg(long)]
    pub format: Option<String>,
}

/// What the commands show of a secret or a config.
type Item = shoal_dockerapi::shape::File;

/// The data of `create`: the file's bytes, or STDIN's for "-".
fn read_data(file: &str) -> Result<Vec<u8>> {
    let mut data = Vec::new();
    if file == "-" {
        std::io::stdin().read_to_end(&mut data).context("FILE: reading STDIN")?;
    } else {
        data = std::fs::read(file).with_context(|| format!("FILE: cannot read {file}"))?;
    }
    Ok(data)
}

pub async fn run(ctx: &mut Ctx, kind: Kind, cmd: FileCommand) -> Result<()> {
    let mut client = ctx.control().await?;
    match cmd {
        FileCommand::Create(args) => {
            let data = read_data(&args.file)?;
            let annotations = Some(Annotations { name: args.name, labels: args.label.into_iter().collect() });
            let templating = args.template_driver.unwrap_or_default();
            let id = match kind {
                Kind::Secret => {
                    let spec = SecretSpec { annotations, data, templating };
                    client
                        .create_secret(CreateSecretRequest { spec: Some(spec), reuse: false })
                        .await
                        .map_err(status)?
                        .into_inner()
                        .id
                }
                Kind::Config => {
                    let spec = ConfigSpec { annotations, data, templating };
                    client
                        .create_config(CreateConfigRequest { spec: Some(spec), reuse: false })
                        .await
                        .map_err(status)?
                        .into_inner()
                        .id
                }
            };
            outln!("{id}");
            Ok(())
        }
        FileCommand::Ls(args) => {
            let (mut items, warning) = list(&mut client, kind).await?;
            super::warn(&warning);
            items.retain(|i| {
                shoal_dockerapi::filters::named_matches(&args.filter, &i.id, &i.annotations.name, &i.annotations.labels)
            });
            items.sort_by(|a, b| a.annotations.name.cmp(&b.annotations.name));
            ls(kind, &items, args.quiet, &Format::from_flag(args.format.as_deref()))
        }
        FileCommand::Inspect { format, pretty, names } => {
            let mut found = Vec::new();
            for reference in names {
                found.push(get(&mut client, kind, reference).await?);
            }
            if pretty {
                found.iter().for_each(|i| print_pretty(kind, i));
                return Ok(());
            }
            inspect::print(found.iter().map(Item::shown).collect(), &Format::from_flag(format.as_deref()))
        }
        FileCommand::Rm { names } => super::each(names, |reference| remove(client.clone(), kind, reference)).await,
    }
}

/// Removes one; answers the reference, as `docker secret rm` prints it.
async fn remove(mut client: ControlClient<Channel>, kind: Kind, reference: String) -> Result<String, tonic::Status> {
    match kind {
        Kind::Secret => drop(client.remove_secret(RemoveSecretRequest { reference: reference.clone() }).await?),
        Kind::Config => drop(client.remove_config(RemoveConfigRequest { reference: reference.clone() }).await?),
    }
    Ok(reference)
}

async fn list(client: &mut ControlClient<Channel>, kind: Kind) -> Result<(Vec<Item>, String)> {
    Ok(match kind {
        Kind::Secret => {
            let list = client.list_secrets(ListSecretsRequest {}).await.map_err(status)?.into_inner();
            (list.secrets.iter().map(Item::from).collect(), list.warning)
        }
        Kind::Config => {
            let list = client.list_configs(ListConfigsRequest {}).await.map_err(status)?.into_inner();
            (list.configs.iter().map(Item::from).collect(), list.warning)
        }
    })
}

async fn get(client: &mut ControlClient<Channel>, kind: Kind, reference: String) -> Result<Item> {
    Ok(match kind {
        Kind::Secret => (&client.get_secret(GetSecretRequest { reference }).await.map_err(status)?.into_inner()).into(),
        Kind::Config => (&client.get_config(GetConfigRequest { reference }).await.map_err(status)?.into_inner()).into(),
    })
}

fn ls(kind: Kind, items: &[Item], quiet: bool, format: &Format) -> Result<()> {
    if quiet {
        items.iter().for_each(|i| outln!("{}", i.id));
        return Ok(());
    }
    let rows: Vec<Value> = items
        .iter()
        .map(|i| {
            let labels: Vec<String> = sorted(&i.annotations.labels).iter().map(|(k, v)| format!("{k}={v}")).collect();
            let row = json!({
                "ID": i.id,
                "Name": i.annotations.name,
                "CreatedAt": ago(i.meta.created_at),
                "UpdatedAt": ago(i.meta.updated_at),
                "Labels": labels.join(","),
            });
            match kind {
                Kind::Secret => with(row, "Driver", json!("")),
                Kind::Config => row,
            }
        })
        .collect();
    let columns: &[(&str, &str)] = match kind {
        Kind::Secret => {
            &[("ID", "ID"), ("NAME", "Name"), ("DRIVER", "Driver"), ("CREATED", "CreatedAt"), ("UPDATED", "UpdatedAt")]
        }
        Kind::Config => &[("ID", "ID"), ("NAME", "Name"), ("CREATED", "CreatedAt"), ("UPDATED", "UpdatedAt")],
    };
    format.print_rows(&rows, columns)
}

fn with(mut value: Value, key: &str, field: Value) -> Value {
    value[key] = field;
    value
}

fn sorted(labels: &HashMap<String, String>) -> BTreeMap<&String, &String> {
    labels.iter().collect()
}

/// `inspect --pretty`, laid out as Docker's.
fn print_pretty(kind: Kind, i: &Item) {
    outln!("ID:              {}", i.id);
    outln!("Name:            {}", i.annotations.name);
    if !i.annotations.labels.is_empty() {
        outln!("Labels:");
        for (k, v) in sorted(&i.annotations.labels) {
            if v.is_empty() { outln!(" - {k}") } else { outln!(" - {k}={v}") }
        }
    }
    if kind == Kind::Secret {
        outln!("Driver:          ");
    }
    if !i.templating.is_empty() {
        outln!("Template Driver: {}", i.templating);
    }
    outln!("Created at:      {}", rfc3339(i.meta.created_at));
    outln!("Updated at:      {}", rfc3339(i.meta.updated_at));
    if let Some(data) = &i.data {
        outln!("Data:\n{}", String::from_utf8_lossy(data));
    }
}
