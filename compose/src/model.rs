//! The compose file typed: what `stack deploy` turns into services. Both
//! syntaxes of each key read into one normal form (ports and volumes in
//! their long form, environment and labels as maps, durations in
//! nanoseconds, sizes in bytes, CPUs in nano CPUs), so a printed file
//! reads back as the same model. `x-` extension keys are kept as written
//! (docker prints them); `x-shoal-runtime: process|docker` is shoal's
//! own. Unknown keys are errors; keys a swarm ignores are accepted (the
//! loader has warned about them).

use std::collections::BTreeMap;

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use shoal_spec::text::{duration, units};

/// A compose file (its keys checked by the [`super::schema`] first).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Compose {
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default)]
    pub services: BTreeMap<String, Service>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub networks: BTreeMap<String, Option<Value>>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub volumes: BTreeMap<String, Option<Value>>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub secrets: BTreeMap<String, Option<Value>>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub configs: BTreeMap<String, Option<Value>>,
    /// The top-level `x-` keys, as written.
    #[serde(flatten)]
    pub extensions: BTreeMap<String, Value>,
}

/// A service. Fields without a use in a swarm yet are kept as written.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct Service {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(default, deserialize_with = "opt_words", skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    #[serde(default, deserialize_with = "opt_words", skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    #[serde(default, deserialize_with = "env_map", skip_serializing_if = "BTreeMap::is_empty")]
    pub environment: BTreeMap<String, Option<String>>,
    #[serde(default, deserialize_with = "list", skip_serializing_if = "Vec::is_empty")]
    pub env_file: Vec<String>,
    #[serde(default, deserialize_with = "ports", skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<Port>,
    #[serde(default, deserialize_with = "name_map", skip_serializing_if = "BTreeMap::is_empty")]
    pub networks: BTreeMap<String, Option<Value>>,
    #[serde(default, deserialize_with = "volumes", skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<Volume>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<Healthcheck>,
    #[serde(default, deserialize_with = "label_map", skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    #[serde(default, deserialize_with = "opt_duration", skip_serializing_if = "Option::is_none")]
    pub stop_grace_period: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    #[serde(default, deserialize_with = "file_refs", skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<FileRef>,
    #[serde(default, deserialize_with = "file_refs", skip_serializing_if = "Vec::is_empty")]
    pub configs: Vec<FileRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deploy: Option<Deploy>,
    #[serde(
        default,
        deserialize_with = "depends_on",
        serialize_with = "depends_on_form",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub depends_on: BTreeMap<String, Dependency>,
    /// Shoal's extension: the runtime that runs the service's tasks.
    #[serde(rename = "x-shoal-runtime", default, skip_serializing_if = "Option::is_none")]
    pub runtime: Option<Runtime>,
    /// Shoal's extension: a job's schedule (`"@every 5m"`, or the long
    /// form with `cron`, `timezone` and `overlap`).
    #[serde(
        rename = "x-shoal-schedule",
        default,
        deserialize_with = "schedule",
        skip_serializing_if = "Option::is_none"
    )]
    pub schedule: Option<JobSchedule>,
    /// Shoal's extension: rebalance the service when a node joins.
    #[serde(rename = "x-shoal-rebalance-on-join", default, skip_serializing_if = "std::ops::Not::not")]
    pub rebalance_on_join: bool,
    /// The other keys compose allows ([`OTHER_KEYS`]) and `x-` keys,
    /// kept as written; anything else is refused by [`Compose::from_tree`].
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

/// Compose service keys accepted as written.
pub const OTHER_KEYS: [&str; 38] = [
    "build",
    "cap_add",
    "cap_drop",
    "cgroup_parent",
    "cgroupns_mode",
    "container_name",
    "credential_spec",
    "devices",
    "dns",
    "dns_search",
    "domainname",
    "expose",
    "external_links",
    "extra_hosts",
    "group_add",
    "init",
    "ipc",
    "isolation",
    "links",
    "logging",
    "mac_address",
    "network_mode",
    "pid",
    "platform",
    "privileged",
    "pull_policy",
    "read_only",
    "restart",
    "security_opt",
    "shm_size",
    "stdin_open",
    "sysctls",
    "tmpfs",
    "tty",
    "ulimits",
    "userns_mode",
    "profiles",
    "labels_from",
];

