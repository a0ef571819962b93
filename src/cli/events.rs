//! `shoal events`: the cluster's changes as Docker's `docker events`
//! prints them (`TIME TYPE ACTION ID (ATTRIBUTES)`, or `--format json`
//! in Docker's shape), from the history kept by the manager (`--since`)
//! and live, until `--until`.

use anyhow::Result;
use clap::Args;
use shoal_proto::{Event, EventFilter, EventsRequest};

use super::Ctx;
use super::format::Format;
use super::human::rfc3339;
use crate::client::status;

/// Flags of `shoal events`.
#[derive(Args, Debug)]
pub struct EventsArgs {
    /// Show events since a timestamp (2013-01-02T13:23:37Z), unix seconds or a relative time (42m)
    #[arg(long, value_name = "TIME", value_parser = super::logs::time)]
    pub since: Option<i64>,
    /// Stream events until this timestamp (same forms as --since)
    #[arg(long, value_name = "TIME", value_parser = super::logs::time)]
    pub until: Option<i64>,
    /// Filter output: type=service|node|task|network|secret|config, event=create|update|remove,
    /// service=, node=, network=, secret=, config=, label=KEY[=VALUE], scope=swarm
    #[arg(short, long = "filter", value_name = "KEY=VALUE", value_parser = filter)]
    pub filter: Vec<EventFilter>,
    /// Format output: "json", or a template like '{{.Type}} {{.Action}} {{.Actor.Attributes.name}}'
    #[arg(long)]
    pub format: Option<String>,
}

fn filter(text: &str) -> Result<EventFilter, String> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok(EventFilter { key: key.to_string(), value: value.to_string() }),
        _ => Err(format!("expected KEY=VALUE, got {text:?}")),
    }
}

pub async fn run(ctx: &mut Ctx, args: EventsArgs) -> Result<()> {
    let format = Format::from_flag(args.format.as_deref());
    let request = EventsRequest { since: args.since, until: args.until, filters: args.filter };
    let mut stream = ctx.control().await?.events(request).await.map_err(status)?.into_inner();
    while let Some(event) = stream.message().await.map_err(status)? {
        match &format {
            Format::Default => outln!("{}", line(&event)),
            other => other.print_each(&[super::inspect::event(&event)])?,
        }
    }
    Ok(())
}

/// As `docker events` prints an event: its time, type, action, actor and
/// its attributes in key order.
fn line(e: &Event) -> String {
    let mut attributes: Vec<(&String, &String)> = e.attributes.iter().collect();
    attributes.sort();
    let attributes: Vec<String> = attributes.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{} {} {} {} ({})", rfc3339(e.time), e.r#type, e.action, e.actor_id, attributes.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scale() -> Event {
        Event {
            r#type: "service".into(),
            action: "update".into(),
            actor_id: "abc".into(),
            attributes: [("replicas.old", "1"), ("name", "web"), ("replicas.new", "3")]
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .into(),
            time: 1_796_579_141_519_172_886,
            index: 9,
        }
    }

    #[test]
    fn printed_as_docker_prints_events() {
        assert_eq!(
            line(&scale()),
            "2026-12-06T17:45:41.519172886Z service update abc (name=web, replicas.new=3, replicas.old=1)"
        );
        assert_eq!(filter("type=service").unwrap().value, "service");
        assert!(filter("type").is_err());
    }
}
