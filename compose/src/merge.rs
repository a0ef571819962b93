//! Merging several compose files (`-c base.yml -c override.yml`) as
//! `docker stack` does: services merge key by key, the later file
//! winning; in a service, `environment`, `labels` and `networks` merge as
//! maps (whichever of the list or map forms each file uses), `ports` by
//! published port, `volumes` by target, `secrets` and `configs` by source
//! (each such list then sorted by that key, as docker sorts it), a few
//! lists (`dns`, `cap_add`...) append, `logging` merges its options only
//! while the driver stays the same, and every other value (`command`,
//! `entrypoint`, `healthcheck.test`...) is replaced. A network, volume,
//! secret or config declared again replaces the earlier declaration.

use serde_json::{Map, Value};

/// Lists of a service that the later file extends rather than replaces.
const APPENDED: [&str; 11] = [
    "cap_add",
    "cap_drop",
    "devices",
    "dns",
    "dns_search",
    "env_file",
    "expose",
    "external_links",
    "group_add",
    "security_opt",
    "tmpfs",
];

/// Merges the file `over` into `base`.
pub fn files(base: &mut Value, over: Value) {
    let (Value::Object(base), Value::Object(over)) = (base, over) else { return };
    for (key, value) in over {
        match (key.as_str(), base.get_mut(&key)) {
            ("services", Some(Value::Object(services))) => {
                let Value::Object(over) = value else { continue };
                for (name, service) in over {
                    match services.get_mut(&name) {
                        Some(existing) => self::service(existing, service),
                        None => {
                            services.insert(name, service);
                        }
                    }
                }
            }
            ("networks" | "volumes" | "secrets" | "configs", Some(Value::Object(declared))) => {
                let Value::Object(over) = value else { continue };
                declared.extend(over);
            }
            (_, Some(existing)) => maps(existing, value),
            (_, None) => {
                base.insert(key, value);
            }
        }
    }
}

/// Maps merge recursively; anything else is replaced.
fn maps(base: &mut Value, over: Value) {
    match (base, over) {
        (Value::Object(base), Value::Object(over)) => {
            for (k, v) in over {
                match base.get_mut(&k) {
                    Some(existing) => maps(existing, v),
                    None => {
                        base.insert(k, v);
                    }
                }
            }
        }
        (base, over) => *base = over,
    }
}

fn service(base: &mut Value, over: Value) {
    let (Value::Object(base), Value::Object(over)) = (base, over) else { return };
    for (key, value) in over {
        let Some(existing) = base.get_mut(&key) else {
            base.insert(key, value);
            continue;
        };
        match key.as_str() {
            "environment" | "labels" | "networks" => {
                let mut merged = as_map(existing);
                merged.extend(as_map(&value));
                *existing = Value::Object(merged);
            }
            "deploy" => {
                let labels = existing.get("labels").map(as_map).zip(value.get("labels").map(as_map));
                maps(existing, value);
                if let (Some((mut a, b)), Value::Object(deploy)) = (labels, existing) {
                    a.extend(b);
                    deploy.insert("labels".into(), Value::Object(a));
                }
            }
            "ports" => keyed(existing, value, port_key),
            "volumes" => keyed(existing, value, volume_key),
            "secrets" | "configs" => keyed(existing, value, source_key),
            "logging" => logging(existing, value),
            k if APPENDED.contains(&k) => {
                let mut merged = as_list(existing);
                let before = merged.clone();
                merged.extend(as_list(&value).into_iter().filter(|v| !before.contains(v)));
                *existing = Value::Array(merged);
            }
            _ => maps(existing, value),
        }
    }
}

fn as_list(v: &Value) -> Vec<Value> {
    match v {
        Value::Array(items) => items.clone(),
        Value::Null => Vec::new(),
        other => vec![other.clone()],
    }
}

