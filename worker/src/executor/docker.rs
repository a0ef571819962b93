//! The docker runtime: a task is a container of the node's Docker
//! Engine, made from its image (pulled when missing), named and labelled
//! as [`docker::container`] says. A task on networks first gets a
//! sandbox, a container of shoal's own pause image with no network of the
//! engine's, whose namespace the data path wires as it wires a process
//! task's; the task's container joins it (`container:<sandbox>`), so its
//! network is there before its entrypoint runs. The engine keeps both
//! running across restarts of shoal; a restarted worker finds them again
//! by their labels, and only ever touches containers labelled with its
//! own node id.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bollard::Docker;
use bollard::errors::Error;
use bollard::exec::{StartExecOptions, StartExecResults};
use bollard::models::{
    ContainerCreateBody, ContainerSummary, ContainerSummaryStateEnum as State, ExecConfig, HealthStatusEnum,
};
use bollard::query_parameters::{
    CreateContainerOptions, CreateImageOptions, KillContainerOptions, ListContainersOptions, RemoveContainerOptions,
    WaitContainerOptions,
};
use shoal_proto::{Task, TaskHealth};
use tokio::sync::watch;
use tokio_stream::StreamExt;

use super::{Adopted, ExecError, Executor, Signaller, TaskHandle};
use crate::docker::container::Sandboxed;
use crate::docker::{self, Client, container, pause};
use crate::taskdir::{ExitStatus, TaskDir};

/// How long a restarted worker waits for an engine that does not answer
/// before it counts a task's container lost.
const ENGINE_WAIT: Duration = Duration::from_secs(30);
/// How often an engine that does not answer is asked again.
const RETRY: Duration = Duration::from_secs(1);
/// How many times in a row the engine may refuse to say how a container
/// ended before the task fails with its answer.
const MAX_REFUSALS: u32 = 30;
/// How often the engine is asked a container's health.
const HEALTH_POLL: Duration = Duration::from_secs(1);

/// Runs tasks as containers of the engine behind `client`.
pub struct DockerExecutor {
    client: Arc<Client>,
    /// This node's id, on every container it makes.
    node_id: String,
    tasks_dir: PathBuf,
    /// The tasks this executor made containers for (until removed): the
    /// stray sweep leaves them alone, whatever it was told to keep.
    made: parking_lot::Mutex<HashSet<String>>,
}

/// A created container, for `start`.
pub struct Created {
    id: String,
}

fn err(msg: impl Into<String>) -> ExecError {
    ExecError(msg.into())
}

impl DockerExecutor {
    pub fn new(client: Arc<Client>, node_id: String, tasks_dir: PathBuf) -> DockerExecutor {
        DockerExecutor { client, node_id, tasks_dir, made: Default::default() }
    }

    async fn docker(&self) -> Result<Docker, ExecError> {
        self.client.get().await.map_err(err)
    }

    /// The containers this node made (for one task, in one role, when
    /// given).
    async fn mine(
        &self,
        docker: &Docker,
        task_id: Option<&str>,
        role: Option<&str>,
    ) -> Result<Vec<ContainerSummary>, Error> {
        let mut labels = vec![format!("{}={}", container::NODE_LABEL, self.node_id)];
        if let Some(id) = task_id {
            labels.push(format!("{}={id}", container::TASK_LABEL));
        }
        if let Some(role) = role {
            labels.push(format!("{}={role}", container::ROLE_LABEL));
        }
        let options = ListContainersOptions {
            all: true,
            filters: Some(HashMap::from([("label".to_string(), labels)])),
            ..Default::default()
        };
        docker.list_containers(Some(options)).await
    }

    /// Makes sure the task's image is on the node: used as present,
    /// pulled when missing. A failed pull keeps Docker's wording for the
    /// missing image, with why the pull failed.
    async fn image(&self, docker: &Docker, image: &str, registry_auth: &str) -> Result<(), ExecError> {
        let present = has_image(docker, image).await;
        if present.map_err(|e| err(format!("inspecting image {image}: {}", docker::message(&e))))? {
            return Ok(());
        }
        let (repo, tag) = split_reference(image);
        let options = CreateImageOptions { from_image: Some(repo), tag: Some(tag), ..Default::default() };
        let pull = docker.create_image(Some(options), None, docker::credentials(registry_auth));
        to_the_end(pull)
            .await
            .map_err(|e| err(format!("No such image: {image} (pulling it failed: {})", docker::message(&e))))
    }

