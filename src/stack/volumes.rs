//! A stack's named volumes, as `docker stack deploy` mounts them: a
//! volume a service mounts by name must be declared under `volumes:`;
//! it is the engine's volume `STACK_KEY` (or the `name:` it declares),
//! made on first use with the declared `driver`, `driver_opts` and
//! `labels` and the stack's namespace label; an `external` volume keeps
//! its own name (the key, or its `name:`) and is used as it is.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;
use shoal_proto::VolumeOptions;

use super::convert::NAMESPACE_LABEL;

/// The engine volume that `key` stands for in stack `stack`, and how to
/// make it; `no_copy` from the service's own `volume: { nocopy }`.
pub fn source(
    stack: &str,
    key: &str,
    declared: &BTreeMap<String, Option<Value>>,
    no_copy: bool,
) -> Result<(String, VolumeOptions), String> {
    let Some(declaration) = declared.get(key) else {
        return Err(format!("volume {key:?} is not declared under volumes:"));
    };
    let declaration = declaration.clone().unwrap_or(Value::Null);
    let at = format!("volumes.{key}");
    let field = |f: &str| declaration.get(f).filter(|v| !v.is_null());
    let text = |f: &str| -> Result<Option<String>, String> {
        match field(f) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(format!("{at}.{f}: expected a string, got {other}")),
        }
    };
    let (external, external_name) = match field("external") {
        None => (false, None),
        Some(Value::Bool(b)) => (*b, None),
        // The compose v3.4 form: `external: { name: NAME }`.
        Some(Value::Object(o)) => (true, o.get("name").and_then(Value::as_str).map(String::from)),
        Some(other) => return Err(format!("{at}.external: expected true or false, got {other}")),
    };
    let name = text("name")?.or(external_name);
    let mut options = VolumeOptions { no_copy, ..Default::default() };
    if external {
        return Ok((name.unwrap_or_else(|| key.to_string()), options));
    }
    options.labels = strings(field("labels"), &format!("{at}.labels"))?;
    options.labels.insert(NAMESPACE_LABEL.into(), stack.into());
    options.driver = text("driver")?.unwrap_or_default();
    options.driver_options = strings(field("driver_opts"), &format!("{at}.driver_opts"))?;
    Ok((name.unwrap_or_else(|| format!("{stack}_{key}")), options))
}

/// A mapping of strings (numbers and booleans written as they read), or
/// a list of `KEY=VALUE`.
fn strings(value: Option<&Value>, at: &str) -> Result<HashMap<String, String>, String> {
    let scalar = |v: &Value| match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Null => Ok(String::new()),
        other => Err(format!("{at}: expected text values, got {other}")),
    };
    match value {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn declared(yaml: &str) -> BTreeMap<String, Option<Value>> {
        serde_saphyr::from_str(yaml).unwrap()
    }

    #[test]
    fn declared_volumes_are_the_stacks_and_made_as_declared() {
        let volumes = declared(
            "plain:\ndb: { driver: local, driver_opts: { type: tmpfs, device: tmpfs, o: 'size=1m' }, labels: [team=a] }\nnamed: { name: shared-data }",
        );
        let (name, options) = source("st", "plain", &volumes, false).unwrap();
        assert_eq!(name, "st_plain");
        assert_eq!(options.labels, HashMap::from([(NAMESPACE_LABEL.into(), "st".into())]));
        assert_eq!((options.driver.as_str(), options.driver_options.len()), ("", 0));
        let (name, options) = source("st", "db", &volumes, true).unwrap();
        assert_eq!(name, "st_db");
        assert!(options.no_copy);
        assert_eq!(options.driver, "local");
        assert_eq!(options.driver_options.get("o").map(String::as_str), Some("size=1m"));
        assert_eq!(options.labels.get("team").map(String::as_str), Some("a"));
        assert_eq!(source("st", "named", &volumes, false).unwrap().0, "shared-data");
    }

    #[test]
    fn external_volumes_keep_their_names_and_undeclared_ones_are_refused() {
        let volumes = declared("old: { external: true }\ncorp: { external: true, name: corp-data }");
        let (name, options) = source("st", "old", &volumes, false).unwrap();
        assert_eq!((name.as_str(), options), ("old", VolumeOptions::default()), "used as it is");
        assert_eq!(source("st", "corp", &volumes, false).unwrap().0, "corp-data");
        assert_eq!(
            source("st", "nope", &volumes, false).unwrap_err(),
            "volume \"nope\" is not declared under volumes:"
        );
        let bad = declared("v: { external: maybe }");
        assert!(source("st", "v", &bad, false).unwrap_err().starts_with("volumes.v.external: expected true or false"));
    }
}
