//! `service ls --filter`: Docker's keys, `id=` and `name=` (prefixes, as
//! swarmkit matches them), `label=KEY` or `label=KEY=VALUE`, and `mode=`
//! (`replicated`, `global`, `replicated-job`, `global-job`). Values of one
//! key are alternatives; different keys must all match.

use shoal_proto::Service;
use shoal_proto::service_spec::Mode;

/// One `--filter KEY=VALUE`, checked.
pub fn parse(text: &str) -> Result<(String, String), String> {
    let (key, value) = text.split_once('=').ok_or_else(|| format!("expected KEY=VALUE, got {text:?}"))?;
    match key {
        "id" | "name" | "label" => {}
        "mode" if MODES.contains(&value) => {}
        "mode" => return Err(format!("mode: expected one of {}, got {value:?}", MODES.join(", "))),
        _ => return Err(format!("unknown filter {key:?} (id, name, label, mode)")),
    }
    Ok((key.to_string(), value.to_string()))
}

const MODES: [&str; 4] = ["replicated", "global", "replicated-job", "global-job"];

/// Whether `service` passes every filter.
pub fn matches(filters: &[(String, String)], service: &Service) -> bool {
    let passes = |key: &str, value: &str| match key {
        "id" => service.id.starts_with(value),
        "name" => service.name().starts_with(value),
        "label" => {
            let labels = service.spec.as_ref().and_then(|s| s.annotations.as_ref()).map(|a| &a.labels);
            let (k, v) = value.split_once('=').map_or((value, None), |(k, v)| (k, Some(v)));
            labels.and_then(|l| l.get(k)).is_some_and(|found| v.is_none_or(|v| v == found))
        }
        _ => mode(service) == value,
    };
    filters.iter().all(|(key, _)| filters.iter().filter(|(k, _)| k == key).any(|(k, v)| passes(k, v)))
}

fn mode(service: &Service) -> &'static str {
    match service.spec.as_ref().and_then(|s| s.mode.as_ref()) {
        Some(Mode::Global(_)) => "global",
        Some(Mode::ReplicatedJob(_)) => "replicated-job",
        Some(Mode::GlobalJob(_)) => "global-job",
        _ => "replicated",
    }
}

#[cfg(test)]
mod tests {
    use shoal_proto::{Annotations, ServiceSpec};

    use super::*;

    fn service(id: &str, name: &str, label: (&str, &str)) -> Service {
        let annotations = Annotations { name: name.into(), labels: [(label.0.into(), label.1.into())].into() };
        Service {
            id: id.into(),
            spec: Some(ServiceSpec { annotations: Some(annotations), ..Default::default() }),
            ..Default::default()
        }
    }

    fn filters(texts: &[&str]) -> Vec<(String, String)> {
        texts.iter().map(|t| parse(t).unwrap()).collect()
    }

    #[test]
    fn keys_and_together_values_or() {
        let web = service("abc123", "web", ("tier", "front"));
        assert!(matches(&filters(&[]), &web));
        assert!(matches(&filters(&["name=we", "id=abc"]), &web));
        assert!(matches(&filters(&["name=db", "name=web"]), &web), "one name or the other");
        assert!(!matches(&filters(&["name=web", "mode=global"]), &web));
        assert!(matches(&filters(&["label=tier", "label=tier=front", "mode=replicated"]), &web));
        assert!(!matches(&filters(&["label=tier=back"]), &web));
        assert_eq!(parse("color=red").unwrap_err(), "unknown filter \"color\" (id, name, label, mode)");
        assert!(parse("mode=sometimes").unwrap_err().starts_with("mode: expected one of"));
        assert!(parse("name").is_err());
    }
}
