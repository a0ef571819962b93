//! Variable interpolation in compose files, exactly as `docker stack`
//! does it (docker/cli's `compose/template` and `compose/interpolation`):
//! `$VAR`, `${VAR}`, `${VAR:-default}` (unset or empty), `${VAR-default}`
//! (unset), `${VAR:?message}` / `${VAR?message}` (an error), and `$$` for
//! a literal `$`. A default is taken as written (a bcrypt hash in it stays
//! whole) and does not nest; the operators work unbraced too (`$TAG-x` is
//! `TAG` defaulting to `x`). Where the schema wants a number or a boolean
//! (`deploy.replicas`, `read_only`...), an interpolated string is cast, as
//! docker casts it. It runs over every string value of each file, before
//! the file is validated and typed.
//!
//! One deviation: docker forgets a missing required variable when a later
//! `$` in the same string interpolates fine; shoal always refuses it.

use std::sync::LazyLock;

use regex::{Captures, Regex};
use serde_json::Value;

/// Why a value could not be interpolated; `path` names the key.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum InterpolateError {
    #[error("{path}: required variable {name} is missing a value: {message}")]
    Required { path: String, name: String, message: String },
    #[error("invalid interpolation format for {path}: {value:?}; you may need to escape any $ with another $")]
    Invalid { path: String, value: String },
    #[error("{path}: expected {expected} after interpolation, got {value:?}")]
    Cast { path: String, expected: &'static str, value: String },
}

/// Docker's pattern, to the letter: a name with its operator and word
/// (up to a `}`), braced or not.
static PATTERN: LazyLock<Regex> = LazyLock::new(|| {
    let subst = r"[_a-z][_a-z0-9]*(?::?[-?][^}]*)?";
    Regex::new(&format!(r"\$(?i:(?P<escaped>\$)|(?P<named>{subst})|\{{(?P<braced>{subst})\}}|(?P<invalid>))"))
        .expect("the interpolation pattern compiles")
});

/// The type a key's interpolated text is cast to.
#[derive(Debug, Clone, Copy)]
enum Cast {
    Int,
    Float,
    Bool,
}

/// Docker's `interpolateTypeCastMapping`: `*` is any key, `[]` any item.
const CASTS: [(&str, Cast); 29] = [
    ("services.*.configs.[].mode", Cast::Int),
    ("services.*.secrets.[].mode", Cast::Int),
    ("services.*.healthcheck.retries", Cast::Int),
    ("services.*.healthcheck.disable", Cast::Bool),
    ("services.*.deploy.replicas", Cast::Int),
    ("services.*.deploy.update_config.parallelism", Cast::Int),
    ("services.*.deploy.update_config.max_failure_ratio", Cast::Float),
    ("services.*.deploy.rollback_config.parallelism", Cast::Int),
    ("services.*.deploy.rollback_config.max_failure_ratio", Cast::Float),
    ("services.*.deploy.restart_policy.max_attempts", Cast::Int),
    ("services.*.deploy.placement.max_replicas_per_node", Cast::Int),
    ("services.*.ports.[].target", Cast::Int),
    ("services.*.ports.[].published", Cast::Int),
    ("services.*.ulimits.*", Cast::Int),
    ("services.*.ulimits.*.hard", Cast::Int),
    ("services.*.ulimits.*.soft", Cast::Int),
    ("services.*.privileged", Cast::Bool),
    ("services.*.oom_score_adj", Cast::Int),
    ("services.*.read_only", Cast::Bool),
    ("services.*.stdin_open", Cast::Bool),
    ("services.*.tty", Cast::Bool),
    ("services.*.volumes.[].read_only", Cast::Bool),
    ("services.*.volumes.[].volume.nocopy", Cast::Bool),
    ("networks.*.external", Cast::Bool),
    ("networks.*.internal", Cast::Bool),
    ("networks.*.attachable", Cast::Bool),
    ("volumes.*.external", Cast::Bool),
    ("secrets.*.external", Cast::Bool),
    ("configs.*.external", Cast::Bool),
];

fn cast_for(parts: &[String]) -> Option<Cast> {
    CASTS.iter().find_map(|(pattern, cast)| {
        let pattern: Vec<&str> = pattern.split('.').collect();
        let fits = pattern.len() == parts.len() && pattern.iter().zip(parts).all(|(p, part)| *p == "*" || p == part);
        fits.then_some(*cast)
    })
}