/// `x-shoal-schedule` in its long form.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct JobSchedule {
    pub cron: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overlap: Option<Overlap>,
}

/// What a run due while the last one runs does.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Overlap {
    Forbid,
    Allow,
    Replace,
}

#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Runtime {
    Process,
    Docker,
}

/// A published port, in the long form.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Port {
    pub target: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<u16>,
    #[serde(default = "tcp")]
    pub protocol: Protocol,
    #[serde(default)]
    pub mode: PortMode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_ip: Option<String>,
}

fn tcp() -> Protocol {
    Protocol::Tcp
}

#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PortMode {
    #[default]
    Ingress,
    Host,
}

/// A mount, in the long form.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Volume {
    #[serde(rename = "type")]
    pub kind: VolumeType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    pub target: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub read_only: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bind: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tmpfs: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consistency: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum VolumeType {
    Bind,
    Volume,
    Tmpfs,
    Npipe,
    Cluster,
}

/// A duration in nanoseconds, written as compose writes it (`1m30s`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Duration(pub i64);

impl Serialize for Duration {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&duration::format(self.0))
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = text(Value::deserialize(d)?).map_err(de::Error::custom)?;
        duration::parse(&text).map(Duration).map_err(de::Error::custom)
    }
}

/// A size in bytes (`512M`, `1.5G`, or a number), printed as docker
/// prints it: the bytes as text.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bytes(pub i64);

impl Serialize for Bytes {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0.to_string())
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Bytes, D::Error> {
        let text = text(Value::deserialize(d)?).map_err(de::Error::custom)?;
        units::memory_bytes(&text).map(Bytes).map_err(de::Error::custom)
    }
}

/// CPUs in nano CPUs (`"0.5"` or `0.5`), written back as a decimal.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cpus(pub i64);

impl Serialize for Cpus {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{}", self.0 as f64 / 1e9))
    }
}

impl<'de> Deserialize<'de> for Cpus {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Cpus, D::Error> {
        let text = text(Value::deserialize(d)?).map_err(de::Error::custom)?;
        units::nano_cpus(&text).map(Cpus).map_err(de::Error::custom)
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Healthcheck {
    #[serde(default, deserialize_with = "health_test", skip_serializing_if = "Option::is_none")]
    pub test: Option<Vec<String>>,
    #[serde(default, deserialize_with = "opt_duration", skip_serializing_if = "Option::is_none")]
    pub interval: Option<Duration>,
    #[serde(default, deserialize_with = "opt_duration", skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<u64>,
    #[serde(default, deserialize_with = "opt_duration", skip_serializing_if = "Option::is_none")]
    pub start_period: Option<Duration>,
    #[serde(default, deserialize_with = "opt_duration", skip_serializing_if = "Option::is_none")]
    pub start_interval: Option<Duration>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub disable: bool,
}

/// A secret or config of a service, in the long form.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FileRef {
    pub source: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub gid: Option<String>,
    /// As written: YAML 1.1 files mean `0400` as octal, YAML 1.2 readers
    /// do not; resolved when secrets are deployed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Dependency {
    #[serde(default)]
    pub condition: Condition,
}

/// When a dependency counts as up: `service_started`, `service_healthy`,
/// `service_completed_successfully`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize, Serialize)]
pub enum Condition {
    #[default]
    #[serde(rename = "service_started")]
    Started,
    #[serde(rename = "service_healthy")]
    Healthy,
    #[serde(rename = "service_completed_successfully")]
    CompletedSuccessfully,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Deploy {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<DeployMode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placement: Option<Placement>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Resources>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart_policy: Option<RestartPolicy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_config: Option<UpdateConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback_config: Option<UpdateConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_mode: Option<EndpointMode>,
    #[serde(default, deserialize_with = "label_map", skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeployMode {
    Replicated,
    Global,
    ReplicatedJob,
    GlobalJob,
}

#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EndpointMode {
    Vip,
    Dnsrr,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Placement {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub constraints: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub preferences: Vec<Preference>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_replicas_per_node: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Preference {
    pub spread: String,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Resources {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<ResourceSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reservations: Option<ResourceSpec>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpus: Option<Cpus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<Bytes>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pids: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generic_resources: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub devices: Option<Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RestartPolicy {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<RestartCondition>,
    #[serde(default, deserialize_with = "opt_duration", skip_serializing_if = "Option::is_none")]
    pub delay: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_attempts: Option<u64>,
    #[serde(default, deserialize_with = "opt_duration", skip_serializing_if = "Option::is_none")]
    pub window: Option<Duration>,
}

#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RestartCondition {
    None,
    OnFailure,
    Any,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallelism: Option<u64>,
    #[serde(default, deserialize_with = "opt_duration", skip_serializing_if = "Option::is_none")]
    pub delay: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_action: Option<FailureAction>,
    #[serde(default, deserialize_with = "opt_duration", skip_serializing_if = "Option::is_none")]
    pub monitor: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_failure_ratio: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<Order>,
}

#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FailureAction {
    Pause,
    Continue,
    Rollback,
}

#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Order {
    StopFirst,
    StartFirst,
}

// ------------------------------------------------------------ readers

/// A scalar as text (numbers and booleans as YAML writes them).
fn text(v: Value) -> Result<String, String> {
    match v {
        Value::String(s) => Ok(s),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        other => Err(format!("expected a string, got {other}")),
    }
}

fn opt_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(v) => text(v).map(Some).map_err(de::Error::custom),
    }
}

