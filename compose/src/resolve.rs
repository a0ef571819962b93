//! What docker's compose loader settles once a file is typed, so that
//! `stack config` prints it and `stack deploy` uses it as docker does:
//! each service's `env_file`s read under its `environment`, and a
//! variable written without a value taken from the environment (left
//! bare when unset); bind sources and secret and config `file:` paths
//! made absolute (`~` is `$HOME`; a bind without a source refused; a
//! secret or config with neither `file` nor `external` gets the file's
//! directory, as docker gives it); `extra_hosts` as `HOST:IP`; a port's
//! `host_ip` dropped with docker's warning (a published port listens on
//! every address); and an `external` declaration given its
//! `name:` (the old `external: { name }` moved there, with docker's
//! warning), refused where docker refuses it (`external` with `driver`,
//! `driver_opts` or `labels` on a volume, or with both names).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::load;
use super::model::{Compose, Service, VolumeType};

/// Where relative paths start and how variables are looked up.
pub struct Context<'a> {
    pub base: &'a Path,
    pub lookup: &'a dyn Fn(&str) -> Option<String>,
    /// The file's version (`3.8`), for docker's deprecation warnings.
    pub version: &'a str,
}

impl Context<'_> {
    /// `path` as docker resolves it: `~` expanded, then made absolute.
    fn absolute(&self, path: &str) -> String {
        let expanded = match path.strip_prefix('~') {
            Some(rest) if rest.is_empty() || rest.starts_with('/') => match (self.lookup)("HOME") {
                Some(home) => format!("{home}{rest}"),
                None => path.to_string(),
            },
            _ => path.to_string(),
        };
        // An absolute path stays as written; a relative one is joined
        // and cleaned, as Go's filepath.Join does.
        if Path::new(&expanded).is_absolute() {
            return expanded;
        }
        clean(&self.base.join(expanded)).display().to_string()
    }

    /// Whether the file's version is at least `3.minor`.
    fn at_least(&self, minor: u32) -> bool {
        let minor_of = |v: &str| v.strip_prefix("3.").and_then(|m| m.parse::<u32>().ok());
        minor_of(self.version).is_some_and(|m| m >= minor)
    }
}

/// `path` without `.`, `..` (lexically) nor a trailing `/`, as Go's
/// filepath.Clean leaves it.
pub fn clean(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir if out.file_name().is_some() => {
                out.pop();
            }
            Component::ParentDir if out.has_root() => {}
            other => out.push(other),
        }
    }
    out
}

/// Resolves `compose` in place; returns docker's warnings.
pub fn compose(compose: &mut Compose, cx: &Context<'_>) -> Result<Vec<String>, String> {
    let mut warnings = Vec::new();
    for (name, service) in compose.services.iter_mut() {
        self::service(name, service, cx, &mut warnings)?;
    }
    let sections = [
        (&mut compose.networks, "network", 5),
        (&mut compose.volumes, "volume", 4),
        (&mut compose.secrets, "secret", 5),
        (&mut compose.configs, "config", 5),
    ];
    for (declared, noun, since) in sections {
        for (key, declaration) in declared.iter_mut() {
            let Some(Value::Object(fields)) = declaration else { continue };
            if let Some(warning) = external(noun, key, fields, cx.at_least(since))? {
                warnings.push(warning);
            }
            // `external` is `true` now when it is external at all.
            let is_external = fields.get("external") == Some(&Value::Bool(true));
            // Docker prints labels as a mapping, and keeps the `x-` keys
            // of a network or volume only when it is external.
            if let Some(labels) = fields.get_mut("labels").filter(|l| l.is_array()) {
                *labels = Value::Object(super::merge::as_map(labels));
            }
            match noun {
                "network" | "volume" if !is_external => fields.retain(|k, _| !k.starts_with("x-")),
                "secret" | "config" => match fields.get_mut("file") {
                    Some(Value::String(file)) => *file = cx.absolute(file),
                    None if !is_external => {
                        fields.insert("file".into(), Value::String(cx.absolute("")));
                    }
                    _ => {}
                },
                _ => {}
            }
        }
    }
    Ok(warnings)
}

