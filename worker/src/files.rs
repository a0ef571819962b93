//! Secrets and configs on a worker: what the managers sent for this
//! node's tasks, held in memory only (replaced whole by each set the
//! dispatcher sends, so what no task needs any more is forgotten), and
//! the files a task reads them as.
//!
//! A task's files are written on a tmpfs of its own, mounted at
//! `/run/shoal/files/<node>/<task>` (never the node's disk; the parent
//! directories are root's alone), then bound read-only into the task:
//! its secrets with relative targets as one directory at `/run/secrets`,
//! every other file at its target. The task's spec gets those binds as
//! mounts, so both runtimes make them as any other bind.

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use nix::mount::{MntFlags, MsFlags, mount, umount2};
use parking_lot::RwLock;
use shoal_proto::{FileReference, Mount, MountType, Task, TaskFiles};
use shoal_spec::files::{DEFAULT_MODE, SECRETS_DIR, config_path, secret_path};
use shoal_spec::template;

use crate::executor::ExecError;

/// Where the tasks' file systems are mounted.
const ROOT: &str = "/run/shoal/files";

/// The data this node holds, by object id; cheap to clone.
#[derive(Clone)]
pub struct Files {
    data: Arc<RwLock<HashMap<String, Held>>>,
    /// `ROOT/<node id>`.
    dir: PathBuf,
    /// This node, as templates name it.
    node_id: String,
    hostname: String,
}

/// One secret's or config's data, and whether it is a template.
#[derive(Clone)]
struct Held {
    data: Vec<u8>,
    template: bool,
}

fn err(msg: impl Into<String>) -> ExecError {
    ExecError(msg.into())
}

impl Files {
    pub fn new(node_id: &str, hostname: &str) -> Files {
        let (node_id, hostname) = (node_id.to_string(), hostname.to_string());
        Files { data: Default::default(), dir: Path::new(ROOT).join(&node_id), node_id, hostname }
    }

    /// `task` as it runs here: its placeholders expanded, its secrets and
    /// configs written for it and bound into it (see [`Files::place`]).
    pub fn prepare(&self, task: &Task) -> Result<Task, ExecError> {
        let ctx = context(task, &self.node_id, &self.hostname);
        self.place(&expand_task(task, &ctx)?, &ctx)
    }

    /// Replaces what the node holds by the set the managers sent.
    pub fn set(&self, files: TaskFiles) {
        let mut data = HashMap::new();
        for s in files.secrets {
            let spec = s.spec.unwrap_or_default();
            data.insert(s.id, Held { template: !spec.templating.is_empty(), data: spec.data });
        }
        for c in files.configs {
            let spec = c.spec.unwrap_or_default();
            data.insert(c.id, Held { template: !spec.templating.is_empty(), data: spec.data });
        }
        *self.data.write() = data;
    }

    /// Ids of what the node holds (tests, and what a node was sent).
    pub fn held(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.data.read().keys().cloned().collect();
        ids.sort();
        ids
    }

    fn task_dir(&self, task_id: &str) -> PathBuf {
        self.dir.join(task_id)
    }