fn opt_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    Option::<Duration>::deserialize(d)
}

/// A string (split as a shell would) or a list of words.
fn opt_words<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => {
            shlex::split(&s).map(Some).ok_or_else(|| de::Error::custom(format!("unbalanced quotes in {s:?}")))
        }
        Some(Value::Array(items)) => {
            items.into_iter().map(|i| text(i).map_err(de::Error::custom)).collect::<Result<_, _>>().map(Some)
        }
        Some(other) => Err(de::Error::custom(format!("expected a string or a list, got {other}"))),
    }
}

fn health_test<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        // A string is a shell command.
        Some(Value::String(s)) if s == "NONE" => Ok(Some(vec!["NONE".into()])),
        Some(Value::String(s)) => Ok(Some(vec!["CMD-SHELL".into(), s])),
        Some(Value::Array(items)) => {
            items.into_iter().map(|i| text(i).map_err(de::Error::custom)).collect::<Result<_, _>>().map(Some)
        }
        Some(other) => Err(de::Error::custom(format!("expected a string or a list, got {other}"))),
    }
}

fn list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items.into_iter().map(|i| text(i).map_err(de::Error::custom)).collect(),
        Some(v) => text(v).map(|s| vec![s]).map_err(de::Error::custom),
    }
}

/// `["K=V", "K"]` or `{K: V}`; a key without a value is `None`.
fn env_map<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, Option<String>>, D::Error> {
    let v = Option::<Value>::deserialize(d)?.unwrap_or(Value::Null);
    let map = super::merge::as_map(&v);
    if !v.is_null() && !v.is_object() && !v.is_array() {
        return Err(de::Error::custom("expected a list of KEY=VALUE or a mapping"));
    }
    map.into_iter()
        .map(|(k, v)| match v {
            Value::Null => Ok((k, None)),
            v => text(v).map(|t| (k, Some(t))).map_err(de::Error::custom),
        })
        .collect()
}

fn label_map<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    Ok(env_map(d)?.into_iter().map(|(k, v)| (k, v.unwrap_or_default())).collect())
}

/// `[a, b]` or `{a: {...}, b: null}`.
fn name_map<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, Option<Value>>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(BTreeMap::new()),
        Some(Value::Array(items)) => {
            items.into_iter().map(|i| text(i).map(|n| (n, None)).map_err(de::Error::custom)).collect()
        }
        Some(Value::Object(map)) => Ok(map.into_iter().map(|(k, v)| (k, (!v.is_null()).then_some(v))).collect()),
        Some(other) => Err(de::Error::custom(format!("expected a list or a mapping, got {other}"))),
    }
}

