//! Docker's filters (`--filter KEY=VALUE` of `service ls`, `node ls`,
//! `secret ls` and `config ls`, and the API's `filters` parameter), with
//! Docker's keys. Values of one key are alternatives,
//! except labels, which must all match (as the Docker daemon filters);
//! different keys must all match.
//!
//! `service ls`: `id=` and `name=` (prefixes, as swarmkit matches them),
//! `label=KEY` or `label=KEY=VALUE`, `mode=`. `node ls`: `id=` (prefix),
//! `name=` (hostname prefix), `role=manager|worker`, `label=` (engine
//! labels), `node.label=` (labels set with `node update`), `membership=`
//! (every node of a shoal cluster is `accepted`). `secret ls`, `config
//! ls`: `id=`, `name=` (prefixes), `label=`. Tasks (the API's `GET
//! /tasks`): `id=`, `name=` (prefixes), `service=`, `node=` (references,
//! resolved by the control API), `desired-state=running|shutdown|accepted`,
//! `label=` (the service's labels, as swarmkit matches them), and the
//! hidden `_up-to-date=true` the docker CLI's progress asks for (tasks
//! of the service's current spec).

use std::collections::HashMap;

use shoal_proto::{Network, Node, Service, Task};

const SERVICE_KEYS: [&str; 4] = ["id", "name", "label", "mode"];
const FILE_KEYS: [&str; 3] = ["id", "name", "label"];
const NODE_KEYS: [&str; 6] = ["id", "name", "role", "label", "node.label", "membership"];
const TASK_KEYS: [&str; 7] = ["id", "name", "service", "node", "desired-state", "label", "_up-to-date"];
const NETWORK_KEYS: [&str; 6] = ["id", "name", "label", "driver", "scope", "type"];
const MODES: [&str; 4] = ["replicated", "global", "replicated-job", "global-job"];

/// One `service ls --filter`, checked.
pub fn service(text: &str) -> Result<(String, String), String> {
    parse(text, &SERVICE_KEYS, &[("mode", &MODES)])
}

/// One `secret ls` or `config ls --filter`, checked.
pub fn file(text: &str) -> Result<(String, String), String> {
    parse(text, &FILE_KEYS, &[])
}

/// One `node ls --filter`, checked.
pub fn node(text: &str) -> Result<(String, String), String> {
    parse(text, &NODE_KEYS, &[("role", &["manager", "worker"]), ("membership", &["accepted", "pending"])])
}

/// One network filter, checked (`docker network ls --filter`).
pub fn network(text: &str) -> Result<(String, String), String> {
    parse(text, &NETWORK_KEYS, &[("type", &["custom", "builtin"]), ("scope", &["swarm", "global", "local"])])
}

/// Whether `network` passes every filter: shoal's networks are all
/// custom, swarm-scoped overlays.
pub fn network_matches(filters: &[(String, String)], network: &Network) -> bool {
    let spec = network.spec.as_ref();
    all(filters, |key, value| match key {
        "id" => network.id.starts_with(value),
        "name" => network.name().contains(value),
        "label" => has_label(spec.and_then(|s| s.annotations.as_ref()).map(|a| &a.labels), value),
        "driver" => spec.is_some_and(|s| s.driver == value),
        "scope" => value == "swarm",
        _ => value == "custom",
    })
}

/// One task filter, checked.
pub fn task(text: &str) -> Result<(String, String), String> {
    parse(text, &TASK_KEYS, &[("desired-state", &["running", "shutdown", "accepted"]), ("_up-to-date", &["true", "1"])])
}

/// `KEY=VALUE` with KEY among `keys`, and VALUE among the values `closed`
/// lists for its key, if it lists any.
fn parse(text: &str, keys: &[&str], closed: &[(&str, &[&str])]) -> Result<(String, String), String> {
    let (key, value) = text.split_once('=').ok_or_else(|| format!("expected KEY=VALUE, got {text:?}"))?;
    if !keys.contains(&key) {
        return Err(format!("unknown filter {key:?} ({})", keys.join(", ")));
    }
    if let Some((_, values)) = closed.iter().find(|(k, _)| *k == key)
        && !values.contains(&value)
    {
        return Err(format!("{key}: expected one of {}, got {value:?}", values.join(", ")));
    }
    Ok((key.to_string(), value.to_string()))
}

