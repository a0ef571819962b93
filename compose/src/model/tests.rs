//! Both syntaxes read into one model, a printed model reads back the
//! same, and errors name the key.

use super::*;

fn compose(yaml: &str) -> Result<Compose, String> {
    let tree: Value = serde_saphyr::from_str(yaml).unwrap();
    Compose::from_tree(tree)
}

const GET_STARTED: &str = r#"
version: "3"
x-common: &common { labels: { a: b } }
services:
  web:
    image: username/repo:tag
    deploy:
      replicas: 5
      restart_policy: { condition: on-failure, delay: 1m30s }
      resources: { limits: { cpus: "0.1", memory: 50M }, reservations: { cpus: 0.05 } }
      placement: { constraints: [node.role == manager], preferences: [{ spread: node.labels.zone }] }
      update_config: { parallelism: 2, failure_action: rollback, order: start-first, monitor: 10s }
    ports: ["4000:80", "9090-9091:8080-8081/udp", { target: 443, published: 8443, mode: host }]
    environment: [A=1, B]
    volumes: ["/var/run/docker.sock:/var/run/docker.sock:ro", "data:/data", { type: tmpfs, target: /tmp }]
    healthcheck: { test: curl -f localhost, interval: 5s, retries: 2 }
    command: redis-server --appendonly yes
    depends_on: { db: { condition: service_healthy } }
    secrets: [token, { source: cert, target: /etc/cert, mode: 0400 }]
    stop_grace_period: 20s
    x-note: ignored
    <<: *common
  db:
    image: redis
    environment: { PORT: 6379, DEBUG: true }
    depends_on: [cache]
    container_name: old
  cache: { image: memcached }
"#;

#[test]
fn both_syntaxes_read_into_one_model() {
    let c = compose(GET_STARTED).unwrap();
    let web = &c.services["web"];
    let deploy = web.deploy.as_ref().unwrap();
    assert_eq!(deploy.replicas, Some(5));
    let limits = deploy.resources.as_ref().unwrap().limits.as_ref().unwrap();
    assert_eq!((limits.cpus, limits.memory), (Some(Cpus(100_000_000)), Some(Bytes(50 << 20))));
    let restart = deploy.restart_policy.as_ref().unwrap();
    assert_eq!((restart.condition, restart.delay), (Some(RestartCondition::OnFailure), Some(Duration(90_000_000_000))));
    assert_eq!(deploy.update_config.as_ref().unwrap().order, Some(Order::StartFirst));
    let ports: Vec<(u16, Option<u16>, Protocol, PortMode)> =
        web.ports.iter().map(|p| (p.target, p.published, p.protocol, p.mode)).collect();
    assert_eq!(
        ports,
        vec![
            (80, Some(4000), Protocol::Tcp, PortMode::Ingress),
            (8080, Some(9090), Protocol::Udp, PortMode::Ingress),
            (8081, Some(9091), Protocol::Udp, PortMode::Ingress),
            (443, Some(8443), Protocol::Tcp, PortMode::Host),
        ]
    );
    assert_eq!(web.environment, BTreeMap::from([("A".into(), Some("1".into())), ("B".into(), None)]));
    let kinds: Vec<(VolumeType, bool)> = web.volumes.iter().map(|v| (v.kind, v.read_only)).collect();
    assert_eq!(kinds, vec![(VolumeType::Bind, true), (VolumeType::Volume, false), (VolumeType::Tmpfs, false)]);
    assert_eq!(web.healthcheck.as_ref().unwrap().test, Some(vec!["CMD-SHELL".into(), "curl -f localhost".into()]));
    assert_eq!(web.command, Some(vec!["redis-server".into(), "--appendonly".into(), "yes".into()]));
    assert_eq!(web.depends_on["db"].condition, Condition::Healthy);
    assert_eq!(web.secrets[1].target.as_deref(), Some("/etc/cert"));
    assert_eq!(web.labels["a"], "b", "from the merge key");
    let db = &c.services["db"];
    assert_eq!(db.environment["PORT"], Some("6379".into()));
    assert_eq!(db.depends_on["cache"].condition, Condition::Started);
    assert!(db.other.contains_key("container_name"), "accepted (the loader warned)");
}

#[test]
fn a_printed_model_reads_back_the_same() {
    let c = compose(GET_STARTED).unwrap();
    let printed = serde_saphyr::to_string(&c).unwrap();
    assert_eq!(compose(&printed).unwrap(), c, "{printed}");
}

#[test]
fn errors_name_the_key() {
    let err = |yaml: &str| compose(yaml).unwrap_err();
    assert!(err("services: { web: { deploy: { replicas: x } } }").starts_with("services.web.deploy.replicas: "));
    assert!(err("services: { web: { deploy: { mode: sometimes } } }").starts_with("services.web.deploy.mode: "));
    assert_eq!(err("services: { web: { image: a, colour: red } }"), "services.web: unknown key \"colour\"");
    assert!(err("services: { web: { ports: [\"80:x\"] } }").contains("invalid port \"80:x\""));
    assert!(err("services: { web: { ports: [\"1-3:1-2\"] } }").contains("ranges differ"));
    assert!(
        err("services: { web: { deploy: { resources: { limits: { memory: lots } } } } }")
            .starts_with("services.web.deploy.resources.limits.memory: ")
    );
    assert!(err("servics: {}").starts_with("unknown field `servics`") || err("servics: {}").contains("servics"));
}
