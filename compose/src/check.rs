//! Service keys a swarm does not honour: some are ignored with one
//! warning per service naming them (as `docker stack deploy` warns,
//! "Ignoring unsupported options"), others are refused, naming service
//! and key and what to write instead (compose v2 keys that Docker's v3
//! schema rejects).

use serde_json::Value;

/// Ignored by a swarm (Docker's unsupported and deprecated properties).
const IGNORED: [&str; 17] = [
    "build",
    "cgroup_parent",
    "cgroupns_mode",
    "container_name",
    "devices",
    "domainname",
    "expose",
    "external_links",
    "ipc",
    "links",
    "mac_address",
    "network_mode",
    "pid",
    "privileged",
    "security_opt",
    "shm_size",
    "userns_mode",
];

/// Refused, with what to use instead.
const REFUSED: [(&str, &str); 17] = [
    ("blkio_config", "not supported in a swarm"),
    ("cpu_count", "use deploy.resources.limits.cpus"),
    ("cpu_percent", "use deploy.resources.limits.cpus"),
    ("cpu_period", "use deploy.resources.limits.cpus"),
    ("cpu_quota", "use deploy.resources.limits.cpus"),
    ("cpu_shares", "use deploy.resources.reservations.cpus"),
    ("cpus", "use deploy.resources.limits.cpus"),
    ("cpuset", "not supported in a swarm"),
    ("extends", "merge files with several -c instead"),
    ("mem_limit", "use deploy.resources.limits.memory"),
    ("mem_reservation", "use deploy.resources.reservations.memory"),
    ("mem_swappiness", "not supported in a swarm"),
    ("memswap_limit", "not supported in a swarm"),
    ("oom_kill_disable", "not supported in a swarm"),
    ("scale", "use deploy.replicas"),
    ("volume_driver", "declare the volume's driver under the top-level volumes"),
    ("volumes_from", "declare the volumes on each service"),
];

/// The warnings for `tree`'s services, or every refused key at once.
pub fn services(tree: &Value) -> Result<Vec<String>, String> {
    let mut warnings = Vec::new();
    let mut errors = Vec::new();
    let Some(services) = tree.get("services").and_then(Value::as_object) else { return Ok(warnings) };
    for (name, service) in services {
        let Some(keys) = service.as_object() else { continue };
        let ignored: Vec<&str> = keys.keys().map(String::as_str).filter(|k| IGNORED.contains(k)).collect();
        if !ignored.is_empty() {
            warnings.push(format!("services.{name}: ignoring unsupported options: {}", ignored.join(", ")));
        }
        warnings.extend(relabelled(name, keys.get("volumes")));
        for key in keys.keys() {
            if let Some((_, instead)) = REFUSED.iter().find(|(k, _)| k == key) {
                errors.push(format!("services.{name}: {key} is not allowed in a stack ({instead})"));
            }
        }
    }
    if errors.is_empty() { Ok(warnings) } else { Err(errors.join("\n")) }
}

/// A warning for each short volume asking for SELinux relabelling
/// (`:z`, `:Z`): a swarm's mounts cannot ask for it (docker drops it
/// without a word).
fn relabelled(service: &str, volumes: Option<&Value>) -> Vec<String> {
    let specs = volumes.and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str);
    specs
        .filter_map(|spec| {
            let options = spec.splitn(3, ':').nth(2)?;
            let option = options.split(',').find(|o| *o == "z" || *o == "Z")?;
            Some(format!("services.{service}.volumes: {spec}: option {option} (SELinux relabelling) is ignored: a swarm's mounts cannot ask for it"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ignored_keys_warn_per_service_and_refused_ones_fail() {
        let tree = json!({ "services": {
            "web": { "image": "a", "build": ".", "container_name": "w", "restart": "always" },
            "db": { "image": "b" },
        } });
        assert_eq!(services(&tree).unwrap(), vec!["services.web: ignoring unsupported options: build, container_name"]);
        let tree = json!({ "services": { "web": { "image": "a", "volumes": ["/a:/a:ro,z", "/b:/b", "v:/v:Z"] } } });
        assert_eq!(
            services(&tree).unwrap(),
            vec![
                "services.web.volumes: /a:/a:ro,z: option z (SELinux relabelling) is ignored: a swarm's mounts cannot ask for it",
                "services.web.volumes: v:/v:Z: option Z (SELinux relabelling) is ignored: a swarm's mounts cannot ask for it",
            ]
        );
        let tree = json!({ "services": { "web": { "image": "a", "cpu_quota": 5, "extends": { "service": "x" } } } });
        assert_eq!(
            services(&tree).unwrap_err(),
            "services.web: cpu_quota is not allowed in a stack (use deploy.resources.limits.cpus)\n\
             services.web: extends is not allowed in a stack (merge files with several -c instead)"
        );
    }
}
