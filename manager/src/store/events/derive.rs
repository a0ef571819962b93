//! One stored change as an event: its type, action and actor, named and,
//! for an update, with what Docker says changed (`replicas.old`,
//! `state.new`...). Cluster objects have no events (Docker has none).
//! Kept as a [`Recorded`], cheap to build on the write path (static keys
//! and names, no map), made an [`Event`] only when a stream sends it.

use std::borrow::Cow;
use std::collections::HashMap;

use shoal_proto::service_spec::Mode;
use shoal_proto::store_object::Object;
use shoal_proto::{Event, Node, Service};

use crate::store::{Change, ObjectExt, kind_name};

type Text = Cow<'static, str>;

/// An event as kept.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    pub kind: &'static str,
    pub action: &'static str,
    pub actor: String,
    pub attributes: Vec<(Text, Text)>,
    /// When its batch was proposed (unix ns).
    pub time: i64,
    pub index: u64,
}

impl Recorded {
    /// As the control API sends it.
    pub fn event(&self) -> Event {
        Event {
            r#type: self.kind.to_string(),
            action: self.action.to_string(),
            actor_id: self.actor.clone(),
            attributes: self.attributes.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            time: self.time,
            index: self.index,
        }
    }
}

/// The event of `change` (`previous`: the object before an update),
/// proposed at `time` and applied at raft `index`.
pub fn derive(change: &Change, previous: Option<&Object>, time: i64, index: u64) -> Option<Recorded> {
    let object = change.object();
    if matches!(object, Object::Cluster(_)) {
        return None;
    }
    let action = match change {
        Change::Created(_) => "create",
        Change::Updated(_) => "update",
        Change::Deleted(_) => "remove",
    };
    let mut attributes: Vec<(Text, Text)> = vec![("name".into(), name(object).into())];
    if let (Change::Updated(_), Some(previous)) = (change, previous) {
        for ((old_key, new_key), old, new) in changed(previous, object) {
            if old != new {
                attributes.push((old_key.into(), old));
                attributes.push((new_key.into(), new));
            }
        }
    }
    match object {
        Object::Task(t) => {
            attributes.push(("service".into(), t.service_name.clone().into()));
            attributes.push(("service.id".into(), t.service_id.clone().into()));
            attributes.push(("node.id".into(), t.node_id.clone().into()));
            attributes.push(("state".into(), t.state().name().into()));
        }
        other => {
            for (key, value) in labels(other).into_iter().flatten() {
                attributes.push((format!("label.{key}").into(), value.clone().into()));
            }
        }
    }
    attributes.retain(|(_, v)| !v.is_empty());
    Some(Recorded { kind: kind_name(object.kind()), action, actor: object.id().to_string(), attributes, time, index })
}

fn name(object: &Object) -> String {
    match object {
        Object::Node(n) => n.description.as_ref().map(|d| d.hostname.clone()).unwrap_or_default(),
        Object::Service(s) => s.name().to_string(),
        Object::Task(t) => t.name(),
        Object::Network(n) => n.name().to_string(),
        Object::Secret(s) => s.name().to_string(),
        Object::Config(c) => c.name().to_string(),
        Object::Cluster(_) => String::new(),
    }
}

fn labels(object: &Object) -> Option<&HashMap<String, String>> {
    let annotations = match object {
        Object::Node(n) => n.spec.as_ref().and_then(|s| s.annotations.as_ref()),
        Object::Service(s) => s.spec.as_ref().and_then(|s| s.annotations.as_ref()),
        Object::Network(n) => n.spec.as_ref().and_then(|s| s.annotations.as_ref()),
        Object::Secret(s) => s.spec.as_ref().and_then(|s| s.annotations.as_ref()),
        Object::Config(c) => c.spec.as_ref().and_then(|s| s.annotations.as_ref()),
        _ => None,
    };
    annotations.map(|a| &a.labels)
}

/// What an update of this kind may change, as Docker names it: (keys,
/// before, after).
fn changed(before: &Object, after: &Object) -> Vec<((&'static str, &'static str), Text, Text)> {
    match (before, after) {
        (Object::Service(a), Object::Service(b)) => vec![
            (("replicas.old", "replicas.new"), replicas(a).into(), replicas(b).into()),
            (("image.old", "image.new"), image(a).into(), image(b).into()),
            (("updatestate.old", "updatestate.new"), update_state(a).into(), update_state(b).into()),
        ],
        (Object::Node(a), Object::Node(b)) => vec![
            (("state.old", "state.new"), node_state(a).into(), node_state(b).into()),
            (("availability.old", "availability.new"), availability(a).into(), availability(b).into()),
            (("role.old", "role.new"), a.role().name().into(), b.role().name().into()),
        ],
        (Object::Task(a), Object::Task(b)) => vec![
            (("state.old", "state.new"), a.state().name().into(), b.state().name().into()),
            (
                ("desiredstate.old", "desiredstate.new"),
                a.desired_state().name().into(),
                b.desired_state().name().into(),
            ),
        ],
        _ => Vec::new(),
    }
}