/// Whether every key's filters have a value that `passes` (every value,
/// for labels).
fn all(filters: &[(String, String)], passes: impl Fn(&str, &str) -> bool) -> bool {
    let is_label = |key: &str| key == "label" || key == "node.label";
    filters.iter().all(|(key, value)| {
        if is_label(key) { passes(key, value) } else { filters.iter().any(|(k, v)| k == key && passes(k, v)) }
    })
}

/// Whether an object with this id, name and labels passes every filter
/// (secrets, configs).
pub fn named_matches(filters: &[(String, String)], id: &str, name: &str, labels: &HashMap<String, String>) -> bool {
    all(filters, |key, value| match key {
        "id" => id.starts_with(value),
        "name" => name.starts_with(value),
        _ => has_label(Some(labels), value),
    })
}

/// `label=KEY` or `label=KEY=VALUE` against `labels`.
fn has_label(labels: Option<&HashMap<String, String>>, wanted: &str) -> bool {
    let (k, v) = wanted.split_once('=').map_or((wanted, None), |(k, v)| (k, Some(v)));
    labels.and_then(|l| l.get(k)).is_some_and(|found| v.is_none_or(|v| v == found))
}

/// Whether `service` passes every filter.
pub fn service_matches(filters: &[(String, String)], service: &Service) -> bool {
    all(filters, |key, value| match key {
        "id" => service.id.starts_with(value),
        "name" => service.name().starts_with(value),
        "label" => has_label(service.spec.as_ref().and_then(|s| s.annotations.as_ref()).map(|a| &a.labels), value),
        _ => service.mode_name() == value,
    })
}

/// Whether `node` passes every filter.
pub fn node_matches(filters: &[(String, String)], node: &Node) -> bool {
    let spec = node.spec.as_ref();
    all(filters, |key, value| match key {
        "id" => node.id.starts_with(value),
        "name" => node.description.as_ref().is_some_and(|d| d.hostname.starts_with(value)),
        "role" => spec.map_or(shoal_proto::NodeRole::Worker, |s| s.desired_role()).name() == value,
        "label" => has_label(node.description.as_ref().map(|d| &d.engine_labels), value),
        "node.label" => has_label(spec.and_then(|s| s.annotations.as_ref()).map(|a| &a.labels), value),
        _ => value == "accepted",
    })
}

/// Whether `task` passes the filters the control API does not apply
/// itself (`id`, `name`, `label`; the others are left to the request).
/// `label` is matched against its service's labels (`service_labels`),
/// as swarmkit matches it (what `docker stack ps` filters by).
pub fn task_matches(
    filters: &[(String, String)],
    task: &Task,
    service_labels: Option<&HashMap<String, String>>,
) -> bool {
    let local: Vec<(String, String)> =
        filters.iter().filter(|(k, _)| matches!(k.as_str(), "id" | "name" | "label")).cloned().collect();
    let labels = service_labels;
    all(&local, |key, value| match key {
        "id" => task.id.starts_with(value),
        "name" => task.name().starts_with(value),
        _ => has_label(labels, value),
    })
}

/// The values given for `key`.
pub fn values<'a>(filters: &'a [(String, String)], key: &str) -> Vec<&'a str> {
    filters.iter().filter(|(k, _)| k == key).map(|(_, v)| v.as_str()).collect()
}

#[cfg(test)]
mod tests {
    use shoal_proto::{Annotations, NodeDescription, NodeRole, NodeSpec, ServiceSpec};

    use super::*;

    fn annotations(name: &str, label: (&str, &str)) -> Option<Annotations> {
        Some(Annotations { name: name.into(), labels: [(label.0.into(), label.1.into())].into() })
    }

    fn checked(parse: fn(&str) -> Result<(String, String), String>, texts: &[&str]) -> Vec<(String, String)> {
        texts.iter().map(|t| parse(t).unwrap()).collect()
    }

