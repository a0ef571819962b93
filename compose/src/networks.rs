//! A stack's networks, as `docker stack deploy` makes them: each network a
//! service uses is `STACK_KEY` (or the `name:` it declares), a service
//! that names none joins `STACK_default`; an `external` network must
//! exist already and keeps its own name. Only networks some service uses
//! are made.

use std::collections::BTreeMap;

use serde_json::Value;
use shoal_proto::{Annotations, NetworkAttachmentConfig, NetworkSpec};

use super::convert::NAMESPACE_LABEL;
use super::declared::Declared;
use super::model::{Compose, Service};

/// The network a service joins when it names none.
pub const DEFAULT: &str = "default";

/// One network of the stack, under the name it has in the cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct StackNetwork {
    /// The key in the file (`networks: { KEY: ... }`).
    pub key: String,
    pub name: String,
    /// Must exist already; never made nor removed by the stack.
    pub external: bool,
    /// What to create it with (not external).
    pub spec: NetworkSpec,
}

/// The networks the stack's services use, each once, with what of their
/// declarations could not be honoured.
pub fn plan(stack: &str, compose: &Compose) -> Result<(Vec<StackNetwork>, Vec<String>), String> {
    let mut used: BTreeMap<&str, ()> = BTreeMap::new();
    for (name, svc) in &compose.services {
        if svc.networks.is_empty() {
            used.insert(DEFAULT, ());
        }
        for key in svc.networks.keys() {
            if key != DEFAULT && !compose.networks.contains_key(key) {
                return Err(format!("services.{name}.networks: network {key:?} is not declared under networks:"));
            }
            used.insert(key, ());
        }
    }
    let mut warnings = Vec::new();
    let mut networks = Vec::new();
    for key in used.keys() {
        let declared = compose.networks.get(*key).cloned().flatten().unwrap_or(Value::Null);
        networks.push(network(stack, key, &declared, &mut warnings)?);
    }
    Ok((networks, warnings))
}

fn network(stack: &str, key: &str, declared: &Value, warnings: &mut Vec<String>) -> Result<StackNetwork, String> {
    let d = Declared::new("networks", key, declared);
    let at = d.at.clone();
    let (external, declared_name) = d.external()?;
    if external {
        let name = declared_name.unwrap_or_else(|| key.to_string());
        return Ok(StackNetwork { key: key.into(), name, external, spec: NetworkSpec::default() });
    }
    if let Some(driver) = d.text("driver")?
        && driver != "overlay"
    {
        return Err(format!("{at}.driver: only \"overlay\" networks can be used in a stack, got {driver:?}"));
    }
    for ignored in ["driver_opts", "enable_ipv6"] {
        if d.field(ignored).is_some() {
            warnings.push(format!("{at}.{ignored}: not supported, ignored"));
        }
    }
    if let Some(driver) = declared.get("ipam").and_then(|i| i.get("driver")).and_then(Value::as_str)
        && driver != "default"
    {
        warnings.push(format!("{at}.ipam.driver: {driver:?} not supported, the cluster's own addresses are used"));
    }
    let (subnet, gateway) = ipam(declared, &at)?;
    let mut labels = d.map("labels")?;
    labels.insert(NAMESPACE_LABEL.into(), stack.into());
    let name = declared_name.unwrap_or_else(|| format!("{stack}_{key}"));
    let spec = NetworkSpec {
        annotations: Some(Annotations { name: name.clone(), labels: labels.into_iter().collect() }),
        driver: "overlay".into(),
        subnet,
        gateway,
        attachable: d.flag("attachable")?,
        ingress: false,
        internal: d.flag("internal")?,
    };
    Ok(StackNetwork { key: key.into(), name, external, spec })
}

/// `ipam: { config: [{ subnet, gateway }] }`: the first entry.
fn ipam(declared: &Value, at: &str) -> Result<(String, String), String> {
    let Some(config) = declared.get("ipam").and_then(|i| i.get("config")).and_then(Value::as_array) else {
        return Ok((String::new(), String::new()));
    };
    if config.len() > 1 {
        return Err(format!("{at}.ipam.config: one subnet per network is supported, got {}", config.len()));
    }
    let get = |f: &str| config.first().and_then(|c| c.get(f)).and_then(Value::as_str).unwrap_or_default().to_string();
    Ok((get("subnet"), get("gateway")))
}

