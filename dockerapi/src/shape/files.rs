//! Secrets and configs in Docker's shape (`docker secret inspect`,
//! `docker config inspect`): a config's data base64, a secret's never.

use base64::Engine;
use serde_json::{Value, json};
use shoal_proto::{Annotations, Config, Meta, Secret};

use super::{Obj, labels, meta};

/// A secret: its name, labels and templating, never its data.
pub fn secret(s: &Secret) -> Value {
    let spec = s.spec.clone().unwrap_or_default();
    file(&s.id, s.meta.as_ref(), spec.annotations.unwrap_or_default(), &spec.templating, None)
}

/// A config, its data included.
pub fn config(c: &Config) -> Value {
    let spec = c.spec.clone().unwrap_or_default();
    file(&c.id, c.meta.as_ref(), spec.annotations.unwrap_or_default(), &spec.templating, Some(&spec.data))
}

fn file(id: &str, m: Option<&Meta>, annotations: Annotations, templating: &str, data: Option<&[u8]>) -> Value {
    let spec = Obj::new()
        .always("Name", annotations.name)
        .always("Labels", labels(&annotations.labels))
        .put("Data", data.map(|d| base64::engine::general_purpose::STANDARD.encode(d)))
        .put("Templating", (!templating.is_empty()).then(|| json!({ "Name": templating })))
        .done();
    meta(Obj::new(), id, m).always("Spec", spec).done()
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
