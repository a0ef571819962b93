//! Requests' parameters and bodies as Docker's daemon reads them:
//! `filters` (JSON, a key to a list of values, or to a set in the old
//! `{"value": true}` form), booleans (`1`, `true`, `True`), timestamps
//! (unix seconds with an optional fraction, as the docker CLI sends
//! `--since`), and JSON bodies (a body too large, malformed, of the wrong
//! types or with fields Docker does not have is refused, naming where).

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::ApiError;

/// `filters={"label":["a=b"],"name":{"web":true}}` as `(key, value)`
/// pairs, each checked by `check` (`KEY=VALUE` text, as `--filter` gives it).
pub fn filters(
    raw: Option<&str>,
    check: impl Fn(&str) -> Result<(String, String), String>,
) -> Result<Vec<(String, String)>, ApiError> {
    let Some(raw) = raw.filter(|r| !r.is_empty()) else { return Ok(Vec::new()) };
    let parsed: serde_json::Map<String, Value> =
        serde_json::from_str(raw).map_err(|e| ApiError::invalid(format!("invalid filter: {e}")))?;
    let mut pairs = Vec::new();
    for (key, values) in parsed {
        let values: Vec<String> = match values {
            Value::Array(list) => list.into_iter().map(|v| text(&key, v)).collect::<Result<_, _>>()?,
            Value::Object(set) => set.into_iter().filter(|(_, on)| on == &Value::Bool(true)).map(|(v, _)| v).collect(),
            other => return Err(ApiError::invalid(format!("invalid filter '{key}': expected a list, got {other}"))),
        };
        for value in values {
            pairs
                .push(check(&format!("{key}={value}")).map_err(|e| ApiError::invalid(format!("invalid filter: {e}")))?);
        }
    }
    Ok(pairs)
}

fn text(key: &str, value: Value) -> Result<String, ApiError> {
    match value {
        Value::String(s) => Ok(s),
        other => Err(ApiError::invalid(format!("invalid filter '{key}': expected a string, got {other}"))),
    }
}

/// The `version` parameter every update carries (the object's
/// `Version.Index` as the caller read it).
pub fn version(q: &std::collections::HashMap<String, String>) -> Result<u64, ApiError> {
    let raw = q.get("version").ok_or_else(|| ApiError::invalid("version: required (the object's Version.Index)"))?;
    raw.parse().map_err(|_| ApiError::invalid(format!("version: expected a number, got {raw:?}")))
}

/// A boolean parameter (`force=1`, `status=true`); absent is false.
pub fn flag(raw: Option<&str>) -> bool {
    matches!(raw, Some("1" | "true" | "True" | "TRUE"))
}

/// `--since`/`--until` as the CLI sends them: `1700000000` or
/// `1700000000.000000123` (unix seconds), in unix nanoseconds.
pub fn timestamp(name: &str, raw: &str) -> Result<i64, ApiError> {
    let bad = || ApiError::invalid(format!("{name}: expected unix seconds (1700000000.5), got {raw:?}"));
    let (secs, fraction) = raw.split_once('.').unwrap_or((raw, ""));
    let secs: i64 = secs.parse().map_err(|_| bad())?;
    if fraction.len() > 9 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let nanos: i64 = if fraction.is_empty() { 0 } else { format!("{fraction:0<9}").parse().map_err(|_| bad())? };
    secs.checked_mul(1_000_000_000).and_then(|s| s.checked_add(nanos)).ok_or_else(bad)
}

/// A JSON body of type `T` (Docker's names), or why not.
pub fn body<T: DeserializeOwned>(body: Result<Bytes, BytesRejection>) -> Result<T, ApiError> {
    let body =
        body.map_err(|e| ApiError { status: e.status(), message: format!("request body: {}", e.body_text()) })?;
    let de = &mut serde_json::Deserializer::from_slice(&body);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let at = e.path().to_string();
        let inner = e.into_inner();
        match at.as_str() {
            "." | "?" => ApiError::invalid(format!("request body: {inner}")),
            _ => ApiError::invalid(format!("request body: {at}: {inner}")),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn any(text: &str) -> Result<(String, String), String> {
        let (k, v) = text.split_once('=').ok_or("no =")?;
        if k == "bad" { Err(format!("unknown filter {k:?}")) } else { Ok((k.to_string(), v.to_string())) }
    }

    #[test]
    fn both_forms_of_filters() {
        let pairs = filters(Some(r#"{"label":["a=b","c"],"name":{"web":true,"db":false}}"#), any).unwrap();
        assert_eq!(pairs, [("label", "a=b"), ("label", "c"), ("name", "web")].map(|(k, v)| (k.into(), v.into())));
        assert!(filters(None, any).unwrap().is_empty() && filters(Some(""), any).unwrap().is_empty());
        assert_eq!(
            filters(Some(r#"{"bad":["x"]}"#), any).unwrap_err().message,
            "invalid filter: unknown filter \"bad\""
        );
        assert!(filters(Some("{not json"), any).unwrap_err().message.starts_with("invalid filter"));
        assert!(filters(Some(r#"{"name":"web"}"#), any).is_err());
        assert!(filters(Some(r#"{"name":[1]}"#), any).is_err());
    }

    #[derive(serde::Deserialize, Debug)]
    #[serde(rename_all = "PascalCase", deny_unknown_fields)]
    struct Spec {
        #[allow(dead_code)]
        replicas: Option<u64>,
    }

    #[test]
    fn bodies_name_what_is_wrong() {
        let parse = |text: &'static str| body::<Spec>(Ok(Bytes::from_static(text.as_bytes())));
        assert!(parse(r#"{"Replicas": 3}"#).is_ok());
        assert_eq!(
            parse(r#"{"Replicas": "x"}"#).unwrap_err().message.split(" at ").next().unwrap(),
            "request body: Replicas: invalid type: string \"x\", expected u64"
        );
        assert!(parse(r#"{"Color": 1}"#).unwrap_err().message.contains("unknown field `Color`"));
        let eof = parse("{").unwrap_err().message;
        assert!(eof.starts_with("request body: EOF"), "{eof}");
    }

    #[test]
    fn flags_and_timestamps() {
        assert!(flag(Some("1")) && flag(Some("true")) && !flag(Some("0")) && !flag(None));
        assert_eq!(timestamp("since", "1700000000").unwrap(), 1_700_000_000_000_000_000);
        assert_eq!(timestamp("since", "1700000000.5").unwrap(), 1_700_000_000_500_000_000);
        assert_eq!(timestamp("since", "1700000000.000000123").unwrap(), 1_700_000_000_000_000_123);
        assert!(timestamp("since", "yesterday").is_err() && timestamp("since", "1.2.3").is_err());
        assert!(timestamp("until", "99999999999999999").is_err(), "overflow is refused, not wrapped");
    }
}