    #[test]
    fn service_keys_and_together_values_or() {
        let spec = ServiceSpec { annotations: annotations("web", ("tier", "front")), ..Default::default() };
        let web = Service { id: "abc123".into(), spec: Some(spec), ..Default::default() };
        let f = |texts: &[&str]| checked(service, texts);
        assert!(service_matches(&f(&[]), &web));
        assert!(service_matches(&f(&["name=we", "id=abc"]), &web));
        assert!(service_matches(&f(&["name=db", "name=web"]), &web), "one name or the other");
        assert!(!service_matches(&f(&["name=web", "mode=global"]), &web));
        assert!(service_matches(&f(&["label=tier", "label=tier=front", "mode=replicated"]), &web));
        assert!(!service_matches(&f(&["label=tier=back"]), &web));
        assert!(!service_matches(&f(&["label=tier", "label=owner"]), &web), "every label must match");
        assert_eq!(service("color=red").unwrap_err(), "unknown filter \"color\" (id, name, label, mode)");
        assert!(service("mode=sometimes").unwrap_err().starts_with("mode: expected one of"));
        assert!(service("name").is_err());
    }

    #[test]
    fn secrets_and_configs_by_id_name_and_labels() {
        let labels = [("env".to_string(), "prod".to_string()), ("tier".to_string(), String::new())].into();
        let keep = |texts: &[&str]| named_matches(&checked(file, texts), "abc1", "db_password", &labels);
        assert!(keep(&[]) && keep(&["name=db"]) && keep(&["id=abc", "id=zzz"]));
        assert!(!keep(&["name=password"]));
        assert!(keep(&["label=env=prod", "label=tier"]) && !keep(&["label=env=dev"]));
        assert_eq!(file("driver=x").unwrap_err(), "unknown filter \"driver\" (id, name, label)");
        assert!(file("name").unwrap_err().contains("expected KEY=VALUE"));
    }

    #[test]
    fn task_keys_left_to_the_request_pass_here() {
        let t = Task { id: "t1abc".into(), service_id: "s1".into(), slot: 2, ..Default::default() };
        let f = |texts: &[&str]| checked(task, texts);
        assert!(task_matches(&f(&["service=web", "desired-state=running", "node=n1"]), &t, None));
        assert!(task_matches(&f(&["id=t1"]), &t, None) && !task_matches(&f(&["id=t2"]), &t, None));
        assert!(!task_matches(&f(&["label=a"]), &t, None));
        let labels = [("com.docker.stack.namespace".to_string(), "app".to_string())].into();
        assert!(task_matches(&f(&["label=com.docker.stack.namespace=app"]), &t, Some(&labels)));
        assert_eq!(values(&f(&["service=web", "service=db", "id=t"]), "service"), ["web", "db"]);
        assert!(task("desired-state=sleeping").unwrap_err().starts_with("desired-state: expected one of"));
    }

    #[test]
    fn node_keys_as_docker_names_them() {
        let spec = NodeSpec { annotations: annotations("", ("zone", "east")), ..Default::default() };
        let mut worker = Node { id: "n1x".into(), spec: Some(spec), ..Default::default() };
        let engine_labels = [("disk".to_string(), "ssd".to_string())].into();
        worker.description = Some(NodeDescription { hostname: "worker-1".into(), engine_labels, ..Default::default() });
        let f = |texts: &[&str]| checked(node, texts);
        assert!(node_matches(&f(&["role=worker", "name=worker", "id=n1"]), &worker));
        assert!(node_matches(&f(&["node.label=zone=east", "label=disk", "membership=accepted"]), &worker));
        assert!(!node_matches(&f(&["label=zone"]), &worker), "label= is the engine's");
        assert!(!node_matches(&f(&["role=manager"]), &worker));
        worker.spec.as_mut().unwrap().desired_role = NodeRole::Manager as i32;
        assert!(node_matches(&f(&["role=manager"]), &worker));
        assert!(node("role=boss").unwrap_err().starts_with("role: expected one of manager, worker"));
    }
}