    /// Creates container `name` of the task. A container of that name
    /// that this node made for this task (an earlier attempt that never
    /// started) is replaced; any other is left alone and named.
    async fn create(
        &self,
        docker: &Docker,
        task: &Task,
        body: ContainerCreateBody,
        name: String,
    ) -> Result<String, ExecError> {
        self.made.lock().insert(task.id.clone());
        let options = || CreateContainerOptions { name: Some(name.clone()), ..Default::default() };
        match docker.create_container(Some(options()), body.clone()).await {
            Ok(created) => return Ok(created.id),
            Err(e) if !docker::conflict(&e) => return Err(err(docker::message(&e))),
            Err(_) => {}
        }
        let found = docker.inspect_container(&name, None).await.map_err(|e| err(docker::message(&e)))?;
        let labels = found.config.and_then(|c| c.labels).unwrap_or_default();
        let ours = labels.get(container::NODE_LABEL) == Some(&self.node_id)
            && labels.get(container::TASK_LABEL) == Some(&task.id);
        if !ours {
            return Err(err(format!("the container name {name} is taken by a container this node did not make")));
        }
        if found.state.and_then(|s| s.running) == Some(true) {
            return Err(err(format!("the task's container {name} already runs")));
        }
        let id = found.id.unwrap_or(name.clone());
        remove(docker, &id).await.map_err(|e| err(docker::message(&e)))?;
        docker.create_container(Some(options()), body).await.map(|c| c.id).map_err(|e| err(docker::message(&e)))
    }

    /// The engine and the container of a task this node ran.
    pub async fn container(&self, task_id: &str) -> Result<(Docker, String), String> {
        let docker = self.docker().await.map_err(|ExecError(e)| e)?;
        let found = self.mine(&docker, Some(task_id), Some(container::TASK)).await.map_err(|e| docker::message(&e))?;
        let id = found.into_iter().find_map(|c| c.id).ok_or("its container is gone")?;
        Ok((docker, id))
    }

    /// The handle of a container that runs (or ran) now.
    async fn handle(&self, docker: Docker, id: String, task_id: &str) -> DockerHandle {
        let (pid, config, host) = match docker.inspect_container(&id, None).await {
            Ok(found) => (
                found.state.and_then(|s| s.pid).unwrap_or(0) as i32,
                found.config.unwrap_or_default(),
                found.host_config.unwrap_or_default(),
            ),
            Err(_) => (0, Default::default(), Default::default()),
        };
        let sandbox = host.network_mode.and_then(|m| m.strip_prefix("container:").map(String::from));
        let stop_signal = config.stop_signal.as_deref().and_then(shoal_proto::signal_number);
        // The image's health check, or the spec's in its place.
        let checked = config.healthcheck.and_then(|h| h.test).is_some_and(|t| !t.is_empty() && t[0] != "NONE");
        let health = checked.then(|| watch_health(docker.clone(), id.clone()));
        DockerHandle { docker, id, pid, stop_signal, health, sandbox, dir: TaskDir::new(&self.tasks_dir, task_id) }
    }

    /// Removes every container this node made whose task is not in
    /// `keep` (tasks the managers forgot, whatever their local records),
    /// nor one this executor made since it started (it came after `keep`
    /// was known).
    pub async fn remove_strays(&self, keep: &HashSet<String>) {
        let found = match self.docker().await {
            Ok(docker) => {
                self.mine(&docker, None, None).await.map(|found| (docker, found)).map_err(|e| docker::message(&e))
            }
            Err(ExecError(e)) => Err(e),
        };
        let (docker, found) = match found {
            Ok(found) => found,
            Err(e) => return tracing::warn!("listing this node's containers to remove those of forgotten tasks: {e}"),
        };
        for c in found {
            let task = c.labels.as_ref().and_then(|l| l.get(container::TASK_LABEL)).cloned().unwrap_or_default();
            if let Some(id) = c.id.as_deref()
                && !keep.contains(&task)
                && !self.made.lock().contains(&task)
                && let Err(e) = remove(&docker, id).await
            {
                tracing::warn!(container = %id, "removing a container of a forgotten task: {}", docker::message(&e));
            }
        }
    }
}