/// Short (`"8080:80/udp"`, ranges) and long port entries, as long ones.
fn ports<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Port>, D::Error> {
    let mut out = Vec::new();
    for item in Option::<Vec<Value>>::deserialize(d)?.unwrap_or_default() {
        match item {
            Value::Object(_) => out.push(serde_json::from_value(item).map_err(de::Error::custom)?),
            v => out.extend(short_port(&text(v).map_err(de::Error::custom)?).map_err(de::Error::custom)?),
        }
    }
    Ok(out)
}

fn port_range(text: &str, whole: &str) -> Result<(u16, u16), String> {
    let bad = || format!("invalid port {whole:?}: expected [IP:][PUBLISHED:]TARGET[/PROTOCOL]");
    let (a, b) = text.split_once('-').unwrap_or((text, text));
    let (a, b): (u16, u16) = (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?);
    if a > b {
        return Err(bad());
    }
    Ok((a, b))
}

/// `[ip:][published[-end]:]target[-end][/protocol]`.
pub fn short_port(spec: &str) -> Result<Vec<Port>, String> {
    let (ports, protocol) = spec.rsplit_once('/').unwrap_or((spec, "tcp"));
    let protocol: Protocol = serde_json::from_value(Value::String(protocol.to_string()))
        .map_err(|_| format!("invalid port {spec:?}: protocol must be tcp, udp or sctp"))?;
    let parts: Vec<&str> = ports.rsplitn(3, ':').collect();
    let target = port_range(parts[0], spec)?;
    let published = parts.get(1).filter(|p| !p.is_empty()).map(|p| port_range(p, spec)).transpose()?;
    let host_ip = parts.get(2).map(|ip| ip.trim_matches(|c| c == '[' || c == ']').to_string());
    if host_ip.as_ref().is_some_and(|ip| ip.parse::<std::net::IpAddr>().is_err()) {
        return Err(format!("invalid port {spec:?}: the host IP is not an IP address"));
    }
    let count = target.1 - target.0;
    if published.is_some_and(|p| p.1 - p.0 != count) {
        return Err(format!("invalid port {spec:?}: the published and target ranges differ in length"));
    }
    Ok((0..=count)
        .map(|i| Port {
            target: target.0 + i,
            published: published.map(|p| p.0 + i),
            protocol,
            mode: PortMode::Ingress,
            host_ip: host_ip.clone(),
        })
        .collect())
}

/// Short (`./data:/data:ro`, `name:/path`, `/path`) and long volumes.
fn volumes<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Volume>, D::Error> {
    let mut out = Vec::new();
    for item in Option::<Vec<Value>>::deserialize(d)?.unwrap_or_default() {
        match item {
            Value::Object(_) => out.push(serde_json::from_value(item).map_err(de::Error::custom)?),
            v => out.push(short_volume(&text(v).map_err(de::Error::custom)?).map_err(de::Error::custom)?),
        }
    }
    Ok(out)
}

