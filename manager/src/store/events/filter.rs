//! `--filter` of `shoal events`, as Docker reads it: the values of one
//! key are alternatives, different keys must all match.

use std::collections::BTreeMap;

use shoal_proto::{Event, EventFilter};

/// The filter keys events take.
pub const KEYS: [&str; 9] = ["type", "event", "service", "node", "network", "secret", "config", "label", "scope"];
/// The types events have.
pub const TYPES: [&str; 6] = ["service", "node", "task", "network", "secret", "config"];
/// The actions events have.
pub const ACTIONS: [&str; 3] = ["create", "update", "remove"];

/// A filter that cannot match as asked.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("{0}")]
pub struct FilterError(String);

/// Checked filters, by key.
#[derive(Debug, Default, Clone)]
pub struct Filters(BTreeMap<String, Vec<String>>);

impl Filters {
    /// Checks `filters`: known keys, and known values for `type`,
    /// `event` and `scope`.
    pub fn new(filters: &[EventFilter]) -> Result<Filters, FilterError> {
        let mut by_key: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for f in filters {
            let known = match f.key.as_str() {
                "type" => Some((&TYPES[..], "type")),
                "event" => Some((&ACTIONS[..], "event")),
                "scope" => Some((&["swarm", "local"][..], "scope")),
                key if KEYS.contains(&key) => None,
                key => {
                    return Err(FilterError(format!("invalid filter {key:?}: expected one of {}", KEYS.join(", "))));
                }
            };
            if let Some((values, key)) = known
                && !values.contains(&f.value.as_str())
            {
                let extra = if f.value == "container" { " (a task's container is type=task)" } else { "" };
                return Err(FilterError(format!(
                    "invalid {key} filter {:?}{extra}: expected one of {}",
                    f.value,
                    values.join(", ")
                )));
            }
            by_key.entry(f.key.clone()).or_default().push(f.value.clone());
        }
        Ok(Filters(by_key))
    }

    /// Whether `event` passes every key.
    pub fn matches(&self, event: &Event) -> bool {
        self.0.iter().all(|(key, values)| values.iter().any(|v| matches(key, v, event)))
    }
}

fn matches(key: &str, value: &str, e: &Event) -> bool {
    let attr = |name: &str| e.attributes.get(name).map(String::as_str);
    let is = |kind: &str| e.r#type == kind && (e.actor_id == value || attr("name") == Some(value));
    match key {
        "type" => e.r#type == value,
        "event" => e.action == value,
        "scope" => value == "swarm",
        "service" => {
            is("service") || (e.r#type == "task" && [attr("service"), attr("service.id")].contains(&Some(value)))
        }
        "node" => is("node") || (e.r#type == "task" && attr("node.id") == Some(value)),
        "network" | "secret" | "config" => is(key),
        "label" => match value.split_once('=') {
            Some((k, v)) => attr(&format!("label.{k}")) == Some(v),
            None => attr(&format!("label.{value}")).is_some(),
        },
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filters(pairs: &[(&str, &str)]) -> Result<Filters, FilterError> {
        let list: Vec<EventFilter> =
            pairs.iter().map(|(k, v)| EventFilter { key: k.to_string(), value: v.to_string() }).collect();
        Filters::new(&list)
    }

    fn event(kind: &str, action: &str, attrs: &[(&str, &str)]) -> Event {
        Event {
            r#type: kind.into(),
            action: action.into(),
            actor_id: "id1".into(),
            attributes: attrs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn one_keys_values_are_alternatives_and_keys_all_match() {
        let web = event("service", "update", &[("name", "web"), ("label.tier", "front")]);
        let task = event("task", "update", &[("name", "web.1"), ("service", "web"), ("node.id", "n1")]);
        let node = event("node", "update", &[("name", "host-1")]);
        let f = filters(&[("type", "service"), ("type", "node")]).unwrap();
        assert!(f.matches(&web) && f.matches(&node) && !f.matches(&task));
        let f = filters(&[("service", "web"), ("event", "update")]).unwrap();
        assert!(f.matches(&web) && f.matches(&task) && !f.matches(&node));
        assert!(filters(&[("node", "n1")]).unwrap().matches(&task));
        assert!(filters(&[("node", "host-1")]).unwrap().matches(&node));
        assert!(filters(&[("service", "id1")]).unwrap().matches(&web), "by id");
        assert!(filters(&[("label", "tier")]).unwrap().matches(&web));
        assert!(filters(&[("label", "tier=front")]).unwrap().matches(&web));
        assert!(!filters(&[("label", "tier=back")]).unwrap().matches(&web));
        assert!(!filters(&[("scope", "local")]).unwrap().matches(&web));
        assert!(Filters::default().matches(&task));
    }

    #[test]
    fn unknown_keys_and_values_are_named() {
        assert!(
            filters(&[("colour", "x")]).unwrap_err().0.starts_with("invalid filter \"colour\": expected one of type")
        );
        assert!(filters(&[("type", "container")]).unwrap_err().0.contains("type=task"));
        assert!(filters(&[("event", "die")]).unwrap_err().0.contains("create, update, remove"));
    }
}