/// The sandbox image, imported into the engine first if it lacks it.
async fn pause_image(docker: &Docker) -> Result<String, ExecError> {
    let image = pause::image();
    let present = has_image(docker, &image).await;
    if present.map_err(|e| err(format!("inspecting {image}: {}", docker::message(&e))))? {
        return Ok(image);
    }
    let program = pause::program().ok_or_else(|| {
        err(format!("no sandbox program for {}: tasks on networks cannot run here", std::env::consts::ARCH))
    })?;
    let (repo, tag) = split_reference(&image);
    let options = CreateImageOptions {
        from_src: Some("-".into()),
        repo: Some(repo),
        tag: Some(tag),
        changes: vec![r#"CMD ["/pause"]"#.into(), format!("LABEL {}={}", pause::LABEL, env!("CARGO_PKG_VERSION"))],
        ..Default::default()
    };
    let body = bollard::body_full(bytes::Bytes::from(pause::tar("pause", &program)));
    let import = docker.create_image(Some(options), Some(body), None);
    to_the_end(import).await.map_err(|e| err(format!("importing {image}: {}", docker::message(&e))))?;
    Ok(image)
}

/// Whether the engine has `image` (an error other than "no such image"
/// is an error).
async fn has_image(docker: &Docker, image: &str) -> Result<bool, Error> {
    match docker.inspect_image(image).await {
        Ok(_) => Ok(true),
        Err(e) if docker::not_found(&e) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Runs a pull or an import (the engine's progress stream) to its end;
/// its first error.
async fn to_the_end<T>(progress: impl tokio_stream::Stream<Item = Result<T, Error>>) -> Result<(), Error> {
    let mut progress = std::pin::pin!(progress);
    while let Some(step) = progress.next().await {
        step?;
    }
    Ok(())
}

/// Force-removes a container with its anonymous volumes, as Swarm does.
async fn remove(docker: &Docker, id: &str) -> Result<(), Error> {
    let options = RemoveContainerOptions { force: true, v: true, ..Default::default() };
    match docker.remove_container(id, Some(options)).await {
        Err(e) if docker::not_found(&e) => Ok(()),
        done => done,
    }
}

/// An image reference as the pull API takes it: the repository, and the
/// tag or digest (`latest` when it names neither, as `docker pull`).
fn split_reference(image: &str) -> (String, String) {
    if let Some((repo, digest)) = image.split_once('@') {
        return (repo.to_string(), digest.to_string());
    }
    let name_start = image.rfind('/').map_or(0, |i| i + 1);
    match image[name_start..].rfind(':') {
        Some(i) => (image[..name_start + i].to_string(), image[name_start + i + 1..].to_string()),
        None => (image.to_string(), "latest".to_string()),
    }
}

impl Executor for DockerExecutor {
    type Prepared = Created;
    type Handle = DockerHandle;

    async fn prepare(&self, task: &Task, netns: Option<PathBuf>) -> Result<Created, ExecError> {
        if task.networks.is_empty() && task.endpoint.as_ref().is_some_and(|e| !e.ports.is_empty()) {
            return Err(err(
                "the docker runtime publishes ports through the routing mesh only (--publish mode=ingress)",
            ));
        }
        if !task.networks.is_empty() && netns.is_none() {
            return Err(err(
                "this node has no data path (shoal daemon --data-path off): a task on a network cannot run here",
            ));
        }
        let docker = self.docker().await?;
        let container = task.spec.as_ref().and_then(|s| s.container.as_ref());
        let image = container.map_or("", |c| c.image.as_str());
        let auth = container.and_then(|c| c.pull_options.as_ref()).map_or("", |p| p.registry_auth.as_str());
        self.image(&docker, image, auth).await?;
        let body = match netns {
            None => container::create_body(task, &self.node_id, None),
            Some(_) => {
                let sandbox = docker
                    .inspect_container(&container::sandbox_name(task), None)
                    .await
                    .map_err(|e| err(format!("finding the task's sandbox: {}", docker::message(&e))))?;
                let resolv = TaskDir::new(&self.tasks_dir, &task.id).path().join("resolv.conf");
                let dns = container.and_then(|c| c.dns_config.as_ref());
                std::fs::write(&resolv, shoal_proto::resolv::resolv_conf(dns, true))
                    .map_err(|e| err(format!("writing {}: {e}", resolv.display())))?;
                let (id, resolv) = (sandbox.id.unwrap_or_default(), resolv.to_string_lossy().into_owned());
                container::create_body(task, &self.node_id, Some(Sandboxed { sandbox_id: &id, resolv_conf: &resolv }))
            }
        }
        .map_err(err)?;
        Ok(Created { id: self.create(&docker, task, body, container::name(task)).await? })
    }

    async fn sandbox(&self, task: &Task) -> Result<Option<PathBuf>, ExecError> {
        if task.networks.is_empty() {
            return Ok(None);
        }
        let docker = self.docker().await?;
        let image = pause_image(&docker).await?;
        let name = container::sandbox_name(task);
        let running = match docker.inspect_container(&name, None).await {
            Ok(found) if found.state.as_ref().and_then(|s| s.running) == Some(true) => found.id,
            _ => None,
        };
        let id = match running {
            // Kept from an earlier attempt (a restarted worker).
            Some(id) => id,
            None => {
                let body = container::sandbox_body(task, &self.node_id, &image);
                let id = self.create(&docker, task, body, name).await?;
                docker
                    .start_container(&id, None)
                    .await
                    .map_err(|e| err(format!("starting the task's sandbox failed: {}", docker::message(&e))))?;
                id
            }
        };
        let found = docker.inspect_container(&id, None).await.map_err(|e| err(docker::message(&e)))?;
        match found.state.and_then(|s| s.pid).filter(|pid| *pid > 0) {
            Some(pid) => Ok(Some(PathBuf::from(format!("/proc/{pid}/ns/net")))),
            None => Err(err("the task's sandbox stopped as it started")),
        }
    }

    async fn start(&self, task: &Task, created: Created) -> Result<DockerHandle, ExecError> {
        let docker = self.docker().await?;
        if let Err(e) = docker.start_container(&created.id, None).await {
            // Not left to start later behind a failed task's back.
            let _ = remove(&docker, &created.id).await;
            return Err(err(format!("starting container failed: {}", docker::message(&e))));
        }
        Ok(self.handle(docker, created.id, &task.id).await)
    }

    async fn adopt(&self, task_id: &str) -> Adopted<DockerHandle> {
        let deadline = tokio::time::Instant::now() + ENGINE_WAIT;
        let (docker, found) = loop {
            let found = match self.docker().await {
                Ok(docker) => self
                    .mine(&docker, Some(task_id), Some(container::TASK))
                    .await
                    .map(|found| (docker, found))
                    .map_err(|e| e.to_string()),
                Err(ExecError(e)) => Err(e),
            };
            match found {
                Ok(found) => break found,
                Err(e) if tokio::time::Instant::now() > deadline => {
                    tracing::warn!(task = %task_id, "the Docker Engine did not answer: {e}");
                    return Adopted::Lost;
                }
                Err(_) => tokio::time::sleep(RETRY).await,
            }
        };
        let Some(c) = found.into_iter().next() else { return Adopted::Lost };
        let Some(id) = c.id else { return Adopted::Lost };
        match c.state {
            Some(State::CREATED) | None => Adopted::Lost,
            Some(State::EXITED | State::DEAD) => {
                match exited(&docker, &id, &TaskDir::new(&self.tasks_dir, task_id)).await {
                    Ok(Some(status)) => Adopted::Exited(status),
                    _ => Adopted::Lost,
                }
            }
            Some(_) => Adopted::Running(self.handle(docker, id, task_id).await),
        }
    }

    async fn remove(&self, task_id: &str) -> std::io::Result<()> {
        // The record stays while the engine may hold the container: a
        // restarted worker tries again.
        let docker = self.docker().await.map_err(std::io::Error::other)?;
        for c in self.mine(&docker, Some(task_id), None).await.map_err(std::io::Error::other)? {
            if let Some(id) = c.id {
                remove(&docker, &id).await.map_err(std::io::Error::other)?;
            }
        }
        self.made.lock().remove(task_id);
        TaskDir::new(&self.tasks_dir, task_id).remove()
    }

    async fn probe(&self, task: &Task, argv: Vec<String>) -> bool {
        let Ok(docker) = self.docker().await else { return false };
        probe(&docker, &container::name(task), argv).await.unwrap_or(false)
    }
}

/// The container's health as the engine's checks find it, asked every
/// [`HEALTH_POLL`] while it runs and anyone listens.
fn watch_health(docker: Docker, id: String) -> watch::Receiver<TaskHealth> {
    let (tx, rx) = watch::channel(TaskHealth::Starting);
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = tx.closed() => return,
                _ = tokio::time::sleep(HEALTH_POLL) => {}
            }
            let state = match docker.inspect_container(&id, None).await {
                Ok(found) => found.state.unwrap_or_default(),
                Err(e) if docker::not_found(&e) => return,
                Err(_) => continue,
            };
            if state.running != Some(true) {
                return;
            }
            let health = match state.health.and_then(|h| h.status) {
                Some(HealthStatusEnum::HEALTHY) => TaskHealth::Healthy,
                Some(HealthStatusEnum::UNHEALTHY) => TaskHealth::Unhealthy,
                _ => TaskHealth::Starting,
            };
            tx.send_if_modified(|seen| std::mem::replace(seen, health) != health);
        }
    });
    rx
}