/// `[source:]target[:options]`: a source that is a path makes a bind
/// mount, a name a named volume, none an anonymous volume. The options,
/// comma-separated, as docker reads them: `ro`/`rw`, `nocopy`, a bind
/// propagation; `z`/`Z` (SELinux relabelling, which a swarm cannot
/// honour) are passed over here and warned about by the loader; any
/// other is refused (docker drops it without a word).
pub fn short_volume(spec: &str) -> Result<Volume, String> {
    if spec.is_empty() {
        return Err("invalid empty volume spec".into());
    }
    let parts: Vec<&str> = spec.split(':').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(format!("invalid volume {spec:?}: empty section between colons"));
    }
    let (source, target, options) = match parts.as_slice() {
        [target] => (None, *target, ""),
        [source, target] => (Some(*source), *target, ""),
        [source, target, options] => (Some(*source), *target, *options),
        _ => return Err(format!("invalid volume {spec:?}: too many colons (expected [SOURCE:]TARGET[:OPTIONS])")),
    };
    let is_path = |s: &str| s.starts_with('/') || s.starts_with('.') || s.starts_with('~');
    let kind = if source.is_some_and(is_path) { VolumeType::Bind } else { VolumeType::Volume };
    let mut volume = Volume {
        kind,
        source: source.map(String::from),
        target: target.to_string(),
        read_only: false,
        bind: None,
        volume: None,
        tmpfs: None,
        consistency: None,
    };
    for option in options.split(',').filter(|o| !o.is_empty()) {
        match option {
            "ro" => volume.read_only = true,
            "rw" => volume.read_only = false,
            "nocopy" => volume.volume = Some(serde_json::json!({ "nocopy": true })),
            "z" | "Z" => {}
            p if shoal_proto::BIND_PROPAGATIONS.contains(&p) => {
                volume.bind = Some(serde_json::json!({ "propagation": p }));
            }
            other => {
                return Err(format!(
                    "invalid volume {spec:?}: unknown option {other:?} (ro, rw, nocopy or a propagation: {})",
                    shoal_proto::BIND_PROPAGATIONS.join(", ")
                ));
            }
        }
    }
    Ok(volume)
}

/// `[name]` or `[{source, target...}]`.
fn file_refs<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<FileRef>, D::Error> {
    let items = Option::<Vec<Value>>::deserialize(d)?.unwrap_or_default();
    items
        .into_iter()
        .map(|item| match item {
            Value::Object(_) => serde_json::from_value(item).map_err(de::Error::custom),
            v => text(v)
                .map(|source| FileRef { source, target: None, uid: None, gid: None, mode: None })
                .map_err(de::Error::custom),
        })
        .collect()
}

/// `[a, b]` or `{a: {condition: service_healthy}}`.
fn depends_on<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, Dependency>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(BTreeMap::new()),
        Some(Value::Array(items)) => {
            items.into_iter().map(|i| text(i).map(|n| (n, Dependency::default())).map_err(de::Error::custom)).collect()
        }
        Some(v @ Value::Object(_)) => serde_json::from_value(v).map_err(de::Error::custom),
        Some(other) => Err(de::Error::custom(format!("expected a list or a mapping, got {other}"))),
    }
}

/// `x-shoal-schedule`: a cron expression alone, or the long form.
fn schedule<'de, D: Deserializer<'de>>(d: D) -> Result<Option<JobSchedule>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(cron)) => Ok(Some(JobSchedule { cron, timezone: None, overlap: None })),
        Some(v @ Value::Object(_)) => serde_json::from_value(v).map(Some).map_err(de::Error::custom),
        Some(other) => {
            Err(de::Error::custom(format!("expected a cron expression or a mapping with cron, got {other}")))
        }
    }
}

/// `depends_on` as docker prints it: a list of names when every
/// condition is `service_started`, else the long form.
fn depends_on_form<S: serde::Serializer>(deps: &BTreeMap<String, Dependency>, s: S) -> Result<S::Ok, S::Error> {
    if deps.values().all(|d| d.condition == Condition::Started) {
        s.collect_seq(deps.keys())
    } else {
        deps.serialize(s)
    }
}

impl Compose {
    /// Types a loaded tree; errors name the key (`services.web.deploy.replicas`).
    pub fn from_tree(tree: Value) -> Result<Compose, String> {
        let compose: Compose = serde_path_to_error::deserialize(tree).map_err(|e| {
            let path = e.path().to_string();
            format!("{path}: {}", e.into_inner())
        })?;
        if let Some(key) = compose.extensions.keys().find(|k| !k.starts_with("x-")) {
            return Err(format!("unknown top-level key {key:?}"));
        }
        for (name, service) in &compose.services {
            if let Some(key) = service.other.keys().find(|k| !OTHER_KEYS.contains(&k.as_str()) && !k.starts_with("x-"))
            {
                return Err(format!("services.{name}: unknown key {key:?}"));
            }
        }
        Ok(compose)
    }
}

#[cfg(test)]
mod tests;
