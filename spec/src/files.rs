//! Secrets and configs: their specs from a client, checked, and the files
//! a task reads them as (where, with which owner and mode), as Swarm has
//! them.

use std::collections::HashMap;

use shoal_proto::{Annotations, ConfigSpec, ContainerSpec, FileReference, SecretSpec};

use crate::InvalidSpec;
use crate::validate::check_labels;

/// Most bytes a secret or config may hold (Swarm's 500 KB).
pub const MAX_DATA_BYTES: usize = 500 * 1024;
/// Where a secret with a relative target is.
pub const SECRETS_DIR: &str = "/run/secrets";
/// Permission bits of a file whose reference does not say.
pub const DEFAULT_MODE: u32 = 0o444;
/// The one template driver (Swarm's).
pub const TEMPLATE_DRIVER: &str = "golang";

fn invalid(msg: impl Into<String>) -> InvalidSpec {
    InvalidSpec(msg.into())
}

/// Secret and config names: letters, digits, `-`, `_` and `.`, starting
/// and ending with a letter or digit, at most 64 characters (swarmkit's).
fn check_name(kind: &str, name: &str) -> Result<(), InvalidSpec> {
    if name.is_empty() {
        return Err(invalid(format!("name: a {kind} needs a name")));
    }
    let alnum = |c: char| c.is_ascii_alphanumeric();
    let ok = name.len() <= 64
        && name.starts_with(alnum)
        && name.ends_with(alnum)
        && name.chars().all(|c| alnum(c) || matches!(c, '-' | '_' | '.'));
    if ok {
        return Ok(());
    }
    Err(invalid(format!(
        "name: {name:?} is not valid: use letters, digits, '-', '_' and '.', starting and ending with a letter or digit, at most 64 characters"
    )))
}

/// What secrets and configs alike must be: named, labelled sanely, 1 byte
/// to [`MAX_DATA_BYTES`], with no template driver but Swarm's.
fn check(kind: &str, annotations: Option<&Annotations>, data: &[u8], templating: &str) -> Result<(), InvalidSpec> {
    let annotations = annotations.cloned().unwrap_or_default();
    check_name(kind, &annotations.name)?;
    check_labels("label", annotations.labels.keys())?;
    if data.is_empty() || data.len() > MAX_DATA_BYTES {
        return Err(invalid(format!(
            "data: a {kind} holds 1 byte to {} KB, got {} bytes",
            MAX_DATA_BYTES / 1024,
            data.len()
        )));
    }
    if !templating.is_empty() && templating != TEMPLATE_DRIVER {
        return Err(invalid(format!("template driver: only {TEMPLATE_DRIVER:?} is supported, got {templating:?}")));
    }
    if templating == TEMPLATE_DRIVER {
        let text = std::str::from_utf8(data).map_err(|_| invalid("data: a template must be UTF-8 text"))?;
        crate::template::check(text, true).map_err(|e| invalid(format!("data: template: {e}")))?;
    }
    Ok(())
}

pub fn secret_spec(spec: &SecretSpec) -> Result<(), InvalidSpec> {
    check("secret", spec.annotations.as_ref(), &spec.data, &spec.templating)
}

pub fn config_spec(spec: &ConfigSpec) -> Result<(), InvalidSpec> {
    check("config", spec.annotations.as_ref(), &spec.data, &spec.templating)
}

/// Where a task reads the secret of `r`: its target under
/// [`SECRETS_DIR`], or the absolute target itself.
pub fn secret_path(r: &FileReference) -> String {
    let target = if r.target.is_empty() { &r.name } else { &r.target };
    if target.starts_with('/') { target.clone() } else { format!("{SECRETS_DIR}/{target}") }
}

/// Where a task reads the config of `r`: its target, relative to `/`
/// (`/<name>` when it has none).
pub fn config_path(r: &FileReference) -> String {
    let target = if r.target.is_empty() { &r.name } else { &r.target };
    if target.starts_with('/') { target.clone() } else { format!("/{target}") }
}