    /// Writes the task's secrets and configs on a tmpfs of its own (a
    /// template rendered for the task of `ctx`) and returns the task with
    /// binds of them added to its mounts (the task as it is when it reads
    /// none).
    fn place(&self, task: &Task, ctx: &template::Context) -> Result<Task, ExecError> {
        let Some(c) = task.spec.as_ref().and_then(|s| s.container.as_ref()) else { return Ok(task.clone()) };
        if c.secrets.is_empty() && c.configs.is_empty() {
            return Ok(task.clone());
        }
        let dir = self.task_dir(&task.id);
        self.mount(&dir)?;
        let mut binds = Vec::new();
        let secrets_dir = dir.join("secrets");
        let mut under_secrets = false;
        let refs = c
            .secrets
            .iter()
            .map(|r| ("secret", r, secret_path(r)))
            .chain(c.configs.iter().map(|r| ("config", r, config_path(r))));
        let functions = TaskFunctions { files: self, container: c };
        for (n, (kind, r, target)) in refs.enumerate() {
            let data = self.data(kind, r)?;
            let data = match data.template {
                false => data.data,
                true => {
                    let text = String::from_utf8_lossy(&data.data);
                    let rendered = template::expand(&text, ctx, Some(&functions))
                        .map_err(|e| err(format!("{kind} {}: template: {e}", r.name)))?;
                    rendered.into_bytes()
                }
            };
            let host = match target.strip_prefix(&format!("{SECRETS_DIR}/")) {
                Some(relative) if kind == "secret" => {
                    under_secrets = true;
                    secrets_dir.join(relative)
                }
                _ => {
                    let host = dir.join("files").join(n.to_string());
                    binds.push(bind(&host, &target));
                    host
                }
            };
            write(&host, &data, r).map_err(|e| err(format!("{kind} {}: writing it for the task: {e}", r.name)))?;
        }
        if under_secrets {
            binds.insert(0, bind(&secrets_dir, SECRETS_DIR));
        }
        let mut placed = task.clone();
        if let Some(c) = placed.spec.as_mut().and_then(|s| s.container.as_mut()) {
            c.mounts.extend(binds);
        }
        Ok(placed)
    }

    fn data(&self, kind: &str, r: &FileReference) -> Result<Held, ExecError> {
        self.data.read().get(&r.id).cloned().ok_or_else(|| {
            err(format!("{kind} {}: not received from the managers (removed, or not readable by them)", r.name))
        })
    }

    /// Mounts the task's tmpfs at `dir` (again, empty, if it was there).
    fn mount(&self, dir: &Path) -> Result<(), ExecError> {
        let _ = umount2(dir, MntFlags::MNT_DETACH);
        for d in [Path::new(ROOT), self.dir.as_path()] {
            std::fs::create_dir_all(d)
                .and_then(|()| std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o700)))
                .map_err(|e| err(format!("creating {}: {e}", d.display())))?;
        }
        std::fs::create_dir_all(dir).map_err(|e| err(format!("creating {}: {e}", dir.display())))?;
        let flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
        mount(Some("tmpfs"), dir, Some("tmpfs"), flags, Some("mode=0755,size=16m"))
            .map_err(|e| err(format!("mounting a tmpfs for the task's secrets and configs at {}: {e}", dir.display())))
    }

    /// Unmounts and deletes the task's files, if it had any.
    pub fn release(&self, task_id: &str) {
        let dir = self.task_dir(task_id);
        if dir.exists() {
            let _ = umount2(&dir, MntFlags::MNT_DETACH);
            let _ = std::fs::remove_dir(&dir);
        }
    }
}

/// What a task's file templates read: its env, and its other files by
/// target (their data as stored, as Swarm gives it).
struct TaskFunctions<'a> {
    files: &'a Files,
    container: &'a shoal_proto::ContainerSpec,
}

impl TaskFunctions<'_> {
    fn by_target(&self, kind: &str, target: &str) -> Result<String, String> {
        let refs = if kind == "secret" { &self.container.secrets } else { &self.container.configs };
        let r = refs
            .iter()
            .find(|r| r.target == target || (r.target.is_empty() && r.name == target))
            .ok_or_else(|| format!("{kind} {target:?}: the task reads no {kind} at that target"))?;
        let held = self.files.data(kind, r).map_err(|e| e.0)?;
        Ok(String::from_utf8_lossy(&held.data).into_owned())
    }
}

impl template::Functions for TaskFunctions<'_> {
    fn env(&self, name: &str) -> Option<String> {
        self.container.env.iter().find_map(|e| e.strip_prefix(name)?.strip_prefix('=').map(String::from))
    }

    fn secret(&self, target: &str) -> Result<String, String> {
        self.by_target("secret", target)
    }

    fn config(&self, target: &str) -> Result<String, String> {
        self.by_target("config", target)
    }
}

