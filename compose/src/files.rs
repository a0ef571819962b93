//! A stack's secrets and configs, as `docker stack deploy` makes them:
//! each top-level declaration is `STACK_KEY` in the cluster (or the
//! `name:` it declares), its data read from `file:` (relative to the
//! compose file); an `external` one must exist already and keeps its own
//! name. A service's reference (short `KEY`, or long `source`, `target`,
//! `uid`, `gid`, `mode`) names the cluster object, its target by default
//! the key (a secret, under /run/secrets) or `/KEY` (a config).

use std::collections::HashMap;
use std::path::Path;

use serde_json::Value;
use shoal_proto::{Annotations, ConfigSpec, FileReference, SecretSpec};

use super::convert::NAMESPACE_LABEL;
use super::declared::Declared;
use super::model::{Compose, FileRef};

/// Secrets or configs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Secret,
    Config,
}

impl Kind {
    /// The compose section.
    pub fn section(self) -> &'static str {
        match self {
            Kind::Secret => "secrets",
            Kind::Config => "configs",
        }
    }

    /// One of them, as messages name it.
    pub fn noun(self) -> &'static str {
        match self {
            Kind::Secret => "secret",
            Kind::Config => "config",
        }
    }
}

/// One declared secret or config, under the name it has in the cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct StackFile {
    pub kind: Kind,
    /// The key in the file.
    pub key: String,
    pub name: String,
    /// Must exist already; never made nor removed by the stack.
    pub external: bool,
    pub data: Vec<u8>,
    pub labels: HashMap<String, String>,
    pub templating: String,
}

impl StackFile {
    fn annotations(&self) -> Option<Annotations> {
        Some(Annotations { name: self.name.clone(), labels: self.labels.clone() })
    }

    /// What to create it with, as a secret.
    pub fn secret_spec(&self) -> SecretSpec {
        SecretSpec { annotations: self.annotations(), data: self.data.clone(), templating: self.templating.clone() }
    }

    /// What to create it with, as a config.
    pub fn config_spec(&self) -> ConfigSpec {
        ConfigSpec { annotations: self.annotations(), data: self.data.clone(), templating: self.templating.clone() }
    }
}

/// Every secret and config the file declares (`base`: the compose file's
/// directory), read.
pub fn plan(stack: &str, compose: &Compose, base: &Path) -> Result<Vec<StackFile>, String> {
    let mut files = Vec::new();
    for (kind, declared) in [(Kind::Secret, &compose.secrets), (Kind::Config, &compose.configs)] {
        for (key, value) in declared {
            let value = value.clone().unwrap_or(Value::Null);
            files.push(declaration(stack, kind, key, &value, base)?);
        }
    }
    Ok(files)
}

fn declaration(stack: &str, kind: Kind, key: &str, value: &Value, base: &Path) -> Result<StackFile, String> {
    let d = Declared::new(kind.section(), key, value);
    let (external, declared_name) = d.external()?;
    let mut file = StackFile {
        kind,
        key: key.to_string(),
        name: declared_name.clone().unwrap_or_else(|| format!("{stack}_{key}")),
        external,
        data: Vec::new(),
        labels: d.map("labels")?,
        templating: d.text("template_driver")?.unwrap_or_default(),
    };
    if external {
        file.name = declared_name.unwrap_or_else(|| key.to_string());
        return Ok(file);
    }
    for unsupported in ["environment", "content", "driver"] {
        if d.field(unsupported).is_some() {
            return Err(format!("{}.{unsupported}: not supported (give a file:)", d.at));
        }
    }
    let path = d.text("file")?.ok_or_else(|| format!("{}.file: required (or external: true)", d.at))?;
    let path = base.join(path);
    file.data = std::fs::read(&path).map_err(|e| format!("{}.file: cannot read {}: {e}", d.at, path.display()))?;
    file.labels.insert(NAMESPACE_LABEL.into(), stack.into());
    Ok(file)
}