impl Cast {
    fn apply(self, text: &str) -> Option<Value> {
        match self {
            Cast::Int => text.parse::<i64>().ok().map(Value::from),
            Cast::Float => text.parse::<f64>().ok().map(Value::from),
            Cast::Bool => match text.to_ascii_lowercase().as_str() {
                "y" | "yes" | "true" | "on" => Some(Value::Bool(true)),
                "n" | "no" | "false" | "off" => Some(Value::Bool(false)),
                _ => None,
            },
        }
    }

    fn expected(self) -> &'static str {
        match self {
            Cast::Int => "an integer",
            Cast::Float => "a number",
            Cast::Bool => "a boolean (true or false)",
        }
    }
}

/// Interpolates every string in `tree` with `lookup`; returns the names of
/// the variables that were unset and read as empty (for a warning).
pub fn tree(tree: &mut Value, lookup: &dyn Fn(&str) -> Option<String>) -> Result<Vec<String>, InterpolateError> {
    let mut unset = Vec::new();
    walk(tree, &mut Vec::new(), String::new(), lookup, &mut unset)?;
    let mut seen = std::collections::HashSet::new();
    unset.retain(|name| seen.insert(name.clone()));
    Ok(unset)
}

/// `parts` is the path as the cast table spells it (`[]` for an item),
/// `path` as errors print it.
fn walk(
    value: &mut Value,
    parts: &mut Vec<String>,
    path: String,
    lookup: &dyn Fn(&str) -> Option<String>,
    unset: &mut Vec<String>,
) -> Result<(), InterpolateError> {
    match value {
        Value::String(s) => {
            let text = string(s, lookup, unset).map_err(|e| e.at(&path, s))?;
            if text == *s {
                return Ok(());
            }
            *value = match cast_for(parts) {
                Some(cast) => {
                    cast.apply(&text).ok_or(InterpolateError::Cast { path, expected: cast.expected(), value: text })?
                }
                None => Value::String(text),
            };
        }
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                parts.push("[]".into());
                walk(item, parts, format!("{path}[{i}]"), lookup, unset)?;
                parts.pop();
            }
        }
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                let path = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                parts.push(k.clone());
                walk(v, parts, path, lookup, unset)?;
                parts.pop();
            }
        }
        _ => {}
    }
    Ok(())
}

/// An error before it knows where it happened.
#[derive(Debug)]
pub enum Failure {
    Required { name: String, message: String },
    Invalid,
}

impl Failure {
    fn at(self, path: &str, value: &str) -> InterpolateError {
        match self {
            Failure::Required { name, message } => InterpolateError::Required { path: path.into(), name, message },
            Failure::Invalid => InterpolateError::Invalid { path: path.into(), value: value.into() },
        }
    }
}

/// Interpolates one string.
pub fn string(text: &str, lookup: &dyn Fn(&str) -> Option<String>, unset: &mut Vec<String>) -> Result<String, Failure> {
    let mut failure = None;
    let out = PATTERN.replace_all(text, |caps: &Captures<'_>| {
        if caps.name("escaped").is_some() {
            return "$".to_string();
        }
        let Some(substitution) = caps.name("named").or_else(|| caps.name("braced")) else {
            failure.get_or_insert(Failure::Invalid);
            return String::new();
        };
        substitute(substitution.as_str(), lookup, unset).unwrap_or_else(|f| {
            failure.get_or_insert(f);
            String::new()
        })
    });
    match failure {
        Some(f) => Err(f),
        None => Ok(out.into_owned()),
    }
}

