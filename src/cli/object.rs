//! `shoal inspect`: any object by reference, as `docker inspect` does
//! (the only way to inspect a task).

use anyhow::{Result, bail};
use clap::Args;
use shoal_proto::{GetNodeRequest, GetServiceRequest, GetTaskRequest};
use tonic::Code;

use super::format::Format;
use super::{Ctx, inspect};
use crate::client::status;

#[derive(Args, Debug)]
pub struct InspectArgs {
    /// Only look for this kind of object
    #[arg(long = "type", value_parser = ["service", "node", "task"])]
    pub kind: Option<String>,
    /// Format output: "json", or a template like '{{.Status.State}}'
    #[arg(short, long)]
    pub format: Option<String>,
    #[arg(required = true, value_name = "OBJECT")]
    pub objects: Vec<String>,
}

pub async fn run(ctx: &mut Ctx, args: InspectArgs) -> Result<()> {
    let mut client = ctx.control().await?;
    let wants = |k: &str| args.kind.as_deref().is_none_or(|w| w == k);
    let mut found = Vec::new();
    for reference in &args.objects {
        let reference = reference.clone();
        // Not found moves on to the next kind; any other error stops.
        let keep = |r: std::result::Result<serde_json::Value, tonic::Status>| match r {
            Ok(v) => Ok(Some(v)),
            Err(s) if s.code() == Code::NotFound => Ok(None),
            Err(s) => Err(status(s)),
        };
        let mut value = None;
        if wants("service") {
            let r = client.get_service(GetServiceRequest { reference: reference.clone() }).await;
            value = keep(r.map(|r| inspect::service(&r.into_inner())))?;
        }
        if value.is_none() && wants("node") {
            let r = client.get_node(GetNodeRequest { reference: reference.clone() }).await;
            value = keep(r.map(|r| inspect::node(&r.into_inner())))?;
        }
        if value.is_none() && wants("task") {
            let r = client.get_task(GetTaskRequest { reference: reference.clone() }).await;
            value = keep(r.map(|r| inspect::task(&r.into_inner())))?;
        }
        match value {
            Some(v) => found.push(v),
            None => bail!("no such object: {reference}"),
        }
    }
    inspect::print(found, &Format::from_flag(args.format.as_deref()))
}