/// Checks a container's secret and config references (the manager has
/// resolved their sources): a sane target, a mode of permission bits, no
/// two files at one path. Fills in the default mode.
pub fn references(c: &mut ContainerSpec) -> Result<(), InvalidSpec> {
    let mut paths: HashMap<String, String> = HashMap::new();
    for (kind, refs) in [("secret", &mut c.secrets), ("config", &mut c.configs)] {
        for r in refs.iter_mut() {
            let mode = *r.mode.get_or_insert(DEFAULT_MODE);
            if mode > 0o777 {
                return Err(invalid(format!(
                    "{kind} {}: mode: expected permission bits up to 0777 (octal), got {mode:o}",
                    r.name
                )));
            }
            let path = if kind == "secret" { secret_path(r) } else { config_path(r) };
            check_target(kind, &r.name, &path)?;
            let what = format!("{kind} {}", r.name);
            if let Some(other) = paths.insert(path.clone(), what.clone()) {
                return Err(invalid(format!("{other} and {what} both target {path}: give one another target")));
            }
        }
    }
    Ok(())
}

/// A file path a task can be given: absolute, naming a file (not `/`),
/// without `.` or `..` components or NUL bytes.
fn check_target(kind: &str, name: &str, path: &str) -> Result<(), InvalidSpec> {
    let bad = path.contains('\0')
        || path.ends_with('/')
        || path.split('/').skip(1).any(|part| part.is_empty() || part == "." || part == "..");
    if bad {
        return Err(invalid(format!(
            "{kind} {name}: target: expected a file path without '.' or '..' parts, got {path:?}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str, data: &[u8]) -> SecretSpec {
        SecretSpec {
            annotations: Some(Annotations { name: name.into(), ..Default::default() }),
            data: data.to_vec(),
            templating: String::new(),
        }
    }

    #[test]
    fn objects_need_a_name_data_within_the_limit_and_swarms_driver() {
        assert!(secret_spec(&spec("db.password-1", b"x")).is_ok());
        let err = |s: &SecretSpec| secret_spec(s).unwrap_err().to_string();
        assert_eq!(err(&spec("", b"x")), "name: a secret needs a name");
        assert!(err(&spec("a b", b"x")).starts_with("name: \"a b\" is not valid"));
        assert!(err(&spec(".a", b"x")).contains("is not valid"));
        assert_eq!(err(&spec("a", b"")), "data: a secret holds 1 byte to 500 KB, got 0 bytes");
        assert!(secret_spec(&spec("a", &vec![0; MAX_DATA_BYTES])).is_ok());
        assert!(err(&spec("a", &vec![0; MAX_DATA_BYTES + 1])).contains("got 512001 bytes"));
        let mut t = spec("a", b"x");
        t.templating = "jinja".into();
        assert_eq!(err(&t), "template driver: only \"golang\" is supported, got \"jinja\"");
    }

    fn reference(name: &str, target: &str) -> FileReference {
        FileReference { id: format!("id-{name}"), name: name.into(), target: target.into(), ..Default::default() }
    }

    #[test]
    fn paths_follow_swarm() {
        assert_eq!(secret_path(&reference("db", "")), "/run/secrets/db");
        assert_eq!(secret_path(&reference("db", "pw")), "/run/secrets/pw");
        assert_eq!(secret_path(&reference("db", "/etc/pw")), "/etc/pw");
        assert_eq!(config_path(&reference("conf", "")), "/conf");
        assert_eq!(config_path(&reference("conf", "etc/app.conf")), "/etc/app.conf");
    }

    #[test]
    fn references_are_checked_and_get_the_default_mode() {
        let mut c = ContainerSpec {
            secrets: vec![reference("db", "")],
            configs: vec![reference("conf", "/etc/x")],
            ..Default::default()
        };
        references(&mut c).unwrap();
        assert_eq!(c.secrets[0].mode, Some(0o444));
        c.configs[0].target = "/run/secrets/db".into();
        assert_eq!(
            references(&mut c).unwrap_err().to_string(),
            "secret db and config conf both target /run/secrets/db: give one another target"
        );
        c.configs[0].target = "x".into();
        c.configs[0].mode = Some(0o1000);
        assert!(references(&mut c).unwrap_err().to_string().contains("mode: expected permission bits up to 0777"));
        c.configs[0].mode = None;
        for bad in ["../etc/passwd", "a/", "/", "a//b", "./a"] {
            c.secrets[0].target = bad.into();
            assert!(references(&mut c).unwrap_err().to_string().contains("target: expected a file path"), "{bad}");
        }
    }
}
