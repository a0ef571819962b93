//! A stack's named volumes, as `docker stack deploy` mounts them: a
//! volume a service mounts by name must be declared under `volumes:`;
//! it is the engine's volume `STACK_KEY` (or the `name:` it declares),
//! made on first use with the declared `driver`, `driver_opts` and
//! `labels` and the stack's namespace label; an `external` volume keeps
//! its own name (the key, or its `name:`) and is used as it is.

use std::collections::BTreeMap;

use serde_json::Value;
use shoal_proto::VolumeOptions;

use super::convert::NAMESPACE_LABEL;
use super::declared::Declared;

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
    let d = Declared::new("volumes", key, &declaration);
    let (external, name) = d.external()?;
    let mut options = VolumeOptions { no_copy, ..Default::default() };
    if external {
        return Ok((name.unwrap_or_else(|| key.to_string()), options));
    }
    options.labels = d.map("labels")?;
    options.labels.insert(NAMESPACE_LABEL.into(), stack.into());
    options.driver = d.text("driver")?.unwrap_or_default();
    options.driver_options = d.map("driver_opts")?;
    Ok((name.unwrap_or_else(|| format!("{stack}_{key}")), options))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

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