/// The task as it runs on this node: Swarm's placeholders in its env
/// values, hostname and mount sources expanded (see `shoal_spec::template`).
fn expand_task(task: &Task, ctx: &template::Context) -> Result<Task, ExecError> {
    let mut task = task.clone();
    let Some(c) = task.spec.as_mut().and_then(|s| s.container.as_mut()) else { return Ok(task) };
    let expand =
        |field: &str, text: &str| template::expand(text, ctx, None).map_err(|e| err(format!("{field}: template: {e}")));
    for entry in &mut c.env {
        if entry.contains("{{") {
            let (key, value) = entry.split_once('=').unwrap_or((entry.as_str(), ""));
            *entry = format!("{key}={}", expand(&format!("env {key}"), value)?);
        }
    }
    c.hostname = expand("hostname", &c.hostname)?;
    for m in &mut c.mounts {
        m.source = expand("mount source", &m.source)?;
    }
    Ok(task)
}

/// The template context of `task` on node `node_id` named `hostname`.
fn context(task: &Task, node_id: &str, hostname: &str) -> template::Context {
    template::Context {
        service_id: task.service_id.clone(),
        service_name: task.service_name.clone(),
        service_labels: task.service_labels.clone(),
        node_id: node_id.to_string(),
        node_hostname: hostname.to_string(),
        node_os: std::env::consts::OS.to_string(),
        node_arch: std::env::consts::ARCH.to_string(),
        task_id: task.id.clone(),
        // Swarm's: SERVICE.SLOT.TASKID, as the container is named.
        task_name: format!("{}.{}", task.name(), task.id),
        task_slot: task.slot,
    }
}

/// A read-only bind of `host` at `target`.
fn bind(host: &Path, target: &str) -> Mount {
    Mount {
        r#type: MountType::Bind as i32,
        source: host.to_string_lossy().into_owned(),
        target: target.to_string(),
        read_only: true,
        ..Default::default()
    }
}

/// Writes one file with the owner and mode its reference asks (parent
/// directories 0755, root's).
fn write(path: &Path, data: &[u8], r: &FileReference) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, data)?;
    std::os::unix::fs::chown(path, Some(r.uid), Some(r.gid))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(r.mode.unwrap_or(DEFAULT_MODE)))
}

#[cfg(test)]
mod tests {
    use shoal_proto::{Config, ConfigSpec, ContainerSpec, Secret, SecretSpec, TaskSpec};

    use super::*;

    #[test]
    fn the_set_sent_replaces_what_is_held() {
        let files = Files::new("n1", "host");
        let secret = |id: &str| Secret {
            id: id.into(),
            spec: Some(SecretSpec { data: b"x".to_vec(), ..Default::default() }),
            ..Default::default()
        };
        let config = Config { id: "c1".into(), spec: Some(ConfigSpec::default()), ..Default::default() };
        files.set(TaskFiles { secrets: vec![secret("s1"), secret("s2")], configs: vec![config] });
        assert_eq!(files.held(), ["c1", "s1", "s2"]);
        files.set(TaskFiles { secrets: vec![secret("s2")], configs: vec![] });
        assert_eq!(files.held(), ["s2"]);
    }

    #[test]
    fn a_task_without_files_is_left_alone_and_a_missing_one_is_named() {
        let node = format!("test-{:016x}", rand::random::<u64>());
        let files = Files::new(&node, "host");
        let task = |container: ContainerSpec| Task {
            id: "t1".into(),
            spec: Some(TaskSpec { container: Some(container), ..Default::default() }),
            ..Default::default()
        };
        let plain = task(ContainerSpec::default());
        assert_eq!(files.prepare(&plain).unwrap(), plain);
        if !nix::unistd::Uid::effective().is_root() {
            return;
        }
        let r = FileReference { id: "s9".into(), name: "db".into(), ..Default::default() };
        let err = files.prepare(&task(ContainerSpec { secrets: vec![r], ..Default::default() })).unwrap_err();
        files.release("t1");
        let _ = std::fs::remove_dir(Path::new(ROOT).join(&node));
        assert_eq!(err.0, "secret db: not received from the managers (removed, or not readable by them)");
    }
}
