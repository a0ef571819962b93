//! `stack deploy`: every service converted and checked before anything
//! is written; `--prune` first; then each service created or updated
//! (only if its spec changed), dependencies first. The start order of
//! `depends_on` is kept in the services' specs: the cluster holds a
//! service's tasks until those it depends on are up, whether or not this
//! command waits, and on every later start. Without `--detach`, one line
//! per service (redrawn on a terminal, printed as it changes otherwise)
//! until all converged, one failed, or `--timeout` ([`DEFAULT_TIMEOUT`]
//! unless given; `0`: no limit) passed; a line shows why its service
//! waits: a dependency, a task pending for a node, or its newest task's
//! error.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow, bail};
use shoal_proto::{
    CreateConfigRequest, CreateNetworkRequest, CreateSecretRequest, CreateServiceRequest, ListConfigsRequest,
    ListNetworksRequest, ListSecretsRequest, NetworkSpec, Service, ServiceSpec, UpdateServiceRequest,
};
use shoal_spec::{runtime, validate};

use super::super::live::View;
use super::super::progress::{POLL, Standing, Tracker, Verdict, WaitFlags};
use super::super::{Ctx, service};
use super::{all_services, in_stack};
use crate::client::status;
use shoal_compose::convert;
use shoal_compose::files::{self as stack_files, Kind, StackFile};
use shoal_compose::model::Compose;
use shoal_compose::networks::{self, StackNetwork};

/// How long `stack deploy` waits for its services to converge unless
/// `--timeout` says otherwise: as long as Helm's `--wait`, enough for a
/// stack's rolling updates, and a stuck deploy in CI still ends.
pub const DEFAULT_TIMEOUT: &str = "5m";

/// `stack deploy`'s options beyond the files.
pub struct Options<'a> {
    pub prune: bool,
    /// Send this client's registry credentials for each service's image.
    pub with_registry_auth: bool,
    pub wait: &'a WaitFlags,
    /// Give up waiting after this long; `None`: wait for ever.
    pub timeout: Option<Duration>,
}

