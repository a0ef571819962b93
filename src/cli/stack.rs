//! `shoal stack ...`: compose files as `docker stack` reads them. `stack
//! config` prints the merged, interpolated file in its normal form (long
//! syntax, durations and sizes spelled out) without deploying it, with
//! `$` written `$$`, so the output reads back as the same file. `stack
//! deploy` creates or updates the stack's services (only those whose spec
//! changed), in `depends_on` order; `ls`, `services`, `ps`, `rm` as in
//! Docker.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use clap::Subcommand;
use serde_json::{Value, json};
use shoal_manager::control::validate;
use shoal_proto::{CreateServiceRequest, ListServicesRequest, ListTasksRequest, Service, UpdateServiceRequest};

use super::format::{Format, ListFlags, PsFlags};
use super::progress::WaitFlags;
use super::{Ctx, service, table};
use crate::client::status;
use crate::stack::convert::{self, NAMESPACE_LABEL};
use crate::stack::model::Compose;
use crate::stack::{interpolate, load};

#[derive(Subcommand, Debug)]
pub enum StackCommand {
    /// Print the merged, interpolated compose file (nothing is deployed)
    Config {
        /// Path to a compose file, or "-" to read from stdin; several merge in order
        #[arg(short = 'c', long = "compose-file", value_name = "FILE", required = true)]
        compose_file: Vec<String>,
        /// Variables for interpolation [default: .env beside the first file]
        #[arg(long, value_name = "FILE")]
        env_file: Option<PathBuf>,
    },
    /// Deploy a new stack or update an existing one
    #[command(alias = "up")]
    Deploy {
        /// Path to a compose file, or "-" to read from stdin; several merge in order
        #[arg(short = 'c', long = "compose-file", value_name = "FILE", required = true)]
        compose_file: Vec<String>,
        /// Variables for interpolation [default: .env beside the first file]
        #[arg(long, value_name = "FILE")]
        env_file: Option<PathBuf>,
        /// Remove services that are no longer in the file
        #[arg(long)]
        prune: bool,
        #[command(flatten)]
        wait: WaitFlags,
        #[arg(value_name = "STACK")]
        stack: String,
    },
    /// List stacks
    #[command(alias = "list")]
    Ls {
        /// Format output: "json", or a template like '{{.Name}}'
        #[arg(long)]
        format: Option<String>,
    },
    /// List the services of a stack
    Services {
        #[command(flatten)]
        flags: ListFlags,
        #[arg(value_name = "STACK")]
        stack: String,
    },
    /// List the tasks of a stack
    Ps {
        #[command(flatten)]
        flags: PsFlags,
        #[arg(value_name = "STACK")]
        stack: String,
    },
    /// Remove one or more stacks
    #[command(alias = "remove", alias = "down")]
    Rm {
        /// Exit immediately instead of waiting for the stack's tasks to stop
        #[arg(short, long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
        detach: Option<bool>,
        #[arg(required = true, value_name = "STACK")]
        stacks: Vec<String>,
    },
}

/// Whether `service` belongs to `stack`.
pub fn in_stack(service: &Service, stack: &str) -> bool {
    let labels = service.spec.as_ref().and_then(|s| s.annotations.as_ref()).map(|a| &a.labels);
    labels.and_then(|l| l.get(NAMESPACE_LABEL)).is_some_and(|n| n == stack)
}

