//! The secrets and configs one node needs: those the specs of its tasks
//! that may still start (desired state up to running) reference, as
//! swarmkit's dispatcher sends them. A node never receives a secret no
//! task of its own reads, and forgets one when the set no longer lists it.

use std::collections::BTreeSet;

use shoal_proto::{Secret, SecretSpec, Task, TaskFiles, TaskState, store_object::Object};
use tracing::warn;

use crate::keys::Keyring;
use crate::store::{Change, MemoryStore};

/// One secret or config a node needs: (is a config, its id).
pub type Needed = BTreeSet<(bool, String)>;

/// Whether a task may still read its files: assigned to the node and
/// not on its way out.
fn may_start(task: &Task, node_id: &str) -> bool {
    task.node_id == node_id
        && task.desired_state() <= TaskState::Running
        && task.status.as_ref().is_some_and(|s| s.state() >= TaskState::Assigned)
}

/// What the tasks of `node_id` read.
pub fn needed(store: &MemoryStore, node_id: &str) -> Needed {
    let mut needed = Needed::new();
    for task in store.tasks_of_node(node_id).filter(|t| may_start(t, node_id)) {
        let Some(c) = task.spec.as_ref().and_then(|s| s.container.as_ref()) else { continue };
        needed.extend(c.secrets.iter().map(|r| (false, r.id.clone())));
        needed.extend(c.configs.iter().map(|r| (true, r.id.clone())));
    }
    needed
}

/// Whether a change can change what `node_id` needs: one of its tasks.
pub fn matters(change: &Change, node_id: &str) -> bool {
    matches!(change.object(), Object::Task(t) if t.node_id == node_id)
}

/// The objects of `needed`, with their data (secrets opened). One that
/// is gone or does not open is left out, with a warning: its task fails
/// on the node, saying which file it lacks.
pub fn data(store: &MemoryStore, needed: &Needed, keys: &Keyring) -> TaskFiles {
    let mut files = TaskFiles::default();
    for (config, id) in needed {
        if *config {
            files.configs.extend(store.config(id).cloned());
            continue;
        }
        let Some(secret) = store.secret(id) else { continue };
        match open(secret, keys) {
            Ok(secret) => files.secrets.push(secret),
            Err(e) => warn!(secret = %secret.name(), "not sent to a node: {e}"),
        }
    }
    files
}

/// `secret` with its data in the clear, as a node receives it.
fn open(secret: &Secret, keys: &Keyring) -> Result<Secret, crate::keys::KeyError> {
    let data = keys.open(&secret.id, secret.sealed.as_ref().unwrap_or(&Default::default()))?;
    let spec = SecretSpec { data, ..secret.spec.clone().unwrap_or_default() };
    Ok(Secret { spec: Some(spec), sealed: None, ..secret.clone() })
}

#[cfg(test)]
mod tests {
    use shoal_proto::{Annotations, Batch, Config, ConfigSpec, ContainerSpec, FileReference, TaskSpec, TaskStatus};

    use super::*;
    use crate::keys::DataKey;
    use crate::ops;

    fn task(id: &str, node: &str, secrets: &[&str], configs: &[&str], desired: TaskState) -> Object {
        let refs =
            |ids: &[&str]| ids.iter().map(|i| FileReference { id: i.to_string(), ..Default::default() }).collect();
        let container = ContainerSpec { secrets: refs(secrets), configs: refs(configs), ..Default::default() };
        Object::Task(Task {
            id: id.into(),
            node_id: node.into(),
            desired_state: desired as i32,
            status: Some(TaskStatus { state: TaskState::Assigned as i32, ..Default::default() }),
            spec: Some(TaskSpec { container: Some(container), ..Default::default() }),
            ..Default::default()
        })
    }

    #[test]
    fn a_node_gets_what_its_live_tasks_read_and_nothing_else() {
        let keys = Keyring::with(DataKey::generate().unwrap());
        let annotations = |name: &str| Some(Annotations { name: name.into(), ..Default::default() });
        let secret = |id: &str, data: &[u8]| {
            Object::Secret(Secret {
                id: id.into(),
                spec: Some(SecretSpec { annotations: annotations(id), ..Default::default() }),
                sealed: Some(keys.seal(id, data).unwrap()),
                ..Default::default()
            })
        };
        let config = Object::Config(Config {
            id: "c1".into(),
            spec: Some(ConfigSpec { annotations: annotations("c1"), data: b"conf".to_vec(), ..Default::default() }),
            ..Default::default()
        });
        let mut store = MemoryStore::default();
        let ops = vec![
            secret("s1", b"one"),
            secret("s2", b"two"),
            secret("s3", b"three"),
            config,
            task("t1", "n1", &["s1"], &["c1"], TaskState::Running),
            task("t2", "n2", &["s2"], &[], TaskState::Running),
            task("t3", "n1", &["s3"], &[], TaskState::Shutdown),
        ];
        store.apply(1, Batch { ops: ops.into_iter().map(ops::create).collect(), ..Default::default() }).unwrap();
        let needed = needed(&store, "n1");
        assert_eq!(needed, Needed::from([(false, "s1".to_string()), (true, "c1".to_string())]));
        let files = data(&store, &needed, &keys);
        assert_eq!(files.secrets.len(), 1);
        assert_eq!(files.secrets[0].spec.as_ref().unwrap().data, b"one");
        assert!(files.secrets[0].sealed.is_none());
        assert_eq!(files.configs.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), ["c1"]);
        // A key that does not open it: left out, not sent sealed.
        assert!(data(&store, &needed, &Keyring::with(DataKey::generate().unwrap())).secrets.is_empty());
        assert!(super::needed(&store, "n3").is_empty());
    }
}