/// Runs `argv` in the container; true if it exits 0.
async fn probe(docker: &Docker, container: &str, argv: Vec<String>) -> Result<bool, Error> {
    let config =
        ExecConfig { cmd: Some(argv), attach_stdout: Some(true), attach_stderr: Some(true), ..Default::default() };
    let exec = docker.create_exec(container, config).await?;
    if let StartExecResults::Attached { mut output, .. } = docker.start_exec(&exec.id, None::<StartExecOptions>).await?
    {
        while output.next().await.is_some() {}
    }
    Ok(docker.inspect_exec(&exec.id).await?.exit_code == Some(0))
}

/// How the container ended, as the engine recorded it (`None`: it still
/// runs); an OOM kill is recorded in the task's directory for the
/// controller's message.
async fn exited(docker: &Docker, id: &str, dir: &TaskDir) -> Result<Option<ExitStatus>, Error> {
    let state = docker.inspect_container(id, None).await?.state.unwrap_or_default();
    if state.running == Some(true) {
        return Ok(None);
    }
    if state.oom_killed == Some(true) {
        let _ = dir.save_oom_kills(1);
    }
    Ok(Some(ExitStatus::Code(state.exit_code.unwrap_or(0) as i32)))
}

/// A task's container, started or found running.
pub struct DockerHandle {
    docker: Docker,
    id: String,
    pid: i32,
    /// The container's own stop signal (the image's STOPSIGNAL).
    stop_signal: Option<i32>,
    /// Its health, when the engine checks it.
    health: Option<watch::Receiver<TaskHealth>>,
    /// The sandbox it runs in (removed once it ends).
    sandbox: Option<String>,
    dir: TaskDir,
}

