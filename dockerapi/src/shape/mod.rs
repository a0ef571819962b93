//! Shoal's objects in the Docker Engine API's JSON shape, the same for
//! `shoal ... inspect` and for the API the docker CLI reads: fields named
//! and nested as Docker's, times in RFC 3339 with nanoseconds, empty
//! fields left out as Docker leaves them out. A process task's program is
//! `ContainerSpec.Image`.

mod event;
mod files;
mod network;
mod node;
mod service;
mod task;

pub use event::event;
pub use files::{File, config, secret};
pub use network::network;
pub use node::{cluster, node, plugins};
pub use service::{service, spec, task_spec};
pub use task::task;

use std::collections::HashMap;

use serde_json::{Map, Value, json};
use shoal_proto::Meta;

/// Unix nanoseconds as Docker writes times: RFC 3339 with nanoseconds, UTC.
pub fn rfc3339(nanos: i64) -> String {
    humantime::format_rfc3339_nanos(shoal_proto::nanos_to_system_time(nanos)).to_string()
}

/// A map that keeps only non-empty values.
pub(crate) struct Obj(Map<String, Value>);

impl Obj {
    pub(crate) fn new() -> Obj {
        Obj(Map::new())
    }

    pub(crate) fn put(mut self, key: &str, value: impl Into<Value>) -> Obj {
        let value = value.into();
        let empty = match &value {
            Value::Null => true,
            Value::String(s) => s.is_empty(),
            Value::Array(a) => a.is_empty(),
            Value::Object(o) => o.is_empty(),
            Value::Bool(b) => !b,
            _ => false,
        };
        if !empty {
            self.0.insert(key.to_string(), value);
        }
        self
    }

    /// Inserts when given, even `false` or empty (a choice made, as
    /// Docker shows `"Init": false`).
    pub(crate) fn given(self, key: &str, value: Option<impl Into<Value>>) -> Obj {
        match value {
            Some(value) => self.always(key, value),
            None => self,
        }
    }

    /// Inserts even when empty or zero.
    pub(crate) fn always(mut self, key: &str, value: impl Into<Value>) -> Obj {
        self.0.insert(key.to_string(), value.into());
        self
    }

    pub(crate) fn done(self) -> Value {
        Value::Object(self.0)
    }
}

pub(crate) fn meta(obj: Obj, id: &str, meta: Option<&Meta>) -> Obj {
    let meta = meta.cloned().unwrap_or_default();
    obj.always("ID", id)
        .always("Version", json!({ "Index": meta.version }))
        .always("CreatedAt", rfc3339(meta.created_at))
        .always("UpdatedAt", rfc3339(meta.updated_at))
}

pub(crate) fn labels(map: &HashMap<String, String>) -> Value {
    let sorted: std::collections::BTreeMap<_, _> = map.iter().collect();
    json!(sorted)
}