pub async fn run(ctx: &mut Ctx, cmd: StackCommand) -> Result<()> {
    match cmd {
        StackCommand::Config { compose_file, env_file } => {
            let compose = load_files(&compose_file, env_file.as_deref())?;
            // The normal form, as a compose file: `$` escaped, so it reads
            // back the same.
            let mut tree = serde_json::to_value(&compose)?;
            interpolate::escape(&mut tree);
            print!("{}", serde_saphyr::to_string(&tree)?);
            Ok(())
        }
        StackCommand::Deploy { compose_file, env_file, prune, wait, stack } => {
            let compose = load_files(&compose_file, env_file.as_deref())?;
            let base = load::base_dir(&compose_file);
            deploy(ctx, &stack, &compose, &base, prune, &wait).await
        }
        StackCommand::Ls { format } => ls(ctx, Format::from_flag(format.as_deref())).await,
        StackCommand::Services { flags, stack } => {
            stack_services(ctx, &stack).await?;
            service::ls(ctx, flags.quiet, flags.format(), Some(&stack)).await
        }
        StackCommand::Ps { flags, stack } => {
            let ids = stack_services(ctx, &stack).await?.into_iter().map(|s| s.id).collect::<Vec<_>>();
            service::ps(ctx, &ids, &[], &flags).await
        }
        StackCommand::Rm { detach, stacks } => {
            let mut removed = BTreeSet::new();
            for stack in stacks {
                let services = stack_services(ctx, &stack).await?;
                println!("Removing stack {stack}");
                removed.extend(services.iter().map(|s| s.id.clone()));
                service::rm(ctx, services.into_iter().map(|s| s.id).collect()).await?;
            }
            if detach.unwrap_or(false) {
                return Ok(());
            }
            // The removed services' tasks go once they have stopped.
            loop {
                let tasks = ctx.control().await?.list_tasks(ListTasksRequest::default()).await.map_err(status)?;
                if !tasks.into_inner().tasks.iter().any(|t| removed.contains(&t.service_id)) {
                    return Ok(());
                }
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
        }
    }
}

fn load_files(files: &[String], env_file: Option<&Path>) -> Result<Compose> {
    let loaded = load::load(files, env_file)?;
    for warning in &loaded.warnings {
        eprintln!("WARN: {warning}");
    }
    Ok(loaded.compose)
}

async fn all_services(ctx: &mut Ctx) -> Result<Vec<Service>> {
    let list = ctx.control().await?.list_services(ListServicesRequest {}).await.map_err(status)?.into_inner();
    Ok(list.services.into_iter().filter_map(|s| s.service).collect())
}

/// The services of `stack`; an error if it has none.
async fn stack_services(ctx: &mut Ctx, stack: &str) -> Result<Vec<Service>> {
    let services: Vec<Service> = all_services(ctx).await?.into_iter().filter(|s| in_stack(s, stack)).collect();
    if services.is_empty() {
        bail!("nothing found in stack: {stack}");
    }
    Ok(services)
}

async fn ls(ctx: &mut Ctx, format: Format) -> Result<()> {
    let mut stacks: BTreeMap<String, usize> = BTreeMap::new();
    for s in all_services(ctx).await? {
        let labels = s.spec.as_ref().and_then(|s| s.annotations.as_ref()).map(|a| a.labels.clone());
        if let Some(stack) = labels.and_then(|l| l.get(NAMESPACE_LABEL).cloned()) {
            *stacks.entry(stack).or_default() += 1;
        }
    }
    let rows: Vec<Value> = stacks.iter().map(|(name, n)| json!({ "Name": name, "Services": n.to_string() })).collect();
    if format != Format::Default {
        return format.print_each(&rows);
    }
    let cells: Vec<Vec<String>> = stacks.iter().map(|(name, n)| vec![name.clone(), n.to_string()]).collect();
    print!("{}", table::render(&["NAME", "SERVICES"], &cells));
    Ok(())
}

/// The services in the order to deploy them: each after those it
/// depends on; a cycle or an unknown dependency is an error.
pub fn order(compose: &Compose) -> Result<Vec<String>> {
    let mut done: Vec<String> = Vec::new();
    let mut visiting: Vec<String> = Vec::new();
    fn visit(name: &str, compose: &Compose, done: &mut Vec<String>, visiting: &mut Vec<String>) -> Result<()> {
        if done.iter().any(|d| d == name) {
            return Ok(());
        }
        if let Some(at) = visiting.iter().position(|v| v == name) {
            let mut cycle = visiting[at..].to_vec();
            cycle.push(name.to_string());
            bail!("depends_on: a cycle: {}", cycle.join(" -> "));
        }
        visiting.push(name.to_string());
        for dep in compose.services[name].depends_on.keys() {
            if !compose.services.contains_key(dep) {
                bail!("services.{name}.depends_on: no service {dep:?} in the file");
            }
            visit(dep, compose, done, visiting)?;
        }
        visiting.pop();
        done.push(name.to_string());
        Ok(())
    }
    for name in compose.services.keys() {
        visit(name, compose, &mut done, &mut visiting)?;
    }
    Ok(done)
}

async fn deploy(
    ctx: &mut Ctx,
    stack: &str,
    compose: &Compose,
    base: &Path,
    prune: bool,
    wait: &WaitFlags,
) -> Result<()> {
    validate::check_name(stack).map_err(|e| anyhow::anyhow!("stack {}", e.0))?;
    let order = order(compose)?;
    // Everything converted (and checked) before anything is written.
    let lookup = |k: &str| std::env::var(k).ok();
    let mut specs = Vec::new();
    for name in &order {
        let converted =
            convert::service(stack, name, &compose.services[name], &lookup, base).map_err(anyhow::Error::msg)?;
        converted.warnings.iter().for_each(|w| eprintln!("WARN: {w}"));
        let spec = validate::service_spec(converted.spec).map_err(|e| anyhow::anyhow!("services.{name}: {}", e.0))?;
        specs.push((name.clone(), spec));
    }
    let existing: BTreeMap<String, Service> = all_services(ctx)
        .await?
        .into_iter()
        .filter(|s| in_stack(s, stack))
        .map(|s| (s.spec.as_ref().and_then(|s| s.annotations.as_ref()).map_or(String::new(), |a| a.name.clone()), s))
        .collect();
    let needed: BTreeSet<&String> = compose.services.values().flat_map(|s| s.depends_on.keys()).collect();
    let mut touched = Vec::new();
    for (name, spec) in specs {
        let full = format!("{stack}_{name}");
        let id = match existing.get(&full) {
            Some(current) if current.spec.as_ref() == Some(&spec) => current.id.clone(),
            Some(current) => {
                println!("Updating service {full} (id: {})", current.id);
                let version = current.meta.as_ref().map_or(0, |m| m.version);
                let request = UpdateServiceRequest {
                    service_id: current.id.clone(),
                    version,
                    spec: Some(spec),
                    ..Default::default()
                };
                ctx.control().await?.update_service(request).await.map_err(status)?;
                touched.push(current.id.clone());
                current.id.clone()
            }
            None => {
                println!("Creating service {full}");
                let request = CreateServiceRequest { spec: Some(spec) };
                let created = ctx.control().await?.create_service(request).await.map_err(status)?.into_inner();
                touched.push(created.id.clone());
                created.id
            }
        };
        // What others depend on runs before they are created.
        if !wait.detached() && needed.contains(&name) {
            wait.wait(ctx, &id, false).await?;
            touched.retain(|t| *t != id);
        }
    }
    if prune {
        let wanted: BTreeSet<String> = compose.services.keys().map(|n| format!("{stack}_{n}")).collect();
        let gone: Vec<String> =
            existing.iter().filter(|(n, _)| !wanted.contains(*n)).map(|(_, s)| s.id.clone()).collect();
        if !gone.is_empty() {
            service::rm(ctx, gone).await?;
        }
    }
    for id in touched {
        wait.wait(ctx, &id, false).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compose(yaml: &str) -> Compose {
        Compose::from_tree(serde_saphyr::from_str(yaml).unwrap()).unwrap()
    }

    #[test]
    fn dependencies_come_first_and_cycles_are_refused() {
        let c = compose(
            "services: { web: { image: a, depends_on: [api] }, api: { image: a, depends_on: [db] }, db: { image: a } }",
        );
        assert_eq!(order(&c).unwrap(), vec!["db", "api", "web"]);
        let c = compose("services: { a: { image: a, depends_on: [b] }, b: { image: a, depends_on: [a] } }");
        assert_eq!(order(&c).unwrap_err().to_string(), "depends_on: a cycle: a -> b -> a");
        let c = compose("services: { a: { image: a, depends_on: [nope] } }");
        assert_eq!(order(&c).unwrap_err().to_string(), "services.a.depends_on: no service \"nope\" in the file");
    }
}