fn replicas(s: &Service) -> String {
    match s.spec.as_ref().and_then(|s| s.mode.as_ref()) {
        Some(Mode::Replicated(r)) => r.replicas.to_string(),
        Some(Mode::ReplicatedJob(j)) => j.total_completions.to_string(),
        _ => String::new(),
    }
}

fn image(s: &Service) -> String {
    let container = s.spec.as_ref().and_then(|s| s.task.as_ref()).and_then(|t| t.container.as_ref());
    container.map(|c| c.image.clone()).unwrap_or_default()
}

fn update_state(s: &Service) -> &'static str {
    s.update_status.as_ref().map_or("", |u| u.state().name())
}

fn node_state(n: &Node) -> String {
    n.status.as_ref().map(|s| s.state().title().to_lowercase()).unwrap_or_default()
}

fn availability(n: &Node) -> String {
    n.spec.as_ref().map(|s| s.availability().title().to_lowercase()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use shoal_proto::{
        Annotations, NodeAvailability, NodeSpec, NodeState, NodeStatus, ReplicatedService, ServiceSpec, Task,
        TaskState, TaskStatus,
    };

    use super::*;

    fn service(replicas: u64) -> Object {
        Object::Service(Service {
            id: "s1".into(),
            spec: Some(ServiceSpec {
                annotations: Some(Annotations {
                    name: "web".into(),
                    labels: [("tier".to_string(), "front".to_string())].into(),
                }),
                mode: Some(Mode::Replicated(ReplicatedService { replicas })),
                ..Default::default()
            }),
            ..Default::default()
        })
    }

    #[test]
    fn a_scale_says_the_replicas_before_and_after() {
        let event = derive(&Change::Updated(Box::new(service(3))), Some(&service(1)), 42, 7).unwrap().event();
        assert_eq!(
            (event.r#type.as_str(), event.action.as_str(), event.actor_id.as_str()),
            ("service", "update", "s1")
        );
        assert_eq!((event.time, event.index), (42, 7));
        let attrs = &event.attributes;
        assert_eq!(
            (attrs["name"].as_str(), attrs["replicas.old"].as_str(), attrs["replicas.new"].as_str()),
            ("web", "1", "3")
        );
        assert_eq!(attrs["label.tier"], "front");
        assert!(!attrs.contains_key("image.old"), "unchanged: not said");
        let created = derive(&Change::Created(Box::new(service(1))), None, 1, 1).unwrap().event();
        assert_eq!(created.action, "create");
        assert!(!created.attributes.contains_key("replicas.new"));
        let removed = derive(&Change::Deleted(Box::new(service(1))), None, 1, 1).unwrap();
        assert_eq!(removed.action, "remove");
    }

    #[test]
    fn nodes_and_tasks_say_their_state() {
        let node = |state: NodeState, availability: NodeAvailability| {
            Object::Node(Node {
                id: "n1".into(),
                spec: Some(NodeSpec { availability: availability as i32, ..Default::default() }),
                status: Some(NodeStatus { state: state as i32, ..Default::default() }),
                ..Default::default()
            })
        };
        let before = node(NodeState::Ready, NodeAvailability::Active);
        let after = node(NodeState::Ready, NodeAvailability::Drain);
        let event = derive(&Change::Updated(Box::new(after)), Some(&before), 1, 1).unwrap().event();
        assert_eq!(
            (event.attributes["availability.old"].as_str(), event.attributes["availability.new"].as_str()),
            ("active", "drain")
        );
        assert!(!event.attributes.contains_key("state.old"));
        let task = |state: TaskState| {
            Object::Task(Task {
                id: "t1".into(),
                service_id: "s1".into(),
                service_name: "web".into(),
                slot: 2,
                node_id: "n1".into(),
                status: Some(TaskStatus { state: state as i32, ..Default::default() }),
                ..Default::default()
            })
        };
        let event =
            derive(&Change::Updated(Box::new(task(TaskState::Running))), Some(&task(TaskState::Starting)), 1, 1)
                .unwrap()
                .event();
        let attrs = &event.attributes;
        assert_eq!(
            (attrs["name"].as_str(), attrs["service"].as_str(), attrs["node.id"].as_str()),
            ("web.2", "web", "n1")
        );
        assert_eq!((attrs["state.old"].as_str(), attrs["state.new"].as_str()), ("starting", "running"));
        let cluster = Object::Cluster(Default::default());
        assert!(derive(&Change::Created(Box::new(cluster)), None, 1, 1).is_none(), "Docker has no cluster events");
    }
}
