//! A top-level declaration of a compose file (`networks: { KEY: ... }`,
//! `volumes: { KEY: ... }`) read field by field, each error naming the
//! field (`volumes.db.external: expected true or false, got 3`).

use std::collections::HashMap;

use serde_json::Value;

/// The declaration of `KEY` under `SECTION` (null when it is bare).
pub struct Declared<'a> {
    /// `SECTION.KEY`, for errors.
    pub at: String,
    value: &'a Value,
}

impl<'a> Declared<'a> {
    pub fn new(section: &str, key: &str, value: &'a Value) -> Declared<'a> {
        Declared { at: format!("{section}.{key}"), value }
    }

    /// The field, when given and not null.
    pub fn field(&self, name: &str) -> Option<&'a Value> {
        self.value.get(name).filter(|v| !v.is_null())
    }

    pub fn text(&self, name: &str) -> Result<Option<String>, String> {
        match self.field(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(format!("{}.{name}: expected a string, got {other}", self.at)),
        }
    }

    pub fn flag(&self, name: &str) -> Result<bool, String> {
        match self.field(name) {
            None => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(other) => Err(format!("{}.{name}: expected true or false, got {other}", self.at)),
        }
    }

    /// Whether it is `external`, and the name it has then: `name:`, or
    /// the compose v3.4 form `external: { name: NAME }`.
    pub fn external(&self) -> Result<(bool, Option<String>), String> {
        let (external, old_name) = match self.field("external") {
            None => (false, None),
            Some(Value::Bool(b)) => (*b, None),
            Some(Value::Object(o)) => (true, o.get("name").and_then(Value::as_str).map(String::from)),
            Some(other) => return Err(format!("{}.external: expected true or false, got {other}", self.at)),
        };
        Ok((external, self.text("name")?.or(old_name)))
    }

    /// A mapping of text (numbers and booleans as written), or a list
    /// of `KEY=VALUE`; empty when not given.
    pub fn map(&self, name: &str) -> Result<HashMap<String, String>, String> {
        let at = format!("{}.{name}", self.at);
        let scalar = |v: &Value| match v {
            Value::String(s) => Ok(s.clone()),
            Value::Number(n) => Ok(n.to_string()),
            Value::Bool(b) => Ok(b.to_string()),
            Value::Null => Ok(String::new()),
            other => Err(format!("{at}: expected text values, got {other}")),
        };
        match self.field(name) {
            None => Ok(HashMap::new()),
            Some(Value::Object(m)) => m.iter().map(|(k, v)| Ok((k.clone(), scalar(v)?))).collect(),
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| {
                    let kv = scalar(item)?;
                    let (k, v) = kv.split_once('=').unwrap_or((&kv, ""));
                    Ok((k.to_string(), v.to_string()))
                })
                .collect(),
            Some(other) => Err(format!("{at}: expected a list or a mapping, got {other}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_read_with_errors_naming_them() {
        let value = serde_json::json!({
            "external": { "name": "old" }, "labels": ["a=1", "b"], "driver_opts": { "size": 1, "on": true },
            "internal": "yes", "driver": 3,
        });
        let d = Declared::new("volumes", "v", &value);
        assert_eq!(d.external(), Ok((true, Some("old".into()))));
        assert_eq!(d.map("labels").unwrap(), HashMap::from([("a".into(), "1".into()), ("b".into(), "".into())]));
        assert_eq!(d.map("driver_opts").unwrap()["on"], "true");
        assert_eq!(d.flag("internal").unwrap_err(), "volumes.v.internal: expected true or false, got \"yes\"");
        assert_eq!(d.text("driver").unwrap_err(), "volumes.v.driver: expected a string, got 3");
        let bare = Value::Null;
        assert_eq!(Declared::new("networks", "n", &bare).external(), Ok((false, None)));
    }
}
