//! Docker's own compose file schemas (`config_schema_v3.0.json` to
//! `v3.13`, from docker/cli 28.2, Apache-2.0), checked as `docker stack`
//! checks each file after interpolation: the `version` (a string, `3` or
//! `3.0`–`3.13`, none meaning the newest), every key and type, keys
//! newer than the file's version, the `duration` and `ports` formats. Of
//! the errors it finds, the one on the deepest key is reported, as docker
//! reports it.
//!
//! Shoal's own additions are taken out of the copy that is checked, so
//! the schema does not refuse them: `x-shoal-*` keys (older versions
//! refuse every `x-` key in a service) and the long form of
//! `depends_on` (`{db: {condition: service_healthy}}`).

use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::{Draft, ValidationError};
use serde_json::Value;

use super::model;

/// The newest version, meant by a file without one or with `version: "3"`.
pub const NEWEST: &str = "3.13";

const SCHEMAS: [(&str, &str); 14] = [
    ("3.0", include_str!("schema/config_schema_v3.0.json")),
    ("3.1", include_str!("schema/config_schema_v3.1.json")),
    ("3.2", include_str!("schema/config_schema_v3.2.json")),
    ("3.3", include_str!("schema/config_schema_v3.3.json")),
    ("3.4", include_str!("schema/config_schema_v3.4.json")),
    ("3.5", include_str!("schema/config_schema_v3.5.json")),
    ("3.6", include_str!("schema/config_schema_v3.6.json")),
    ("3.7", include_str!("schema/config_schema_v3.7.json")),
    ("3.8", include_str!("schema/config_schema_v3.8.json")),
    ("3.9", include_str!("schema/config_schema_v3.9.json")),
    ("3.10", include_str!("schema/config_schema_v3.10.json")),
    ("3.11", include_str!("schema/config_schema_v3.11.json")),
    ("3.12", include_str!("schema/config_schema_v3.12.json")),
    ("3.13", include_str!("schema/config_schema_v3.13.json")),
];

/// The file's version as docker reads it: the value as written (a number
/// printed as text, so the schema then says it must be a string), none
/// or `3` meaning [`NEWEST`].
pub fn version(tree: &Value) -> String {
    let written = match tree.get("version") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    };
    match written.as_str() {
        "" | "3" => NEWEST.to_string(),
        _ => written,
    }
}

/// Checks one file's tree against the schema of `version`.
pub fn validate(tree: &Value, version: &str) -> Result<(), String> {
    let (_, text) = SCHEMAS
        .iter()
        .find(|(v, _)| *v == version)
        .ok_or_else(|| format!("unsupported Compose file version: {version}"))?;
    let schema: Value = serde_json::from_str(text).expect("docker's schemas are JSON");
    let validator = jsonschema::options()
        .with_draft(Draft::Draft4)
        .should_validate_formats(true)
        .with_format("duration", |s: &str| shoal_spec::text::duration::parse(s).is_ok())
        .with_format("ports", |s: &str| model::short_port(s).is_ok())
        .build(&schema)
        .expect("docker's schemas compile");
    let checked = without_shoal_keys(tree);
    let mut errors = Vec::new();
    for error in validator.iter_errors(&checked) {
        flatten(error, &mut errors);
    }
    match most_specific(&errors) {
        None => Ok(()),
        Some(error) => Err(describe(error)),
    }
}

/// The tree without what shoal adds to compose (see the module doc).
fn without_shoal_keys(tree: &Value) -> Value {
    let mut tree = tree.clone();
    let services = tree.get_mut("services").and_then(Value::as_object_mut);
    for service in services.into_iter().flat_map(|s| s.values_mut()).filter_map(Value::as_object_mut) {
        service.retain(|key, _| !key.starts_with("x-shoal-"));
        if let Some(Value::Object(long)) = service.get("depends_on") {
            let names = long.keys().cloned().map(Value::String).collect();
            service.insert("depends_on".into(), Value::Array(names));
        }
    }
    tree
}

/// The errors, with those inside a `oneOf`/`anyOf` brought out: of its
/// branches, only those of the value's type (a string given where a
/// string or a list is allowed is checked as a string).
fn flatten(error: ValidationError<'_>, out: &mut Vec<ValidationError<'static>>) {
    let fitting: Vec<usize> = match error.kind() {
        ValidationErrorKind::OneOfNotValid { context } | ValidationErrorKind::AnyOf { context } => {
            let at = error.instance_path();
            let wrong_type = |branch: &Vec<ValidationError<'static>>| {
                branch.iter().any(|e| matches!(e.kind(), ValidationErrorKind::Type { .. }) && e.instance_path() == at)
            };
            (0..context.len()).filter(|i| !wrong_type(&context[*i])).collect()
        }
        _ => Vec::new(),
    };
    if fitting.is_empty() {
        out.push(error.to_owned());
        return;
    }
    let (ValidationErrorKind::OneOfNotValid { context } | ValidationErrorKind::AnyOf { context }) =
        error.into_parts().kind
    else {
        return;
    };
    for (i, branch) in context.into_iter().enumerate() {
        if fitting.contains(&i) {
            branch.into_iter().for_each(|e| flatten(e, out));
        }
    }
}

fn depth(error: &ValidationError<'_>) -> usize {
    error.instance_path().segments().count()
}

