//! Events in Docker's shape (`docker events --format json`, `GET /events`).

use std::collections::BTreeMap;

use serde_json::{Value, json};
use shoal_proto::Event;

/// An event as Docker's daemon streams a swarm event.
pub fn event(e: &Event) -> Value {
    let attributes: BTreeMap<&String, &String> = e.attributes.iter().collect();
    json!({
        "Type": e.r#type,
        "Action": e.action,
        "Actor": { "ID": e.actor_id, "Attributes": attributes },
        "scope": "swarm",
        "time": e.time.div_euclid(1_000_000_000),
        "timeNano": e.time,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as_docker_streams_it() {
        let e = Event {
            r#type: "service".into(),
            action: "update".into(),
            actor_id: "abc".into(),
            attributes: [("name".to_string(), "web".to_string())].into(),
            time: 1_796_579_141_519_172_886,
            index: 9,
        };
        let json = event(&e);
        assert_eq!((&json["Type"], &json["Actor"]["Attributes"]["name"]), (&json!("service"), &json!("web")));
        assert_eq!((&json["time"], &json["scope"]), (&json!(1_796_579_141i64), &json!("swarm")));
        assert_eq!(json["timeNano"], json!(1_796_579_141_519_172_886i64));
    }
}