fn service(name: &str, service: &mut Service, cx: &Context<'_>, warnings: &mut Vec<String>) -> Result<(), String> {
    let mut environment: BTreeMap<String, Option<String>> = BTreeMap::new();
    for file in &service.env_file {
        let vars =
            load::read_env_file(Path::new(&cx.absolute(file))).map_err(|e| format!("services.{name}.env_file: {e}"))?;
        environment.extend(vars.into_iter().map(|(k, v)| (k, Some(v))));
    }
    for (key, value) in std::mem::take(&mut service.environment) {
        let value = value.or_else(|| (cx.lookup)(&key));
        environment.insert(key, value);
    }
    service.environment = environment;
    for (i, volume) in service.volumes.iter_mut().enumerate() {
        if volume.kind != VolumeType::Bind {
            continue;
        }
        match volume.source.as_deref() {
            None | Some("") => {
                return Err(format!(
                    "services.{name}.volumes[{i}]: invalid mount config for type \"bind\": field Source must not be empty"
                ));
            }
            Some(source) => volume.source = Some(cx.absolute(source)),
        }
    }
    if let Some(hosts) = service.other.get_mut("extra_hosts") {
        *hosts = extra_hosts(hosts);
    }
    for key in ["dns", "dns_search", "tmpfs"] {
        if let Some(one @ Value::String(_)) = service.other.get_mut(key) {
            *one = Value::Array(vec![one.take()]);
        }
    }
    if let Some(sysctls) = service.other.get_mut("sysctls") {
        *sysctls = text_map(sysctls);
    }
    for port in service.ports.iter_mut() {
        if let Some(ip) = port.host_ip.take() {
            let published = port.published.map(|p| p.to_string()).unwrap_or_default();
            let protocol = format!("{:?}", port.protocol).to_lowercase();
            warnings.push(format!(
                "services.{name}.ports: ignoring IP-address ({ip}:{published}:{}/{protocol}) service will listen on '0.0.0.0'",
                port.target
            ));
        }
    }
    Ok(())
}

/// A `list_or_dict` (`sysctls`) as docker prints it: a mapping of text
/// (from `KEY=VALUE` items, or values of any scalar type).
fn text_map(value: &Value) -> Value {
    let text = |v: Value| match v {
        Value::String(s) => Value::String(s),
        Value::Null => Value::String(String::new()),
        other => Value::String(other.to_string()),
    };
    match value {
        Value::Object(_) | Value::Array(_) => {
            Value::Object(super::merge::as_map(value).into_iter().map(|(k, v)| (k, text(v))).collect())
        }
        other => other.clone(),
    }
}

