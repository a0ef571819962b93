//! Docker's JSON into shoal's objects: the specs the docker CLI and
//! Swarm tools send (`POST /services/create`, `/services/{id}/update`).
//! Every field Docker defines is read; one shoal cannot honour is refused
//! when set, naming it, never dropped; a field Docker does not define is
//! refused (serde's `deny_unknown_fields`); what `shoal stack deploy`
//! ignores with a warning (per-attachment driver options) is ignored here
//! with a warning too. The result is the same
//! `ServiceSpec` `shoal service create` would make, checked afterwards by
//! the control API as any other.

mod container;
mod service;
mod task;

pub use service::service_spec;

/// A spec shoal cannot take, and why (the field's JSON path first).
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("{0}")]
pub struct Unsupported(pub String);

/// Refuses `field` when `set`: Docker has it, shoal does not.
fn refuse_if(set: bool, field: &str) -> Result<(), Unsupported> {
    if set { Err(Unsupported(format!("{field}: not supported by shoal"))) } else { Ok(()) }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use shoal_proto::service_spec::Mode;
    use shoal_proto::*;

    use super::*;
    use crate::shape;

    /// A spec with most of what Docker can say, checked (defaults filled).
    fn rich() -> ServiceSpec {
        let file = |id: &str, target: &str| FileReference {
            id: id.into(),
            name: format!("{id}-name"),
            target: target.into(),
            uid: 1000,
            gid: 1000,
            mode: Some(0o400),
        };
        let container = ContainerSpec {
            image: "nginx:1.27".into(),
            args: vec!["-g".into(), "daemon off;".into()],
            command: vec!["nginx".into()],
            env: vec!["A=1".into()],
            dir: "/srv".into(),
            user: "www".into(),
            labels: [("c".to_string(), "d".to_string())].into(),
            stop_signal: "SIGQUIT".into(),
            stop_grace_period_ns: Some(3_000_000_000),
            hostname: "web-{{.Task.Slot}}".into(),
            healthcheck: Some(HealthConfig {
                test: vec!["CMD".into(), "true".into()],
                interval_ns: 1_000_000_000,
                timeout_ns: 2_000_000_000,
                retries: 3,
                start_period_ns: 4_000_000_000,
                start_interval_ns: 0,
            }),
            mounts: vec![
                Mount {
                    r#type: MountType::Volume as i32,
                    source: "data".into(),
                    target: "/data".into(),
                    read_only: true,
                    volume_options: Some(VolumeOptions { no_copy: true, driver: "local".into(), ..Default::default() }),
                    ..Default::default()
                },
                Mount {
                    r#type: MountType::Tmpfs as i32,
                    target: "/tmp".into(),
                    tmpfs_options: Some(TmpfsOptions { size_bytes: 1 << 20, mode: 0o1777 }),
                    ..Default::default()
                },
            ],
            pids_limit: 100,
            init: Some(true),
            read_only: true,
            secrets: vec![file("s1", "db_password")],
            configs: vec![file("c1", "/etc/app.conf")],
            capability_add: vec!["CAP_NET_ADMIN".into()],
            ulimits: vec![Ulimit { name: "nofile".into(), soft: 1024, hard: 2048 }],
            hosts: vec!["10.0.0.1 db".into()],
            sysctls: [("net.core.somaxconn".to_string(), "1024".to_string())].into(),
            ..Default::default()
        };
        let task = TaskSpec {
            container: Some(container),
            restart: Some(RestartPolicy {
                condition: RestartCondition::OnFailure as i32,
                delay_ns: Some(1),
                max_attempts: 3,
                window_ns: 9,
            }),
            placement: Some(Placement {
                constraints: vec!["node.role==worker".into()],
                preferences: vec![PlacementPreference { spread_descriptor: "node.labels.zone".into() }],
                max_replicas: 2,
                platforms: vec![Platform { os: "linux".into(), architecture: "amd64".into() }],
            }),
            resources: Some(ResourceRequirements {
                limits: Some(Resources { nano_cpus: 500_000_000, memory_bytes: 1 << 26 }),
                reservations: Some(Resources { nano_cpus: 0, memory_bytes: 1 << 23 }),
            }),
            runtime: "docker".into(),
            force_update: 2,
            networks: vec![NetworkAttachmentConfig { target: "backend".into(), aliases: vec!["api".into()] }],
            log_driver: Some(LogDriver {
                name: "json-file".into(),
                options: [("max-size".to_string(), "1m".to_string())].into(),
            }),
        };
        let spec = ServiceSpec {
            annotations: Some(Annotations { name: "web".into(), labels: [("a".to_string(), "b".to_string())].into() }),
            task: Some(task),
            mode: Some(Mode::Replicated(ReplicatedService { replicas: 3 })),
            update: Some(UpdateConfig {
                parallelism: 2,
                delay_ns: 5,
                failure_action: FailureAction::Rollback as i32,
                monitor_ns: 7,
                max_failure_ratio: 0.5,
                order: UpdateOrder::StartFirst as i32,
            }),
            endpoint: Some(EndpointSpec {
                mode: EndpointMode::Vip as i32,
                ports: vec![PortConfig {
                    protocol: PortProtocol::Udp as i32,
                    target_port: 53,
                    published_port: 5353,
                    publish_mode: PublishMode::Host as i32,
                }],
            }),
            depends_on: vec![Dependency { service: "db".into(), condition: DependencyCondition::Healthy as i32 }],
            rebalance_on_join: true,
            ..Default::default()
        };
        shoal_spec::validate::service_spec(spec).expect("a valid spec")
    }

    #[test]
    fn what_inspect_shows_reads_back_the_same() {
        let spec = rich();
        let (read, warnings) = service_spec(shape::spec(Some(&spec)), None).expect("parses");
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(shoal_spec::validate::service_spec(read).unwrap(), spec);
        let mut job = rich();
        job.mode = Some(Mode::ReplicatedJob(ReplicatedJob { max_concurrent: 2, total_completions: 6 }));
        job.rebalance_on_join = false;
        job.schedule = Some(JobSchedule { cron: "@every 5m".into(), time_zone: "Europe/Paris".into(), overlap: 2 });
        let job = shoal_spec::validate::service_spec(job).unwrap();
        assert_eq!(service_spec(shape::spec(Some(&job)), None).unwrap().0, job);
    }

    #[test]
    fn what_the_docker_cli_sends_is_taken() {
        // `docker service create --name web --replicas 2 busybox sleep 1000`.
        let sent = json!({
            "Name": "web", "Labels": {},
            "TaskTemplate": {
                "ContainerSpec": {
                    "Image": "busybox:latest", "Args": ["sleep", "1000"], "Init": false,
                    "DNSConfig": {}, "Isolation": "default"
                },
                "Resources": { "Limits": {}, "Reservations": {} },
                "RestartPolicy": { "Condition": "any", "Delay": 5000000000u64, "MaxAttempts": 0 },
                "Placement": {}, "ForceUpdate": 0, "Runtime": "container"
            },
            "Mode": { "Replicated": { "Replicas": 2 } },
            "UpdateConfig": { "Parallelism": 1, "FailureAction": "pause", "Monitor": 5000000000u64, "MaxFailureRatio": 0, "Order": "stop-first" },
            "RollbackConfig": { "Parallelism": 1, "FailureAction": "pause", "Monitor": 5000000000u64, "MaxFailureRatio": 0, "Order": "stop-first" },
            "EndpointSpec": { "Mode": "vip" }
        });
        let (spec, warnings) = service_spec(sent.clone(), None).unwrap();
        assert!(warnings.is_empty());
        assert_eq!(spec.mode, Some(Mode::Replicated(ReplicatedService { replicas: 2 })));
        let task = spec.task.clone().unwrap();
        assert_eq!(task.runtime, "", "Docker's container runtime is the cluster's default");
        let container = task.container.unwrap();
        assert_eq!(container.args, ["sleep", "1000"]);
        assert_eq!((container.init, container.dns_config), (Some(false), None));

        // What the API answers for it reads back the same (the docker CLI
        // sends a spec back on every scale or update: a field that
        // changed on the way would restart the tasks).
        let stored = shoal_spec::validate::service_spec(spec.clone()).unwrap();
        let (again, _) = service_spec(shape::spec(Some(&stored)), Some(&stored)).unwrap();
        assert_eq!(shoal_spec::validate::service_spec(again).unwrap(), stored);

        // An update from the docker CLI carries none of shoal's own
        // fields: the service keeps them.
        let current = rich();
        let (updated, _) = service_spec(sent, Some(&current)).unwrap();
        assert_eq!(updated.depends_on, current.depends_on);
        assert!(updated.rebalance_on_join);
        assert_eq!(updated.task.unwrap().runtime, "docker");
    }

    #[test]
    fn what_shoal_cannot_honour_is_refused_by_name() {
        let refused = |spec: serde_json::Value| service_spec(spec, None).unwrap_err().0;
        let groups = refused(json!({ "TaskTemplate": { "ContainerSpec": { "Groups": ["wheel"] } } }));
        assert_eq!(groups, "TaskTemplate.ContainerSpec.Groups: not supported by shoal");
        let colour = refused(json!({ "Name": "web", "Colour": "red" }));
        assert!(
            colour.starts_with("Colour: unknown field `Colour`") || colour.contains("unknown field `Colour`"),
            "{colour}"
        );
        let replicas = refused(json!({ "Mode": { "Replicated": { "Replicas": "x" } } }));
        assert!(replicas.starts_with("Mode.Replicated.Replicas: invalid type"), "{replicas}");
        let two = refused(json!({ "Mode": { "Replicated": {}, "Global": {} } }));
        assert!(two.starts_with("Mode: expected one of"), "{two}");
        let plugin = refused(json!({ "TaskTemplate": { "Runtime": "plugin" } }));
        assert!(plugin.contains("not supported by shoal"), "{plugin}");
        let opts = json!({ "TaskTemplate": { "Networks": [{ "Target": "back", "DriverOpts": { "a": "b" } }] } });
        let (spec, warnings) = service_spec(opts, None).unwrap();
        assert_eq!(spec.task.unwrap().networks[0].target, "back");
        assert_eq!(warnings, ["TaskTemplate.Networks.DriverOpts of back: not supported by shoal, ignored"]);
        let mount = refused(
            json!({ "TaskTemplate": { "ContainerSpec": { "Mounts": [{ "Type": "npipe", "Target": "/x" }] } } }),
        );
        assert!(mount.starts_with("TaskTemplate.ContainerSpec.Mounts.Type: expected bind, volume or tmpfs"), "{mount}");
    }
}
