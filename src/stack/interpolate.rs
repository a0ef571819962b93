//! Variable interpolation in compose files, as `docker stack` does it:
//! `$VAR`, `${VAR}`, `${VAR:-default}` (unset or empty), `${VAR-default}`
//! (unset), `${VAR:?message}` / `${VAR?message}` (an error),
//! `${VAR:+alternative}` / `${VAR+alternative}`, and `$$` for a literal
//! `$`. Defaults and alternatives may hold further interpolations. It
//! runs over every string value of the file, before the file is typed.

use serde_json::Value;

/// Why a value could not be interpolated; `path` names the key.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum InterpolateError {
    #[error("{path}: required variable {name} is missing a value: {message}")]
    Required { path: String, name: String, message: String },
    #[error("invalid interpolation format for {path}: {value:?}; you may need to escape any $ with another $")]
    Invalid { path: String, value: String },
}

/// Interpolates every string in `tree` with `lookup`; returns the names of
/// the variables that were unset and read as empty (for a warning).
pub fn tree(tree: &mut Value, lookup: &dyn Fn(&str) -> Option<String>) -> Result<Vec<String>, InterpolateError> {
    let mut unset = Vec::new();
    walk(tree, String::new(), lookup, &mut unset)?;
    let mut seen = std::collections::HashSet::new();
    unset.retain(|name| seen.insert(name.clone()));
    Ok(unset)
}

fn walk(
    value: &mut Value,
    path: String,
    lookup: &dyn Fn(&str) -> Option<String>,
    unset: &mut Vec<String>,
) -> Result<(), InterpolateError> {
    match value {
        Value::String(s) => {
            *s = string(s, lookup, unset).map_err(|e| e.at(&path, s))?;
        }
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                walk(item, format!("{path}[{i}]"), lookup, unset)?;
            }
        }
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                let path = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                walk(v, path, lookup, unset)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// Escapes every `$` of the strings in `tree` as `$$`: the tree, printed,
/// reads back as the same values.
pub fn escape(tree: &mut Value) {
    match tree {
        Value::String(s) if s.contains('$') => *s = s.replace('$', "$$"),
        Value::Array(items) => items.iter_mut().for_each(escape),
        Value::Object(map) => map.values_mut().for_each(escape),
        _ => {}
    }
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

fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_name(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Interpolates one string.
pub fn string(text: &str, lookup: &dyn Fn(&str) -> Option<String>, unset: &mut Vec<String>) -> Result<String, Failure> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] != '$' {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        match chars.get(i + 1) {
            Some('$') => {
                out.push('$');
                i += 2;
            }
            Some('{') => {
                let end = closing(&chars, i + 2).ok_or(Failure::Invalid)?;
                let inner: String = chars[i + 2..end].iter().collect();
                out.push_str(&braced(&inner, lookup, unset)?);
                i = end + 1;
            }
            Some(c) if is_name_start(*c) => {
                let start = i + 1;
                let mut end = start;
                while end < chars.len() && is_name(chars[end]) {
                    end += 1;
                }
                let name: String = chars[start..end].iter().collect();
                out.push_str(&value_of(&name, lookup, unset));
                i = end;
            }
            _ => return Err(Failure::Invalid),
        }
    }
    Ok(out)
}

/// The `}` that closes a `${` whose content starts at `from` (nested
/// `${...}` in defaults count).
fn closing(chars: &[char], from: usize) -> Option<usize> {
    let mut depth = 0;
    let mut i = from;
    while i < chars.len() {
        match chars[i] {
            '$' if chars.get(i + 1) == Some(&'$') => i += 1,
            '$' if chars.get(i + 1) == Some(&'{') => {
                depth += 1;
                i += 1;
            }
            '}' if depth == 0 => return Some(i),
            '}' => depth -= 1,
            _ => {}
        }
        i += 1;
    }
    None
}

fn value_of(name: &str, lookup: &dyn Fn(&str) -> Option<String>, unset: &mut Vec<String>) -> String {
    lookup(name).unwrap_or_else(|| {
        unset.push(name.to_string());
        String::new()
    })
}

/// The inside of `${...}`: a name, then maybe an operator and its word.
fn braced(inner: &str, lookup: &dyn Fn(&str) -> Option<String>, unset: &mut Vec<String>) -> Result<String, Failure> {
    let name_len = inner.find(|c: char| !is_name(c)).unwrap_or(inner.len());
    let (name, rest) = inner.split_at(name_len);
    if !name.starts_with(is_name_start) {
        return Err(Failure::Invalid);
    }
    if rest.is_empty() {
        return Ok(value_of(name, lookup, unset));
    }
    let (colon, rest) = match rest.strip_prefix(':') {
        Some(r) => (true, r),
        None => (false, rest),
    };
    let mut ops = rest.chars();
    let op = ops.next().ok_or(Failure::Invalid)?;
    let word = ops.as_str();
    let value = lookup(name);
    // With a colon, an empty value counts as unset.
    let set = value.as_ref().is_some_and(|v| !colon || !v.is_empty());
    match op {
        '-' if set => Ok(value.unwrap_or_default()),
        '-' => string(word, lookup, unset),
        '+' if set => string(word, lookup, unset),
        '+' => Ok(String::new()),
        '?' if set => Ok(value.unwrap_or_default()),
        '?' => Err(Failure::Required { name: name.to_string(), message: string(word, lookup, unset)? }),
        _ => Err(Failure::Invalid),
    }
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
            _ => None,
        }
    }

    fn interp(text: &str) -> Result<String, String> {
        let mut v = json!({ "services": { "web": { "image": text } } });
        tree(&mut v, &env).map_err(|e| e.to_string())?;
        Ok(v["services"]["web"]["image"].as_str().unwrap().to_string())
    }

    #[test]
    fn every_operator() {
        let cases = [
            ("$SET", "value"),
            ("${SET}", "value"),
            ("app:$TAG-x", "app:1.2-x"),
            ("${UNSET}", ""),
            ("${UNSET:-def}", "def"),
            ("${EMPTY:-def}", "def"),
            ("${EMPTY-def}", ""),
            ("${UNSET-def}", "def"),
            ("${SET:-def}", "value"),
            ("${SET:+alt}", "alt"),
            ("${EMPTY:+alt}", ""),
            ("${EMPTY+alt}", "alt"),
            ("${UNSET+alt}", ""),
            ("${SET:?boom}", "value"),
            ("$$SET", "$SET"),
            ("$${SET}", "${SET}"),
            ("a $$ b", "a $ b"),
            ("${UNSET:-${TAG}}", "1.2"),
            ("${UNSET:-x}y${SET}", "xyvalue"),
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
        assert!(interp("${EMPTY?fine}").is_ok());
        for bad in ["5$", "$ x", "${}", "${SET", "${1A}", "${SET!x}"] {
            let err = interp(bad).unwrap_err();
            assert!(err.starts_with("invalid interpolation format for services.web.image: "), "{bad}: {err}");
        }
    }

    #[test]
    fn escaped_values_read_back_the_same() {
        let mut v = json!({ "a": "pa$$word $SET", "b": ["$$1", 2] });
        tree(&mut v, &env).unwrap();
        let before = v.clone();
        escape(&mut v);
        tree(&mut v, &env).unwrap();
        assert_eq!(v, before);
    }

    #[test]
    fn unset_variables_are_reported_once() {
        let mut v = json!({ "a": "$NOPE", "b": ["${NOPE}", 3, true] });
        assert_eq!(tree(&mut v, &env).unwrap(), vec!["NOPE".to_string()]);
        assert_eq!(v, json!({ "a": "", "b": ["", 3, true] }));
    }
}
