//! `shoal service update`: changes a service's spec in place. This first
//! cut covers placement and resources (`--constraint-add/-rm`,
//! `--placement-pref-add/-rm`, `--max-replicas`, reservations and limits)
//! and `--replicas`; a task on a node that no longer meets the
//! constraints moves to one that does.

use anyhow::{Result, bail};
use clap::Args;
use shoal_proto::{
    GetServiceRequest, Placement, PlacementPreference, ResourceRequirements, ServiceSpec, UpdateServiceRequest,
    service_spec::Mode,
};

use super::args::{ResourceArgs, count, placement_pref};
use super::{Ctx, progress};
use crate::client::status;

/// Flags of `service update`.
#[derive(Args, Debug)]
pub struct UpdateArgs {
    /// Number of tasks
    #[arg(long, value_name = "N", value_parser = count, allow_hyphen_values = true)]
    pub replicas: Option<u64>,
    /// Add or update a placement constraint
    #[arg(long = "constraint-add", value_name = "EXPRESSION")]
    pub constraint_add: Vec<String>,
    /// Remove a constraint
    #[arg(long = "constraint-rm", value_name = "EXPRESSION")]
    pub constraint_rm: Vec<String>,
    /// Add a placement preference (spread=node.labels.KEY)
    #[arg(long = "placement-pref-add", value_name = "PREF", value_parser = placement_pref)]
    pub placement_pref_add: Vec<String>,
    /// Remove a placement preference
    #[arg(long = "placement-pref-rm", value_name = "PREF", value_parser = placement_pref)]
    pub placement_pref_rm: Vec<String>,
    /// Maximum number of tasks per node (0 = unlimited)
    #[arg(long, value_name = "N", value_parser = count, allow_hyphen_values = true)]
    pub max_replicas: Option<u64>,
    #[command(flatten)]
    pub resources: ResourceArgs,
    /// Exit immediately instead of waiting for the service to converge
    #[arg(short, long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub detach: Option<bool>,
    /// Suppress progress output
    #[arg(short, long)]
    pub quiet: bool,
    #[arg(value_name = "SERVICE")]
    pub service: String,
}

impl UpdateArgs {
    /// `spec` with these flags applied.
    fn apply(&self, mut spec: ServiceSpec) -> Result<ServiceSpec> {
        if let Some(n) = self.replicas {
            match spec.mode.as_mut() {
                Some(Mode::Replicated(r)) => r.replicas = n,
                Some(Mode::ReplicatedJob(j)) => j.total_completions = n,
                _ => bail!("--replicas: can only be used with replicated or replicated-job mode"),
            }
        }
        let task = spec.task.get_or_insert_with(Default::default);
        let placement = task.placement.get_or_insert_with(Placement::default);
        edit(&mut placement.constraints, &self.constraint_rm, &self.constraint_add, |c| c.trim().to_string());
        let mut prefs: Vec<String> = placement.preferences.iter().map(|p| p.spread_descriptor.clone()).collect();
        edit(&mut prefs, &self.placement_pref_rm, &self.placement_pref_add, |p| p.trim().to_string());
        placement.preferences = prefs.into_iter().map(|d| PlacementPreference { spread_descriptor: d }).collect();
        if let Some(n) = self.max_replicas {
            placement.max_replicas = n;
        }
        self.resources.apply(task.resources.get_or_insert_with(ResourceRequirements::default));
        Ok(spec)
    }
}

/// Removes `rm` from `list` (compared as `key` says), then appends each
/// of `add` not already there.
fn edit(list: &mut Vec<String>, rm: &[String], add: &[String], key: impl Fn(&str) -> String) {
    let gone: Vec<String> = rm.iter().map(|r| key(r)).collect();
    list.retain(|item| !gone.contains(&key(item)));
    for item in add {
        if !list.iter().any(|i| key(i) == key(item)) {
            list.push(item.clone());
        }
    }
}

pub async fn run(ctx: &mut Ctx, args: UpdateArgs) -> Result<()> {
    let mut client = ctx.control().await?;
    let service =
        client.get_service(GetServiceRequest { reference: args.service.clone() }).await.map_err(status)?.into_inner();
    let spec = args.apply(service.spec.clone().unwrap_or_default())?;
    let version = service.meta.as_ref().map_or(0, |m| m.version);
    let request = UpdateServiceRequest { service_id: service.id.clone(), version, spec: Some(spec) };
    client.update_service(request).await.map_err(status)?;
    println!("{}", args.service);
    if args.detach.unwrap_or(false) {
        return Ok(());
    }
    progress::converge(ctx, &service.id, args.quiet).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use shoal_proto::Resources;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: UpdateArgs,
    }

    fn apply(flags: &[&str], spec: ServiceSpec) -> Result<ServiceSpec> {
        let mut argv = vec!["update"];
        argv.extend_from_slice(flags);
        argv.push("web");
        Cli::try_parse_from(argv).unwrap().args.apply(spec)
    }

    #[test]
    fn constraints_and_preferences_are_added_and_removed() {
        let spec = apply(
            &["--constraint-add", "node.role==worker", "--constraint-add", "node.labels.a==b"],
            ServiceSpec::default(),
        )
        .unwrap();
        let spec = apply(
            &[
                "--constraint-rm",
                "node.labels.a==b",
                "--constraint-add",
                "node.role==worker",
                "--placement-pref-add",
                "spread=node.labels.dc",
            ],
            spec,
        )
        .unwrap();
        let placement = spec.task.as_ref().unwrap().placement.clone().unwrap();
        assert_eq!(placement.constraints, vec!["node.role==worker".to_string()]);
        assert_eq!(placement.preferences[0].spread_descriptor, "node.labels.dc");
        let spec = apply(&["--placement-pref-rm", "spread=node.labels.dc", "--max-replicas", "2"], spec).unwrap();
        let placement = spec.task.as_ref().unwrap().placement.clone().unwrap();
        assert!(placement.preferences.is_empty());
        assert_eq!(placement.max_replicas, 2);
    }

    #[test]
    fn resources_change_one_field_at_a_time() {
        let spec = apply(&["--reserve-cpu", "0.5", "--limit-memory", "1g"], ServiceSpec::default()).unwrap();
        let spec = apply(&["--reserve-memory", "64m"], spec).unwrap();
        let r = spec.task.unwrap().resources.unwrap();
        assert_eq!(r.reservations, Some(Resources { nano_cpus: 500_000_000, memory_bytes: 64 << 20 }));
        assert_eq!(r.limits, Some(Resources { nano_cpus: 0, memory_bytes: 1 << 30 }));
    }

    #[test]
    fn replicas_only_for_replicated_services() {
        let global = ServiceSpec { mode: Some(Mode::Global(Default::default())), ..Default::default() };
        assert_eq!(
            apply(&["--replicas", "3"], global).unwrap_err().to_string(),
            "--replicas: can only be used with replicated or replicated-job mode"
        );
    }
}