/// The wait's limit for a `--timeout` of `ns` nanoseconds: none for 0.
pub fn limit(ns: i64) -> Option<Duration> {
    (ns > 0).then(|| Duration::from_nanos(ns as u64))
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

/// One service of the stack on its way.
struct Entry {
    /// `STACK_name`.
    full: String,
    spec: ServiceSpec,
    existing: Option<Service>,
    /// Once created or updated (or found unchanged).
    tracker: Option<Tracker>,
    standing: Option<Standing>,
}

impl Entry {
    fn settled(&self) -> bool {
        self.standing.as_ref().is_some_and(|s| s.verdict != Verdict::Waiting)
    }

    fn line(&self, width: usize) -> String {
        let what = self.standing.as_ref().map_or_else(|| "starting".to_string(), Standing::summary);
        format!("{:<width$}  {what}", self.full)
    }
}

pub async fn deploy(ctx: &mut Ctx, stack: &str, compose: &Compose, base: &Path, options: Options<'_>) -> Result<()> {
    validate::check_name(stack).map_err(|e| anyhow!("stack {}", e.0))?;
    let mut current: BTreeMap<String, Service> = all_services(ctx)
        .await?
        .into_iter()
        .filter(|s| in_stack(s, stack))
        .map(|s| (s.name().to_string(), s))
        .collect();
    let (networks, warnings) = networks::plan(stack, compose).map_err(anyhow::Error::msg)?;
    warnings.iter().for_each(|w| errln!("WARN: {w}"));
    // Everything is checked before anything is written.
    for network in networks.iter().filter(|n| !n.external) {
        shoal_spec::network::network_spec(network.spec.clone())
            .map_err(|e| anyhow!("networks.{}: {}", network.key, e.0))?;
    }
    let files = stack_files::plan(stack, compose, base).map_err(anyhow::Error::msg)?;
    for file in files.iter().filter(|f| !f.external) {
        let checked = match file.kind {
            Kind::Secret => shoal_spec::files::secret_spec(&file.secret_spec()),
            Kind::Config => shoal_spec::files::config_spec(&file.config_spec()),
        };
        checked.map_err(|e| anyhow!("{}.{}: {}", file.kind.section(), file.key, e.0))?;
    }
    let mut entries = entries(stack, compose, &mut current, &networks, &files)?;
    for entry in &mut entries {
        let container =
            entry.spec.task.get_or_insert_with(Default::default).container.get_or_insert_with(Default::default);
        if options.with_registry_auth {
            super::super::registry_auth::attach(container)?;
        } else {
            // Swarm keeps the credentials a service was given until new ones are sent.
            let current = entry.existing.as_ref().and_then(|s| s.spec.as_ref()).and_then(|s| s.task.as_ref());
            container.pull_options = current.and_then(|t| t.container.as_ref()).and_then(|c| c.pull_options.clone());
        }
    }
    let missing = missing_networks(ctx, &networks).await?;
    let file_ids = make_files(ctx, &files).await?;
    // What is left of the stack's services is no longer in the file.
    if options.prune && !current.is_empty() {
        service::rm(ctx, current.into_values().map(|s| s.id).collect()).await?;
    }
    create_networks(ctx, &missing).await?;
    attach(ctx, &mut entries, &file_ids).await?;
    let mut view =
        if options.wait.detached() { View::new(0, true) } else { View::new(entries.len(), options.wait.quiet) };
    // All at once: the cluster starts them in `depends_on` order.
    for entry in entries.iter_mut() {
        let id = apply(ctx, entry, &view).await?;
        entry.tracker = Some(Tracker::new(id, false));
    }
    if options.wait.detached() {
        return Ok(());
    }
    let width = entries.iter().map(|e| e.full.len()).max().unwrap_or(0);
    let deadline = options.timeout.map(|t| (Instant::now() + t, t));
    let mut control = ctx.control().await?;
    loop {
        for entry in entries.iter_mut().filter(|e| !e.settled()) {
            if let Some(tracker) = &mut entry.tracker {
                entry.standing = Some(tracker.look(&mut control).await?);
            }
        }
        let lines: Vec<String> = entries.iter().map(|e| e.line(width)).collect();
        let failed = entries.iter().find_map(|e| match e.standing.as_ref().map(|s| &s.verdict) {
            Some(Verdict::Failed(error)) => Some((e.full.clone(), error.clone())),
            _ => None,
        });
        if let Some((name, error)) = failed {
            view.finish(&lines);
            bail!("{name}: {error}");
        }
        if entries.iter().all(|e| e.settled()) {
            view.finish(&lines);
            return Ok(());
        }
        if let Some((at, timeout)) = deadline
            && Instant::now() >= at
        {
            view.finish(&lines);
            bail!("{}", timed_out(timeout, &entries, &lines));
        }
        view.show(&lines);
        tokio::time::sleep(POLL).await;
    }
}

/// The error of a wait that timed out: the services not converged, then
/// each one's line (why it waits, its newest task's error).
fn timed_out(timeout: Duration, entries: &[Entry], lines: &[String]) -> String {
    let late: Vec<(&Entry, &String)> = entries.iter().zip(lines).filter(|(e, _)| !e.settled()).collect();
    let names: Vec<&str> = late.iter().map(|(e, _)| e.full.as_str()).collect();
    let mut error =
        format!("timed out after {}: not converged: {}", humantime::format_duration(timeout), names.join(", "));
    late.iter().for_each(|(_, line)| error.push_str(&format!("\n  {line}")));
    error
}

/// The stack's services in deploy order, converted and checked; each
/// takes its deployed service (by name) out of `existing`.
fn entries(
    stack: &str,
    compose: &Compose,
    existing: &mut BTreeMap<String, Service>,
    networks: &[StackNetwork],
    files: &[StackFile],
) -> Result<Vec<Entry>> {
    let order = order(compose)?;
    let mut entries = Vec::new();
    for name in &order {
        let converted = convert::service(stack, name, compose, networks).map_err(anyhow::Error::msg)?;
        converted.warnings.iter().for_each(|w| errln!("WARN: {w}"));
        let mut spec = converted.spec;
        let container = spec.task.get_or_insert_with(Default::default).container.get_or_insert_with(Default::default);
        let svc = &compose.services[name];
        container.secrets =
            stack_files::references(name, Kind::Secret, &svc.secrets, files).map_err(anyhow::Error::msg)?;
        container.configs =
            stack_files::references(name, Kind::Config, &svc.configs, files).map_err(anyhow::Error::msg)?;
        // Modes filled in as the managers store them (and targets checked).
        shoal_spec::files::references(container).map_err(|e| anyhow!("services.{name}: {}", e.0))?;
        let mut spec = validate::service_spec(spec).map_err(|e| anyhow!("services.{name}: {}", e.0))?;
        let full = format!("{stack}_{name}");
        let existing = existing.remove(&full);
        // A service keeps the runtime it was created with unless the file
        // names one (as the managers do for any update).
        if let Some(current) = existing.as_ref().and_then(|s| s.spec.as_ref()) {
            runtime::fill(spec.task.get_or_insert_with(Default::default), runtime::of(current));
        }
        entries.push(Entry { full, spec, existing, tracker: None, standing: None });
    }
    Ok(entries)
}

/// Makes the stack's secrets and configs the cluster does not have; one
/// it has already is left as it is when its data is the same, and the
/// deploy refused (Swarm's rule: they never change) when it is not. An
/// external one must exist. Those with a name the cluster knows go
/// first: a refusal leaves nothing new behind. Returns the id of each,
/// by kind and name.
async fn make_files(ctx: &mut Ctx, files: &[StackFile]) -> Result<FileIds> {
    let mut control = ctx.control().await?;
    let secrets = control.list_secrets(ListSecretsRequest {}).await.map_err(status)?.into_inner().secrets;
    let configs = control.list_configs(ListConfigsRequest {}).await.map_err(status)?.into_inner().configs;
    let exists = |f: &StackFile| match f.kind {
        Kind::Secret => secrets.iter().any(|s| s.name() == f.name),
        Kind::Config => configs.iter().any(|c| c.name() == f.name),
    };
    let mut ids = FileIds::new();
    ids.extend(secrets.iter().map(|s| ((Kind::Secret, s.name().to_string()), s.id.clone())));
    ids.extend(configs.iter().map(|c| ((Kind::Config, c.name().to_string()), c.id.clone())));
    if let Some(f) = files.iter().find(|f| f.external && !exists(f)) {
        let kind = f.kind.noun();
        bail!(
            "{}.{}: {kind} {:?} is declared as external, but could not be found: create it first with \"shoal {kind} create\"",
            f.kind.section(),
            f.key,
            f.name
        );
    }
    let mut ordered: Vec<&StackFile> = files.iter().filter(|f| !f.external).collect();
    ordered.sort_by_key(|f| !exists(f));
    for f in ordered {
        let new = !exists(f);
        if new {
            outln!("Creating {} {}", f.kind.noun(), f.name);
        }
        let made = match f.kind {
            Kind::Secret => {
                let request = CreateSecretRequest { spec: Some(f.secret_spec()), reuse: true };
                control.create_secret(request).await.map(|s| s.into_inner().id)
            }
            Kind::Config => {
                let request = CreateConfigRequest { spec: Some(f.config_spec()), reuse: true };
                control.create_config(request).await.map(|c| c.into_inner().id)
            }
        };
        let id = made.map_err(|e| anyhow!("{}.{}: {}", f.kind.section(), f.key, e.message()))?;
        ids.insert((f.kind, f.name.clone()), id);
    }
    Ok(ids)
}

/// The id of each secret and config a stack's services may read, by kind
/// and name.
type FileIds = std::collections::HashMap<(Kind, String), String>;

/// The stack's networks still to create; an error (before anything is
/// written) if an external one does not exist.
async fn missing_networks(ctx: &mut Ctx, networks: &[StackNetwork]) -> Result<Vec<NetworkSpec>> {
    let list = ctx.control().await?.list_networks(ListNetworksRequest {}).await.map_err(status)?.into_inner();
    let exists = |name: &str| list.networks.iter().any(|n| n.name() == name);
    let mut missing = Vec::new();
    for network in networks {
        match (network.external, exists(&network.name)) {
            (true, false) => bail!(
                "network {:?} is declared as external, but could not be found: create it first with \"shoal network create\"",
                network.name
            ),
            (false, false) => missing.push(network.spec.clone()),
            _ => {}
        }
    }
    Ok(missing)
}

async fn create_networks(ctx: &mut Ctx, specs: &[NetworkSpec]) -> Result<()> {
    let mut control = ctx.control().await?;
    for spec in specs {
        let name = spec.annotations.as_ref().map_or("", |a| a.name.as_str());
        outln!("Creating network {name}");
        control.create_network(CreateNetworkRequest { spec: Some(spec.clone()) }).await.map_err(status)?;
    }
    Ok(())
}

/// Names the entries' networks, secrets and configs by id, as the
/// cluster stores them (so an unchanged service compares equal).
async fn attach(ctx: &mut Ctx, entries: &mut [Entry], file_ids: &FileIds) -> Result<()> {
    let list = ctx.control().await?.list_networks(ListNetworksRequest {}).await.map_err(status)?.into_inner();
    for entry in entries {
        for attachment in entry.spec.task.iter_mut().flat_map(|t| t.networks.iter_mut()) {
            let network = list.networks.iter().find(|n| n.name() == attachment.target);
            let network = network.ok_or_else(|| anyhow!("{}: network {} not found", entry.full, attachment.target))?;
            attachment.target = network.id.clone();
        }
        if let Some(c) = entry.spec.task.as_mut().and_then(|t| t.container.as_mut()) {
            let refs =
                c.secrets.iter_mut().map(|r| (Kind::Secret, r)).chain(c.configs.iter_mut().map(|r| (Kind::Config, r)));
            for (kind, r) in refs {
                if let Some(id) = file_ids.get(&(kind, r.name.clone())) {
                    r.id = id.clone();
                }
            }
        }
    }
    Ok(())
}

/// Creates the entry's service, or updates it if its spec changed;
/// returns its id.
async fn apply(ctx: &mut Ctx, entry: &Entry, view: &View) -> Result<String> {
    match &entry.existing {
        Some(current) if current.spec.as_ref() == Some(&entry.spec) => Ok(current.id.clone()),
        Some(current) => {
            view.println(&format!("Updating service {} (id: {})", entry.full, current.id));
            let version = current.meta.as_ref().map_or(0, |m| m.version);
            let request = UpdateServiceRequest {
                service_id: current.id.clone(),
                version,
                spec: Some(entry.spec.clone()),
                ..Default::default()
            };
            ctx.control().await?.update_service(request).await.map_err(status)?;
            Ok(current.id.clone())
        }
        None => {
            view.println(&format!("Creating service {}", entry.full));
            let request = CreateServiceRequest { spec: Some(entry.spec.clone()) };
            Ok(ctx.control().await?.create_service(request).await.map_err(status)?.into_inner().id)
        }
    }
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

    fn entry(full: &str, verdict: Verdict, failure: Option<&str>) -> Entry {
        let standing = Standing {
            lines: Vec::new(),
            verify: String::new(),
            desired: 1,
            done: usize::from(verdict == Verdict::Converged),
            updating: false,
            job: false,
            scheduled: false,
            pending: None,
            failure: failure.map(str::to_string),
            verdict,
        };
        let spec = ServiceSpec::default();
        Entry { full: full.into(), spec, existing: None, tracker: None, standing: Some(standing) }
    }

    #[test]
    fn a_line_says_why_its_service_waits_and_a_timeout_names_the_late_ones() {
        let mut entries = vec![
            entry("t_db", Verdict::Converged, None),
            entry("t_bad", Verdict::Waiting, Some("executable not found: /x")),
            entry("t_web", Verdict::Waiting, None),
        ];
        let held = "waiting for t_bad (service_started): 0/1 running";
        entries[2].standing.as_mut().unwrap().pending = Some(held.into());
        let lines: Vec<String> = entries.iter().map(|e| e.line(5)).collect();
        assert_eq!(
            lines,
            vec![
                "t_db   1/1 converged",
                "t_bad  0/1 task failed: executable not found: /x",
                "t_web  0/1 pending: waiting for t_bad (service_started): 0/1 running",
            ]
        );
        assert_eq!(
            timed_out(Duration::from_secs(5), &entries, &lines),
            "timed out after 5s: not converged: t_bad, t_web\n  t_bad  0/1 task failed: executable not found: /x\n  t_web  0/1 pending: waiting for t_bad (service_started): 0/1 running"
        );
    }
}
