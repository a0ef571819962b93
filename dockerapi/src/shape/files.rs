//! Secrets and configs in Docker's shape (`docker secret inspect`,
//! `docker config inspect`): a config's data base64, a secret's never.

use base64::Engine;
use serde_json::{Value, json};
use shoal_proto::{Annotations, Config, Meta, Secret};

use super::{Obj, labels, meta};

/// A secret or a config, as the CLI and the API show them.
#[derive(Clone, Debug, Default)]
pub struct File {
    pub id: String,
    pub meta: Meta,
    pub annotations: Annotations,
    pub templating: String,
    /// A config's data; never a secret's.
    pub data: Option<Vec<u8>>,
}

impl From<&Secret> for File {
    fn from(s: &Secret) -> File {
        let spec = s.spec.clone().unwrap_or_default();
        File {
            id: s.id.clone(),
            meta: s.meta.unwrap_or_default(),
            annotations: spec.annotations.unwrap_or_default(),
            templating: spec.templating,
            data: None,
        }
    }
}

impl From<&Config> for File {
    fn from(c: &Config) -> File {
        let spec = c.spec.clone().unwrap_or_default();
        File {
            id: c.id.clone(),
            meta: c.meta.unwrap_or_default(),
            annotations: spec.annotations.unwrap_or_default(),
            templating: spec.templating,
            data: Some(spec.data),
        }
    }
}

impl File {
    /// Docker's shape: name, labels, templating, and a config's data.
    pub fn shown(&self) -> Value {
        let spec = Obj::new()
            .always("Name", self.annotations.name.as_str())
            .always("Labels", labels(&self.annotations.labels))
            .put("Data", self.data.as_ref().map(|d| base64::engine::general_purpose::STANDARD.encode(d)))
            .put("Templating", (!self.templating.is_empty()).then(|| json!({ "Name": self.templating })))
            .done();
        meta(Obj::new(), &self.id, Some(&self.meta)).always("Spec", spec).done()
    }
}

/// A secret: its name, labels and templating, never its data.
pub fn secret(s: &Secret) -> Value {
    File::from(s).shown()
}

/// A config, its data included.
pub fn config(c: &Config) -> Value {
    File::from(c).shown()
}

#[cfg(test)]
mod tests {
    use shoal_proto::{ConfigSpec, SecretSpec};

    use super::*;

    fn annotations(name: &str) -> Option<Annotations> {
        Some(Annotations { name: name.into(), labels: [("a".to_string(), "b".to_string())].into() })
    }

    #[test]
    fn a_configs_data_shows_and_a_secrets_never() {
        let spec = ConfigSpec { annotations: annotations("conf"), data: b"hello".to_vec(), templating: String::new() };
        let c = Config { id: "c1".into(), spec: Some(spec), ..Default::default() };
        assert_eq!(config(&c)["Spec"]["Data"], "aGVsbG8=");
        let spec = SecretSpec { annotations: annotations("pw"), data: b"hush".to_vec(), templating: "golang".into() };
        let s = Secret { id: "s1".into(), spec: Some(spec), ..Default::default() };
        let shown = secret(&s);
        assert_eq!(shown["Spec"], json!({ "Name": "pw", "Labels": { "a": "b" }, "Templating": { "Name": "golang" } }));
        assert_eq!(shown["ID"], "s1");
        assert!(shown["CreatedAt"].is_string() && shown["Version"]["Index"] == 0);
    }
}
