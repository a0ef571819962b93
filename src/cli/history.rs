//! `shoal service history SERVICE`: the versions of a service's spec
//! kept in its history, each with when it was made, what changed from the
//! version before (a diff of spec fields, as `service inspect` names them)
//! and how its rollout ended.

use std::collections::BTreeMap;

use anyhow::Result;
use clap::Args;
use serde_json::{Value, json};
use shoal_proto::{GetServiceRequest, SpecRecord, UpdateStatus};

use super::format::{Format, ListFlags};
use super::human::{ago, rfc3339};
use super::{Ctx, inspect, table};
use crate::client::status;

/// Flags of `service history`.
#[derive(Args, Debug)]
pub struct HistoryArgs {
    /// `-q`: only the version numbers.
    #[command(flatten)]
    pub flags: ListFlags,
    #[arg(value_name = "SERVICE")]
    pub service: String,
}

/// Every leaf of a spec as `Path.To.Field` -> value.
fn flatten(prefix: &str, value: &Value, out: &mut BTreeMap<String, Value>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let path = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                flatten(&path, v, out);
            }
        }
        leaf => {
            out.insert(prefix.to_string(), leaf.clone());
        }
    }
}

fn show(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}

/// What changed from `before` to `after`, one entry per field: lists of
/// plain values as the items added and removed, others as `old -> new`.
pub fn changes(before: &Value, after: &Value) -> Vec<String> {
    let (mut old, mut new) = (BTreeMap::new(), BTreeMap::new());
    flatten("", before, &mut old);
    flatten("", after, &mut new);
    let keys: std::collections::BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    let mut out = Vec::new();
    for key in keys {
        let (a, b) = (old.get(key).unwrap_or(&Value::Null), new.get(key).unwrap_or(&Value::Null));
        if a == b {
            continue;
        }
        let name = key.trim_start_matches("TaskTemplate.").trim_start_matches("ContainerSpec.");
        let items = |v: &Value| v.as_array().cloned().unwrap_or_default();
        if (a.is_array() || a.is_null()) && (b.is_array() || b.is_null()) {
            let (a, b) = (items(a), items(b));
            let mut diff: Vec<String> = b.iter().filter(|v| !a.contains(v)).map(|v| format!("+{}", show(v))).collect();
            diff.extend(a.iter().filter(|v| !b.contains(v)).map(|v| format!("-{}", show(v))));
            if diff.is_empty() {
                diff.push("reordered".into());
            }
            out.push(format!("{name}: {}", diff.join(" ")));
        } else {
            out.push(format!("{name}: {} -> {}", show(a), show(b)));
        }
    }
    out
}

fn outcome(status: Option<&UpdateStatus>) -> (String, String) {
    status.map_or_else(Default::default, |s| (s.state().name().to_string(), s.message.clone()))
}

/// One row per version, oldest first, the current one marked.
fn rows(records: &[SpecRecord], current: Option<&UpdateStatus>) -> Vec<Value> {
    let mut rows = Vec::new();
    let mut before: Option<Value> = None;
    for (i, record) in records.iter().enumerate() {
        let spec = inspect::spec(record.spec.as_ref());
        let mut changes = match &before {
            Some(b) => changes(b, &spec),
            None if record.cause == "create" => Vec::new(),
            None => vec!["(earlier versions no longer kept)".into()],
        };
        if record.cause != "update" {
            changes.insert(0, record.cause.clone());
        }
        let last = i + 1 == records.len();
        let (state, message) = outcome(if last { current } else { record.outcome.as_ref() });
        rows.push(json!({
            "Version": record.version,
            "Current": last,
            "CreatedAt": rfc3339(record.created_at),
            "Created": ago(record.created_at),
            "Changes": changes.join("; "),
            "State": state,
            "Message": message,
        }));
        before = Some(spec);
    }
    rows
}

pub async fn run(ctx: &mut Ctx, args: HistoryArgs) -> Result<()> {
    let request = GetServiceRequest { reference: args.service.clone() };
    let service = ctx.control().await?.get_service(request).await.map_err(status)?.into_inner();
    let rows = rows(&service.history, service.update_status.as_ref());
    if args.flags.quiet {
        rows.iter().for_each(|r| outln!("{}", r["Version"]));
        return Ok(());
    }
    let format = args.flags.format();
    if format != Format::Default {
        return format.print_each(&rows);
    }
    let cells = |r: &Value| {
        let version = format!("{}{}", r["Version"], if r["Current"] == true { " *" } else { "" });
        let state = r["State"].as_str().unwrap_or_default().to_string();
        vec![version, show(&r["Created"]), show(&r["Changes"]), state]
    };
    let rows: Vec<Vec<String>> = rows.iter().map(cells).collect();
    out!("{}", table::render(&["VERSION", "CREATED", "CHANGES", "UPDATE STATE"], &rows));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_name_the_fields() {
        let before =
            json!({ "Name": "web", "TaskTemplate": { "ContainerSpec": { "Image": "sleep", "Env": ["A=1"] } } });
        let after = json!({ "Name": "web", "TaskTemplate": { "ContainerSpec": { "Image": "false", "Env": ["A=2"] } },
            "Labels": { "tier": "web" } });
        assert_eq!(changes(&before, &after), vec!["Labels.tier: - -> web", "Env: +A=2 -A=1", "Image: sleep -> false"]);
        assert!(changes(&after, &after).is_empty());
    }
}