/// The references of service `service` to the stack's `files`.
pub fn references(
    service: &str,
    kind: Kind,
    refs: &[FileRef],
    files: &[StackFile],
) -> Result<Vec<FileReference>, String> {
    let at = format!("services.{service}.{}", kind.section());
    let mut references = refs
        .iter()
        .map(|r| {
            let file = files.iter().find(|f| f.kind == kind && f.key == r.source).ok_or_else(|| {
                format!("{at}: {:?} is not declared under the top-level {}:", r.source, kind.section())
            })?;
            let number = |field: &str, v: &Option<String>| match v {
                None => Ok(0),
                Some(v) => v.parse::<u32>().map_err(|_| format!("{at}.{field}: expected a number, got {v:?}")),
            };
            let target = r.target.clone().unwrap_or_else(|| match kind {
                Kind::Secret => r.source.clone(),
                Kind::Config => format!("/{}", r.source),
            });
            Ok(FileReference {
                id: file.name.clone(),
                name: file.name.clone(),
                target,
                uid: number("uid", &r.uid)?,
                gid: number("gid", &r.gid)?,
                mode: r.mode.as_ref().map(|m| mode(&at, m)).transpose()?,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    // By name, as docker's loader orders them: the same file in another
    // order is the same spec, and restarts nothing.
    references.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(references)
}

/// A mode as compose means it: a number (`0440` is octal already, as
/// the loader reads YAML: 288), or octal text (`"0440"`).
fn mode(at: &str, value: &Value) -> Result<u32, String> {
    let mode = match value {
        Value::Number(n) => n.as_u64().and_then(|m| u32::try_from(m).ok()),
        Value::String(s) => u32::from_str_radix(s.trim_start_matches("0o"), 8).ok(),
        _ => None,
    };
    mode.filter(|m| *m <= 0o777)
        .ok_or_else(|| format!("{at}.mode: expected permission bits like 0440 (octal), got {value}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compose(yaml: &str) -> Compose {
        Compose::from_tree(crate::load::parse(yaml, "test.yml").unwrap()).unwrap()
    }

    #[test]
    fn declarations_are_named_for_the_stack_and_read_from_their_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("pw.txt"), "hunter2").unwrap();
        let c = compose(
            "services: {}\nsecrets:\n  pw: { file: pw.txt, labels: { a: b } }\n  old: { external: true }\n  named: { external: true, name: shared }\nconfigs:\n  conf: { file: pw.txt, name: app_conf, template_driver: golang }\n",
        );
        let files = plan("st", &c, dir.path()).unwrap();
        let find = |key: &str| files.iter().find(|f| f.key == key).unwrap();
        assert_eq!((find("pw").name.as_str(), find("pw").data.as_slice()), ("st_pw", b"hunter2".as_slice()));
        assert_eq!(find("pw").labels.get("a").map(String::as_str), Some("b"));
        assert_eq!(find("pw").labels.get(NAMESPACE_LABEL).map(String::as_str), Some("st"));
        assert_eq!((find("old").name.as_str(), find("old").external), ("old", true));
        assert_eq!(find("named").name, "shared");
        assert_eq!((find("conf").name.as_str(), find("conf").templating.as_str()), ("app_conf", "golang"));
        let missing = compose("services: {}\nsecrets:\n  x: { file: nope.txt }\n");
        assert!(plan("st", &missing, dir.path()).unwrap_err().starts_with("secrets.x.file: cannot read"));
        let no_file = compose("services: {}\nconfigs:\n  x: { labels: { a: b } }\n");
        assert_eq!(plan("st", &no_file, dir.path()).unwrap_err(), "configs.x.file: required (or external: true)");
    }

    #[test]
    fn references_name_the_cluster_objects_with_swarms_defaults() {
        let files = vec![
            StackFile {
                kind: Kind::Secret,
                key: "pw".into(),
                name: "st_pw".into(),
                external: false,
                data: vec![],
                labels: HashMap::new(),
                templating: String::new(),
            },
            StackFile {
                kind: Kind::Config,
                key: "conf".into(),
                name: "st_conf".into(),
                external: false,
                data: vec![],
                labels: HashMap::new(),
                templating: String::new(),
            },
        ];
        let c = compose(
            "services:\n  web:\n    image: a\n    secrets: [pw, { source: pw, target: /etc/pw, uid: '7', mode: 0400 }]\n    configs: [conf, { source: conf, target: /etc/c, mode: 0440 }]\n",
        );
        let web = &c.services["web"];
        let secrets = references("web", Kind::Secret, &web.secrets, &files).unwrap();
        assert_eq!((secrets[0].name.as_str(), secrets[0].target.as_str(), secrets[0].mode), ("st_pw", "pw", None));
        assert_eq!((secrets[1].target.as_str(), secrets[1].uid, secrets[1].mode), ("/etc/pw", 7, Some(0o400)));
        let configs = references("web", Kind::Config, &web.configs, &files).unwrap();
        assert_eq!((configs[0].target.as_str(), configs[1].mode), ("/conf", Some(0o440)));
        let bad = compose("services:\n  web: { image: a, secrets: [{ source: pw, mode: 01777 }] }\n");
        let err = references("web", Kind::Secret, &bad.services["web"].secrets, &files).unwrap_err();
        assert_eq!(err, "services.web.secrets.mode: expected permission bits like 0440 (octal), got 1023");
        let text = compose("services:\n  web: { image: a, secrets: [{ source: pw, mode: \"0400\" }] }\n");
        assert_eq!(
            references("web", Kind::Secret, &text.services["web"].secrets, &files).unwrap()[0].mode,
            Some(0o400)
        );
        let undeclared = compose("services:\n  web: { image: a, configs: [nope] }\n");
        let err = references("web", Kind::Config, &undeclared.services["web"].configs, &files).unwrap_err();
        assert_eq!(err, "services.web.configs: \"nope\" is not declared under the top-level configs:");
    }
}
