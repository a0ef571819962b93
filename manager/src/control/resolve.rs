//! Object references as the Docker CLI takes them: a full id, a name (a
//! hostname for nodes), or a unique id prefix.

use shoal_proto::{Config, Network, Node, Secret, Service, Task};

use crate::store::MemoryStore;

/// A reference that matched nothing, or more than one object.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("no such {kind}: {reference}")]
    NotFound { kind: &'static str, reference: String },
    #[error("{kind} reference {reference:?} is ambiguous: it matches {candidates}")]
    Ambiguous { kind: &'static str, reference: String, candidates: String },
}

fn pick<'a, T>(
    kind: &'static str,
    reference: &str,
    all: impl Iterator<Item = &'a T> + Clone,
    id: impl Fn(&T) -> &str,
    name: impl Fn(&T) -> String,
) -> Result<&'a T, ResolveError> {
    if reference.is_empty() {
        return Err(ResolveError::NotFound { kind, reference: String::new() });
    }
    if let Some(exact) = all.clone().find(|o| id(o) == reference) {
        return Ok(exact);
    }
    for matches in [
        all.clone().filter(|o| name(o) == reference).collect::<Vec<_>>(),
        all.filter(|o| id(o).starts_with(reference)).collect::<Vec<_>>(),
    ] {
        match matches.as_slice() {
            [] => continue,
            [one] => return Ok(one),
            many => {
                let candidates: Vec<String> = many.iter().map(|o| format!("{} ({})", id(o), name(o))).collect();
                return Err(ResolveError::Ambiguous {
                    kind,
                    reference: reference.into(),
                    candidates: candidates.join(", "),
                });
            }
        }
    }
    Err(ResolveError::NotFound { kind, reference: reference.into() })
}

pub fn service<'a>(store: &'a MemoryStore, reference: &str) -> Result<&'a Service, ResolveError> {
    if let Some(s) = store.service_by_name(reference) {
        return Ok(s);
    }
    pick("service", reference, store.services(), |s| &s.id, |s| s.name().to_string())
}

pub fn network<'a>(store: &'a MemoryStore, reference: &str) -> Result<&'a Network, ResolveError> {
    if let Some(n) = store.network_by_name(reference) {
        return Ok(n);
    }
    pick("network", reference, store.networks(), |n| &n.id, |n| n.name().to_string())
}

pub fn secret<'a>(store: &'a MemoryStore, reference: &str) -> Result<&'a Secret, ResolveError> {
    if let Some(f) = store.secret_by_name(reference) {
        return Ok(f);
    }
    pick("secret", reference, store.secrets(), |f| &f.id, |f| f.name().to_string())
}

pub fn config<'a>(store: &'a MemoryStore, reference: &str) -> Result<&'a Config, ResolveError> {
    if let Some(f) = store.config_by_name(reference) {
        return Ok(f);
    }
    pick("config", reference, store.configs(), |f| &f.id, |f| f.name().to_string())
}

pub fn node<'a>(store: &'a MemoryStore, reference: &str) -> Result<&'a Node, ResolveError> {
    pick("node", reference, store.nodes(), |n| &n.id, |n| hostname(n).to_string())
}

pub fn task<'a>(store: &'a MemoryStore, reference: &str) -> Result<&'a Task, ResolveError> {
    pick("task", reference, store.tasks(), |t| &t.id, |t| t.name())
}

/// A task among those of one node only (a worker asking for its own).
pub fn task_on<'a>(store: &'a MemoryStore, reference: &str, node_id: &str) -> Result<&'a Task, ResolveError> {
    let tasks: Vec<&Task> = store.tasks_of_node(node_id).collect();
    pick("task", reference, tasks.into_iter(), |t| &t.id, |t| t.name())
}

/// The hostname a node reported ("" before it did).
pub fn hostname(node: &Node) -> &str {
    node.description.as_ref().map_or("", |d| d.hostname.as_str())
}

#[cfg(test)]
mod tests {
    use shoal_proto::NodeDescription;

    use super::*;
    use crate::ops;
    use shoal_proto::{Batch, store_object::Object};

    fn node_obj(id: &str, host: &str) -> Object {
        Object::Node(Node {
            id: id.into(),
            description: Some(NodeDescription { hostname: host.into(), ..Default::default() }),
            ..Default::default()
        })
    }

    #[test]
    fn id_then_name_then_unique_prefix() {
        let mut store = MemoryStore::default();
        let ops = vec![
            ops::create(node_obj("abc111", "alpha")),
            ops::create(node_obj("abc222", "beta")),
            ops::create(node_obj("xyz333", "beta")),
        ];
        store.apply(1, Batch { ops, timestamp: 1, ..Default::default() }).unwrap();
        assert_eq!(node(&store, "abc111").unwrap().id, "abc111");
        assert_eq!(node(&store, "alpha").unwrap().id, "abc111");
        assert_eq!(node(&store, "xyz").unwrap().id, "xyz333");
        let err = node(&store, "beta").unwrap_err().to_string();
        assert!(err.contains("ambiguous") && err.contains("abc222") && err.contains("xyz333"), "{err}");
        assert!(node(&store, "abc").unwrap_err().to_string().contains("ambiguous"));
        assert_eq!(node(&store, "nope").unwrap_err().to_string(), "no such node: nope");
    }
}