/// One `NAME[op word]`, with docker's operators tried in docker's order.
fn substitute(
    substitution: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    unset: &mut Vec<String>,
) -> Result<String, Failure> {
    if let Some((name, default)) = substitution.split_once(":-") {
        return Ok(lookup(name).filter(|v| !v.is_empty()).unwrap_or_else(|| default.to_string()));
    }
    if let Some((name, default)) = substitution.split_once('-') {
        return Ok(lookup(name).unwrap_or_else(|| default.to_string()));
    }
    let required = |name: &str, message: &str, non_empty: bool| {
        lookup(name)
            .filter(|v| !non_empty || !v.is_empty())
            .ok_or_else(|| Failure::Required { name: name.to_string(), message: message.to_string() })
    };
    if let Some((name, message)) = substitution.split_once(":?") {
        return required(name, message, true);
    }
    if let Some((name, message)) = substitution.split_once('?') {
        return required(name, message, false);
    }
    Ok(lookup(substitution).unwrap_or_else(|| {
        unset.push(substitution.to_string());
        String::new()
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn env(name: &str) -> Option<String> {
        match name {
            "SET" => Some("value".into()),
            "EMPTY" => Some(String::new()),
            "TAG" => Some("1.2".into()),
            "N" => Some("5".into()),
            "RO" => Some("yes".into()),
            _ => None,
        }
    }

    fn interp(text: &str) -> Result<String, String> {
        let mut v = json!({ "services": { "web": { "image": text } } });
        tree(&mut v, &env).map_err(|e| e.to_string())?;
        Ok(v["services"]["web"]["image"].as_str().unwrap().to_string())
    }

    /// Each case printed by `docker stack config` (docker CLI 28.2).
    #[test]
    fn every_operator_as_docker_reads_it() {
        let cases = [
            ("$SET", "value"),
            ("${SET}", "value"),
            ("app:${TAG}-x", "app:1.2-x"),
            ("app:$TAG-x", "app:1.2"),
            ("$TAG?", "1.2"),
            ("${UNSET}", ""),
            ("${UNSET:-def}", "def"),
            ("${EMPTY:-def}", "def"),
            ("${EMPTY-def}", ""),
            ("${UNSET-def}", "def"),
            ("${SET:-def}", "value"),
            ("${SET:?boom}", "value"),
            ("x${TAG:?}y", "x1.2y"),
            ("${EMPTY?fine}", ""),
            ("$$SET", "$SET"),
            ("$${SET}", "${SET}"),
            ("a $$ b", "a $ b"),
            ("${UNSET:-$2y$05$abc/def}", "$2y$05$abc/def"),
            ("${UNSET:-a$$b}", "a$$b"),
            ("${UNSET-$$}", "$$"),
            ("${UNSET:-${TAG}}", "${TAG}"),
            ("${UNSET:-a}b}", "ab}"),
            ("${UNSET:-x}y${TAG}", "xy1.2"),
        ];
        for (text, want) in cases {
            assert_eq!(interp(text).as_deref(), Ok(want), "{text}");
        }
    }

    #[test]
    fn errors_name_the_key_and_the_variable() {
        assert_eq!(
            interp("${UNSET:?set UNSET first}"),
            Err("services.web.image: required variable UNSET is missing a value: set UNSET first".into())
        );
        assert_eq!(
            interp("${EMPTY:?empty}"),
            Err("services.web.image: required variable EMPTY is missing a value: empty".into())
        );
        assert!(interp("${UNSET:?x} ${TAG}").is_err(), "a later variable does not hide a missing one");
        for bad in ["5$", "$ x", "${}", "${SET", "${1A}", "${SET!x}", "${SET:+alt}"] {
            let err = interp(bad).unwrap_err();
            assert!(err.starts_with("invalid interpolation format for services.web.image: "), "{bad}: {err}");
        }
    }

    #[test]
    fn interpolated_text_is_cast_where_the_schema_wants_a_number_or_boolean() {
        let mut v = json!({ "services": { "web": {
            "read_only": "${RO}",
            "tty": "false",
            "healthcheck": { "retries": "${N}" },
            "deploy": { "replicas": "${N:-2}", "update_config": { "max_failure_ratio": "0.${N}" } },
            "ports": [{ "target": "80${N}", "published": "${UNSET:-8080}" }],
            "environment": { "N": "${N}" },
        } } });
        tree(&mut v, &env).unwrap();
        let web = &v["services"]["web"];
        assert_eq!(web["read_only"], true);
        assert_eq!(web["tty"], "false", "text without a variable is not cast (the schema refuses it)");
        assert_eq!(web["healthcheck"]["retries"], 5);
        assert_eq!(web["deploy"]["replicas"], 5);
        assert_eq!(web["deploy"]["update_config"]["max_failure_ratio"], 0.5);
        assert_eq!(web["ports"][0]["target"], 805);
        assert_eq!(web["ports"][0]["published"], 8080);
        assert_eq!(web["environment"]["N"], "5");
        let mut bad = json!({ "services": { "web": { "deploy": { "replicas": "${TAG}" } } } });
        assert_eq!(
            tree(&mut bad, &env).unwrap_err().to_string(),
            "services.web.deploy.replicas: expected an integer after interpolation, got \"1.2\""
        );
    }

    #[test]
    fn unset_variables_are_reported_once() {
        let mut v = json!({ "a": "$NOPE", "b": ["${NOPE}", 3, true] });
        assert_eq!(tree(&mut v, &env).unwrap(), vec!["NOPE".to_string()]);
        assert_eq!(v, json!({ "a": "", "b": ["", 3, true] }));
    }
}