/// `["K=V", "K"]` or `{K: V}` as a map (a bare key maps to null).
pub fn as_map(v: &Value) -> Map<String, Value> {
    match v {
        Value::Object(map) => map.clone(),
        Value::Array(items) => items
            .iter()
            .map(|item| {
                let text = match item {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                match text.split_once('=') {
                    Some((k, v)) => (k.to_string(), Value::String(v.to_string())),
                    None => (text, Value::Null),
                }
            })
            .collect(),
        _ => Map::new(),
    }
}

/// Merges two lists whose entries are identified by `key`: an entry of
/// `over` replaces the one of `base` with the same key, others are
/// added; the list is then sorted by key.
fn keyed<K: Ord>(base: &mut Value, over: Value, key: fn(&Value) -> K) {
    let mut merged = as_list(base);
    for entry in as_list(&over) {
        let k = key(&entry);
        match merged.iter_mut().find(|e| key(e) == k) {
            Some(existing) => *existing = entry,
            None => merged.push(entry),
        }
    }
    merged.sort_by_key(key);
    *base = Value::Array(merged);
}

/// `logging`: the same driver (or one side naming none) merges the
/// options; another driver replaces the whole.
fn logging(base: &mut Value, over: Value) {
    let driver = |v: &Value| text(v.get("driver"));
    let (before, after) = (driver(base), driver(&over));
    if before.is_empty() || after.is_empty() || before == after {
        maps(base, over);
    } else {
        *base = over;
    }
}

fn text(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

/// The published port (the first of a range; 0 when none), of
/// `[ip:][published:]target[/protocol]` or of the long form: docker's key.
fn port_key(v: &Value) -> u32 {
    let published = if v.is_object() {
        text(v.get("published"))
    } else {
        let short = text(Some(v));
        let ports = short.split_once('/').map_or(short.as_str(), |(p, _)| p);
        let mut parts: Vec<&str> = ports.rsplitn(3, ':').collect();
        parts.resize(2, "");
        parts[1].to_string()
    };
    published.split('-').next().and_then(|p| p.parse().ok()).unwrap_or(0)
}

/// `source:target[:mode]` or `target`, or the long form's target.
fn volume_key(v: &Value) -> String {
    if v.is_object() {
        return text(v.get("target"));
    }
    let short = text(Some(v));
    let parts: Vec<&str> = short.split(':').collect();
    parts.get(1).unwrap_or(&parts[0]).to_string()
}

fn source_key(v: &Value) -> String {
    if v.is_object() { text(v.get("source")) } else { text(Some(v)) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn services_merge_by_compose_rules() {
        let mut base = json!({
            "version": "3.7",
            "services": { "web": {
                "image": "web:1", "command": ["a", "b"], "environment": ["A=1", "B=2"],
                "ports": ["8080:80", { "target": 443, "published": 8443 }],
                "volumes": ["data:/data", "./conf:/etc/app:ro"], "dns": ["1.1.1.1"],
                "deploy": { "replicas": 2, "labels": ["x=1"], "resources": { "limits": { "cpus": "0.5" } } },
                "healthcheck": { "test": ["CMD", "a"], "interval": "5s" },
            } },
            "networks": { "front": { "driver": "overlay" } },
        });
        let over = json!({
            "version": "3.8",
            "services": {
                "web": {
                    "command": ["c"], "environment": { "B": "3", "C": "4" },
                    "ports": [{ "target": 80, "published": 8080, "protocol": "tcp", "mode": "host" }, "9000:9000/udp"],
                    "volumes": [{ "type": "bind", "source": "/srv/data", "target": "/data" }], "dns": ["8.8.8.8"],
                    "deploy": { "replicas": 5, "labels": { "y": "2" }, "resources": { "limits": { "memory": "50M" } } },
                    "healthcheck": { "test": ["CMD", "b"] },
                },
                "db": { "image": "postgres" },
            },
            "networks": { "front": { "attachable": true } },
        });
        files(&mut base, over);
        let web = &base["services"]["web"];
        assert_eq!(base["version"], "3.8");
        assert_eq!(web["image"], "web:1");
        assert_eq!(web["command"], json!(["c"]), "replaced");
        assert_eq!(web["environment"], json!({ "A": "1", "B": "3", "C": "4" }));
        assert_eq!(
            web["ports"],
            json!([
                { "target": 80, "published": 8080, "protocol": "tcp", "mode": "host" },
                { "target": 443, "published": 8443 },
                "9000:9000/udp"
            ])
        );
        assert_eq!(
            web["volumes"],
            json!([{ "type": "bind", "source": "/srv/data", "target": "/data" }, "./conf:/etc/app:ro"])
        );
        assert_eq!(web["dns"], json!(["1.1.1.1", "8.8.8.8"]), "appended");
        assert_eq!(web["deploy"]["replicas"], 5);
        assert_eq!(web["deploy"]["labels"], json!({ "x": "1", "y": "2" }));
        assert_eq!(web["deploy"]["resources"]["limits"], json!({ "cpus": "0.5", "memory": "50M" }));
        assert_eq!(web["healthcheck"], json!({ "test": ["CMD", "b"], "interval": "5s" }));
        assert_eq!(base["services"]["db"]["image"], "postgres");
        assert_eq!(base["networks"]["front"], json!({ "attachable": true }), "a declaration is replaced whole");
    }

    #[test]
    fn ports_are_keyed_by_published_port_and_logging_by_driver() {
        let mut base = json!({ "services": { "web": {
            "ports": ["9000:90", "8080:80"],
            "logging": { "driver": "json-file", "options": { "max-size": "1m" } },
        }, "api": { "logging": { "driver": "json-file", "options": { "max-size": "1m" } } } } });
        let over = json!({ "services": { "web": {
            "ports": ["8080:81"],
            "logging": { "driver": "syslog", "options": { "tag": "web" } },
        }, "api": { "logging": { "options": { "max-file": "3" } } } } });
        files(&mut base, over);
        let services = &base["services"];
        assert_eq!(services["web"]["ports"], json!(["8080:81", "9000:90"]), "replaced, then sorted");
        assert_eq!(services["web"]["logging"], json!({ "driver": "syslog", "options": { "tag": "web" } }));
        let api = json!({ "driver": "json-file", "options": { "max-size": "1m", "max-file": "3" } });
        assert_eq!(services["api"]["logging"], api);
    }

    #[test]
    fn port_and_volume_keys() {
        assert_eq!(port_key(&json!("127.0.0.1:8080:80/udp")), 8080);
        assert_eq!(port_key(&json!("9000-9001:90-91")), 9000);
        assert_eq!(port_key(&json!("80")), 0);
        assert_eq!(port_key(&json!(3000)), 0);
        assert_eq!(port_key(&json!({ "target": 80, "published": 8081 })), 8081);
        assert_eq!(volume_key(&json!("/data")), "/data");
        assert_eq!(volume_key(&json!("db:/var/lib/db:rw")), "/var/lib/db");
    }
}