/// Docker's choice: the deepest key; at equal depth, a wrong type.
fn most_specific<'a>(errors: &'a [ValidationError<'static>]) -> Option<&'a ValidationError<'static>> {
    let is_type = |e: &ValidationError<'_>| matches!(e.kind(), ValidationErrorKind::Type { .. });
    errors.iter().reduce(|best, e| {
        let better = depth(e) > depth(best) || (depth(e) == depth(best) && is_type(e) && !is_type(best));
        if better { e } else { best }
    })
}

/// The key as docker names it: `services.web.ports.0`, `(root)` for the
/// top.
fn key(error: &ValidationError<'_>) -> String {
    let parts: Vec<String> = error.instance_path().segments().map(|s| s.to_string()).collect();
    if parts.is_empty() { "(root)".into() } else { parts.join(".") }
}

/// A type as docker names it.
fn type_name(name: &str) -> &str {
    match name {
        "object" => "mapping",
        "array" => "list",
        "integer" => "integer",
        other => other,
    }
}

fn article(name: &str) -> &'static str {
    if name.starts_with(['a', 'e', 'i', 'o', 'u']) { "an" } else { "a" }
}

fn describe(error: &ValidationError<'_>) -> String {
    let key = key(error);
    match error.kind() {
        ValidationErrorKind::Type { kind } => {
            let names: Vec<&str> = match kind {
                TypeKind::Single(t) => vec![type_name(t.as_str())],
                TypeKind::Multiple(set) => set.iter().map(|t| type_name(t.as_str())).collect(),
            };
            let first = names.first().copied().unwrap_or("value");
            format!("{key} must be {} {}", article(first), names.join(" or "))
        }
        ValidationErrorKind::OneOfNotValid { context } | ValidationErrorKind::AnyOf { context } => {
            let mut names: Vec<String> = Vec::new();
            for e in context.iter().flatten() {
                if let ValidationErrorKind::Type { kind: TypeKind::Single(t) } = e.kind() {
                    let name = type_name(t.as_str()).to_string();
                    if !names.contains(&name) {
                        names.push(name);
                    }
                }
            }
            match names.first() {
                Some(first) => format!("{key} must be {} {}", article(first), names.join(" or ")),
                None => format!("{key} is not valid: {error}"),
            }
        }
        ValidationErrorKind::AdditionalProperties { unexpected } => match unexpected.as_slice() {
            [one] => format!("{key} additional property {one} is not allowed"),
            many => format!("{key} additional properties {} are not allowed", many.join(", ")),
        },
        ValidationErrorKind::Format { format } => {
            format!("{key} does not match format '{format}': {}", error.instance())
        }
        ValidationErrorKind::Enum { options } => format!("{key} must be one of the following: {options}"),
        ValidationErrorKind::Required { property } => format!("{key}: {property} is required"),
        _ => format!("{key}: {error}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(tree: Value) -> Result<(), String> {
        validate(&tree, &version(&tree))
    }

    #[test]
    fn versions_as_docker_reads_them() {
        assert_eq!(version(&json!({})), "3.13");
        assert_eq!(version(&json!({ "version": "3" })), "3.13");
        assert_eq!(version(&json!({ "version": "3.8" })), "3.8");
        assert_eq!(version(&json!({ "version": 3.8 })), "3.8");
        assert!(check(json!({ "version": "3.8", "services": {} })).is_ok());
        for bad in ["2", "2.0", "3.14", "4"] {
            assert_eq!(
                check(json!({ "version": bad, "services": {} })).unwrap_err(),
                format!("unsupported Compose file version: {bad}")
            );
        }
        assert_eq!(check(json!({ "version": 3.8 })).unwrap_err(), "version must be a string");
    }

    #[test]
    fn the_deepest_error_is_named_with_its_key() {
        let err = check(json!({ "services": { "web": { "image": "a", "deploy": { "replicas": "two" } } } }));
        assert_eq!(err.unwrap_err(), "services.web.deploy.replicas must be an integer");
        let err = check(json!({ "services": { "web": { "image": "a", "platform": "linux" } } }));
        assert_eq!(err.unwrap_err(), "services.web additional property platform is not allowed");
        let err = check(json!({ "name": "x", "services": {} }));
        assert_eq!(err.unwrap_err(), "(root) additional property name is not allowed");
        let err = check(json!({ "services": { "web": { "image": "a", "ports": ["80:80:80:80"] } } }));
        assert!(err.unwrap_err().starts_with("services.web.ports.0 does not match format 'ports'"));
        let err = check(json!({ "services": { "web": { "image": "a", "stop_grace_period": "10" } } }));
        assert!(err.unwrap_err().starts_with("services.web.stop_grace_period does not match format 'duration'"));
        let err = check(json!({ "services": { "web": { "image": "a", "command": 5 } } }));
        assert_eq!(err.unwrap_err(), "services.web.command must be a string or list");
        let err = check(json!({ "networks": { "n": "x" } }));
        assert_eq!(err.unwrap_err(), "networks.n must be a null or mapping");
    }

    #[test]
    fn keys_newer_than_the_files_version_are_refused() {
        let tree = json!({ "version": "3.2", "services": { "web": { "image": "a", "init": true } } });
        assert_eq!(check(tree).unwrap_err(), "services.web additional property init is not allowed");
        assert!(check(json!({ "version": "3.7", "services": { "web": { "image": "a", "init": true } } })).is_ok());
    }

    #[test]
    fn shoals_own_keys_pass_in_any_version() {
        let tree = json!({ "version": "3.3", "services": { "web": {
            "image": "a",
            "x-shoal-runtime": "process",
            "depends_on": { "db": { "condition": "service_healthy" } },
        }, "db": { "image": "b" } } });
        assert!(check(tree).is_ok());
    }
}