/// `extra_hosts` as docker prints them: a list of `HOST:IP` (from a
/// mapping, or `HOST=IP` items).
fn extra_hosts(hosts: &Value) -> Value {
    let item = |host: &str, ip: &Value| {
        let ip = ip.as_str().map(String::from).unwrap_or_else(|| ip.to_string());
        Value::String(format!("{host}:{ip}"))
    };
    match hosts {
        Value::Object(map) => Value::Array(map.iter().map(|(h, ip)| item(h, ip)).collect()),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| match v.as_str() {
                    Some(s) if !s.contains(':') || s.find('=') < s.find(':') => match s.split_once('=') {
                        Some((host, ip)) => Value::String(format!("{host}:{ip}")),
                        None => v.clone(),
                    },
                    _ => v.clone(),
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

/// An `external` declaration as docker settles it: named, the old
/// `external: { name }` moved to `name` (warned from `since`), refused
/// where docker refuses it.
fn external(noun: &str, key: &str, fields: &mut Map<String, Value>, warn: bool) -> Result<Option<String>, String> {
    let old_name = match fields.get("external") {
        Some(Value::Object(o)) => Some(o.get("name").and_then(Value::as_str).unwrap_or_default().to_string()),
        Some(Value::Bool(true)) => None,
        _ => return Ok(None),
    };
    if noun == "volume" {
        for conflict in ["driver", "driver_opts", "labels"] {
            if fields.get(conflict).is_some_and(|v| !v.is_null()) {
                return Err(format!(
                    "conflicting parameters \"external\" and \"{conflict}\" specified for volume \"{key}\""
                ));
            }
        }
    }
    let mut warning = None;
    match old_name.filter(|n| !n.is_empty()) {
        Some(old) => {
            if fields.get("name").is_some_and(|v| !v.is_null()) {
                return Err(format!(
                    "{noun} {key}: {noun}.external.name and {noun}.name conflict; only use {noun}.name"
                ));
            }
            if warn {
                warning = Some(format!("{noun} {key}: {noun}.external.name is deprecated in favor of {noun}.name"));
            }
            fields.insert("name".into(), Value::String(old));
        }
        None => {
            if fields.get("name").is_none_or(Value::is_null) {
                fields.insert("name".into(), Value::String(key.to_string()));
            }
        }
    }
    fields.insert("external".into(), Value::Bool(true));
    Ok(warning)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolved(yaml: &str, env: &[(&str, &str)]) -> Result<(Compose, Vec<String>), String> {
        let mut compose = Compose::from_tree(serde_saphyr::from_str(yaml).unwrap())?;
        let env: Vec<(String, String)> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let lookup = move |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let cx = Context { base: Path::new("/srv/app"), lookup: &lookup, version: "3.8" };
        let warnings = self::compose(&mut compose, &cx)?;
        Ok((compose, warnings))
    }

    #[test]
    fn paths_are_absolute_as_docker_prints_them() {
        let yaml = "services:\n  web:\n    image: a\n    volumes: [./data:/d, ~/cache:/c, /abs:/a, named:/n, .:/code, ./x/:/x]\nvolumes: { named: }\nsecrets: { s: { file: ./s.txt }, e: { external: true } }\nconfigs: { c: { file: /etc/c }, bare: { name: b } }\n";
        let (compose, _) = resolved(yaml, &[("HOME", "/home/me")]).unwrap();
        let sources: Vec<_> = compose.services["web"].volumes.iter().map(|v| v.source.clone().unwrap()).collect();
        assert_eq!(sources, ["/srv/app/data", "/home/me/cache", "/abs", "named", "/srv/app", "/srv/app/x"]);
        assert_eq!(clean(Path::new("/a/b/../c/./d/")), Path::new("/a/c/d"));
        assert_eq!(clean(Path::new("/../a")), Path::new("/a"));
        assert_eq!(compose.secrets["s"].as_ref().unwrap()["file"], "/srv/app/s.txt");
        assert!(compose.secrets["e"].as_ref().unwrap().get("file").is_none());
        assert_eq!(compose.configs["c"].as_ref().unwrap()["file"], "/etc/c");
        assert_eq!(compose.configs["bare"].as_ref().unwrap()["file"], "/srv/app", "docker's directory");
        let bare = "services:\n  web:\n    image: a\n    volumes: [{ type: bind, target: /d }]\n";
        assert!(resolved(bare, &[]).unwrap_err().contains("field Source must not be empty"));
    }

    #[test]
    fn env_files_then_environment_and_valueless_variables_from_the_shell() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("app.env"), "A=from-file\nB=from-file\n").unwrap();
        let yaml = "services:\n  web:\n    image: a\n    env_file: app.env\n    environment: [B=mine, C, D]\n";
        let mut compose = Compose::from_tree(serde_saphyr::from_str(yaml).unwrap()).unwrap();
        let lookup = |k: &str| (k == "C").then(|| "shell".to_string());
        self::compose(&mut compose, &Context { base: dir.path(), lookup: &lookup, version: "3.8" }).unwrap();
        let env = &compose.services["web"].environment;
        let get = |k: &str| env[k].as_deref();
        assert_eq!((get("A"), get("B"), get("C"), get("D")), (Some("from-file"), Some("mine"), Some("shell"), None));
        let missing = "services:\n  web:\n    image: a\n    env_file: nope.env\n";
        let mut compose = Compose::from_tree(serde_saphyr::from_str(missing).unwrap()).unwrap();
        let err = self::compose(&mut compose, &Context { base: dir.path(), lookup: &lookup, version: "3.8" });
        assert!(err.unwrap_err().starts_with("services.web.env_file: "));
    }

    #[test]
    fn a_host_ip_is_dropped_with_dockers_warning() {
        let yaml = "services:\n  web:\n    image: a\n    ports: [\"127.0.0.1:8080:80\"]\n";
        let (compose, warnings) = resolved(yaml, &[]).unwrap();
        assert_eq!(compose.services["web"].ports[0].host_ip, None);
        assert_eq!(
            warnings,
            ["services.web.ports: ignoring IP-address (127.0.0.1:8080:80/tcp) service will listen on '0.0.0.0'"]
        );
    }

    #[test]
    fn extra_hosts_read_as_host_colon_ip() {
        let yaml = "services:\n  a:\n    image: a\n    extra_hosts: [\"h1:1.1.1.1\", \"h2=2.2.2.2\", \"h3=::1\"]\n  b:\n    image: b\n    extra_hosts: { h4: 4.4.4.4 }\n";
        let (compose, _) = resolved(yaml, &[]).unwrap();
        assert_eq!(
            compose.services["a"].other["extra_hosts"],
            serde_json::json!(["h1:1.1.1.1", "h2:2.2.2.2", "h3:::1"])
        );
        assert_eq!(compose.services["b"].other["extra_hosts"], serde_json::json!(["h4:4.4.4.4"]));
    }

    #[test]
    fn externals_are_named_and_conflicts_refused_as_docker_does() {
        let yaml = "services: {}\nvolumes:\n  old: { external: true }\n  corp: { external: { name: corp-data } }\nnetworks:\n  n: { external: true, name: real }\n";
        let (compose, warnings) = resolved(yaml, &[]).unwrap();
        assert_eq!(compose.volumes["old"], Some(serde_json::json!({ "external": true, "name": "old" })));
        assert_eq!(compose.volumes["corp"], Some(serde_json::json!({ "external": true, "name": "corp-data" })));
        assert_eq!(compose.networks["n"], Some(serde_json::json!({ "external": true, "name": "real" })));
        assert_eq!(warnings, ["volume corp: volume.external.name is deprecated in favor of volume.name"]);
        let conflict = "services: {}\nvolumes:\n  v: { external: true, labels: [a=b] }\n";
        assert_eq!(
            resolved(conflict, &[]).unwrap_err(),
            "conflicting parameters \"external\" and \"labels\" specified for volume \"v\""
        );
        let both = "services: {}\nnetworks:\n  n: { name: a, external: { name: b } }\n";
        assert_eq!(
            resolved(both, &[]).unwrap_err(),
            "network n: network.external.name and network.name conflict; only use network.name"
        );
    }
}