/// The service's attachments, each to its network's name in the
/// cluster (in name order), with the aliases written and, as docker adds
/// it, the service's own name; per-attachment `driver_opts` are warned about
/// (shoal's overlay takes none).
pub fn attachments(
    service: &str,
    svc: &Service,
    networks: &[StackNetwork],
    warnings: &mut Vec<String>,
) -> Vec<NetworkAttachmentConfig> {
    let name = |key: &str| networks.iter().find(|n| n.key == key).map_or(key.to_string(), |n| n.name.clone());
    if svc.networks.is_empty() {
        return vec![NetworkAttachmentConfig { target: name(DEFAULT), aliases: vec![service.to_string()] }];
    }
    let mut attachments: Vec<NetworkAttachmentConfig> = svc
        .networks
        .iter()
        .map(|(key, v)| {
            let written = v.as_ref().and_then(|v| v.get("aliases")).and_then(Value::as_array);
            let mut aliases: Vec<String> =
                written.into_iter().flatten().filter_map(Value::as_str).map(String::from).collect();
            aliases.push(service.to_string());
            if v.as_ref().and_then(|v| v.get("driver_opts")).is_some_and(|o| !o.is_null()) {
                warnings.push(format!("services.{service}.networks.{key}.driver_opts: not supported, ignored"));
            }
            NetworkAttachmentConfig { target: name(key), aliases }
        })
        .collect();
    // By network name, as docker's loader orders them.
    attachments.sort_by(|a, b| a.target.cmp(&b.target));
    attachments
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compose(yaml: &str) -> Compose {
        Compose::from_tree(serde_saphyr::from_str(yaml).unwrap()).unwrap()
    }

    #[test]
    fn used_networks_get_stack_names_and_default_is_made_when_needed() {
        let c = compose(
            r#"
services:
  web: { image: a, networks: { front: { aliases: [www] }, back: } }
  db: { image: a, networks: [back] }
  job: { image: a }
networks:
  front: { attachable: true, labels: [tier=front], ipam: { config: [{ subnet: 10.9.0.0/24 }] } }
  back: { driver: overlay, driver_opts: { encrypted: "" }, internal: true }
  shared: { external: true, name: corp }
  unused: {}
"#,
        );
        let (nets, warnings) = plan("demo", &c).unwrap();
        let names: Vec<(&str, &str, bool)> =
            nets.iter().map(|n| (n.key.as_str(), n.name.as_str(), n.external)).collect();
        assert_eq!(
            names,
            [("back", "demo_back", false), ("default", "demo_default", false), ("front", "demo_front", false)]
        );
        assert_eq!(warnings, ["networks.back.driver_opts: not supported, ignored"]);
        assert!(nets[0].spec.internal && !nets[2].spec.internal);
        let front = &nets[2].spec;
        assert!(front.attachable);
        assert_eq!(front.subnet, "10.9.0.0/24");
        let labels = &front.annotations.as_ref().unwrap().labels;
        assert_eq!(labels.get("tier").map(String::as_str), Some("front"));
        assert_eq!(labels.get(NAMESPACE_LABEL).map(String::as_str), Some("demo"));

        let mut warnings = Vec::new();
        let web = attachments("web", &c.services["web"], &nets, &mut warnings);
        let web: Vec<(&str, Vec<String>)> = web.iter().map(|a| (a.target.as_str(), a.aliases.clone())).collect();
        let names = |n: &[&str]| n.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(web, [("demo_back", names(&["web"])), ("demo_front", names(&["www", "web"]))]);
        let job = &attachments("job", &c.services["job"], &nets, &mut warnings)[0];
        assert_eq!((job.target.as_str(), job.aliases.clone()), ("demo_default", names(&["job"])));
        assert!(warnings.is_empty());
    }

    #[test]
    fn external_networks_keep_their_names_and_errors_name_the_key() {
        let c = compose(
            "services: { a: { image: a, networks: [shared, old] } }\nnetworks: { shared: { external: true, name: corp }, old: { external: { name: legacy } } }",
        );
        let (nets, _) = plan("demo", &c).unwrap();
        let names: Vec<(&str, bool)> = nets.iter().map(|n| (n.name.as_str(), n.external)).collect();
        assert_eq!(names, [("legacy", true), ("corp", true)]);

        let err = |yaml: &str| plan("demo", &compose(yaml)).unwrap_err();
        assert_eq!(
            err("services: { a: { image: a, networks: [nope] } }"),
            "services.a.networks: network \"nope\" is not declared under networks:"
        );
        assert_eq!(
            err("services: { a: { image: a, networks: [net] } }\nnetworks: { net: { driver: bridge } }"),
            "networks.net.driver: only \"overlay\" networks can be used in a stack, got \"bridge\""
        );
        assert!(
            err("services: { a: { image: a, networks: [net] } }\nnetworks: { net: { attachable: 3 } }")
                .starts_with("networks.net.attachable: expected true or false")
        );
    }
}