impl TaskHandle for DockerHandle {
    fn pid(&self) -> i32 {
        self.pid
    }

    fn container_id(&self) -> &str {
        &self.id
    }

    fn stop_signal(&self) -> Option<i32> {
        self.stop_signal
    }

    fn health(&self) -> Option<watch::Receiver<TaskHealth>> {
        self.health.clone()
    }

    fn signaller(&self) -> Signaller {
        let (docker, id) = (self.docker.clone(), self.id.clone());
        let runtime = tokio::runtime::Handle::current();
        Box::new(move |signal| {
            let (docker, id) = (docker.clone(), id.clone());
            runtime.spawn(async move {
                let options = KillContainerOptions { signal: signal.to_string() };
                // 409: it is not running (any more); 404: it is gone.
                if let Err(e) = docker.kill_container(&id, Some(options)).await
                    && !docker::conflict(&e)
                    && !docker::not_found(&e)
                {
                    tracing::warn!(container = %id, "signalling the container: {}", docker::message(&e));
                }
            });
        })
    }

    /// Waits for the container to stop running, then reads how it ended.
    /// Through an engine that does not answer it waits on (the container's
    /// fate is unknown; with live-restore off, an engine that stops stops
    /// its containers, and the wait then returns their exit); a container
    /// removed behind shoal's back fails the task, and so does an engine
    /// that answers but cannot say how the container ended.
    async fn wait(self) -> Result<ExitStatus, ExecError> {
        let mut unanswered = false;
        let mut refusals = 0;
        loop {
            let options = WaitContainerOptions { condition: "not-running".into() };
            let waited = self.docker.wait_container(&self.id, Some(options)).next().await;
            // A non-zero exit comes back as an error too.
            let failure = match waited {
                Some(Ok(_)) | Some(Err(Error::DockerContainerWaitError { .. })) => None,
                Some(Err(e)) => Some(e),
                None => None,
            };
            match failure {
                Some(e) if docker::not_found(&e) => return Err(err("the task's container was removed")),
                Some(e) if !docker::answered(&e) => {
                    if !std::mem::replace(&mut unanswered, true) {
                        tracing::warn!(container = %self.id, "waiting for the Docker Engine: {}", docker::message(&e));
                    }
                    tokio::time::sleep(RETRY).await;
                    continue;
                }
                _ => {}
            }
            unanswered = false;
            match exited(&self.docker, &self.id, &self.dir).await {
                Ok(Some(status)) => {
                    if let Some(sandbox) = &self.sandbox
                        && let Err(e) = remove(&self.docker, sandbox).await
                    {
                        tracing::warn!(container = %sandbox, "removing the task's sandbox: {}", docker::message(&e));
                    }
                    return Ok(status);
                }
                Err(e) if docker::not_found(&e) => return Err(err("the task's container was removed")),
                Err(e) if docker::answered(&e) && refusals >= MAX_REFUSALS => {
                    return Err(err(format!("reading how the container ended: {}", docker::message(&e))));
                }
                Err(e) if docker::answered(&e) => refusals += 1,
                // Still running (the wait ended early), or no answer: again.
                Ok(None) | Err(_) => {}
            }
            tokio::time::sleep(RETRY).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture<T: serde::de::DeserializeOwned>(name: &str) -> T {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/docker").join(name);
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
    }

    #[test]
    fn an_engine_20_10_inspect_is_read_whole() {
        let healthy: bollard::models::ContainerInspectResponse = fixture("container-inspect-healthy.json");
        let state = healthy.state.unwrap();
        assert_eq!(state.health.and_then(|h| h.status), Some(HealthStatusEnum::HEALTHY));
        assert!(healthy.config.unwrap().healthcheck.unwrap().test.unwrap()[0] == "CMD");
    }

    #[test]
    fn references_split_as_the_pull_api_takes_them() {
        let split = |s: &str| {
            let (repo, tag) = split_reference(s);
            format!("{repo} {tag}")
        };
        assert_eq!(split("redis"), "redis latest");
        assert_eq!(split("redis:alpine"), "redis alpine");
        assert_eq!(split("127.0.0.1:5000/app"), "127.0.0.1:5000/app latest");
        assert_eq!(split("127.0.0.1:5000/app:v2"), "127.0.0.1:5000/app v2");
        assert_eq!(split("app@sha256:abc"), "app sha256:abc");
    }
}
