//! Docker's `ContainerSpec`: what runs, as whom, with which files,
//! mounts, limits and health check.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::Value;
use shoal_proto::{
    BindOptions, ContainerSpec, DnsConfig, FileReference, HealthConfig, Mount, MountType, TmpfsOptions, Ulimit,
    VolumeOptions,
};

use super::{Unsupported, refuse_if};

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", deny_unknown_fields, default)]
pub(super) struct ContainerSpecIn {
    image: String,
    labels: Option<HashMap<String, String>>,
    command: Option<Vec<String>>,
    args: Option<Vec<String>>,
    hostname: String,
    env: Option<Vec<String>>,
    dir: String,
    user: String,
    groups: Option<Vec<String>>,
    privileges: Option<Value>,
    init: Option<bool>,
    stop_signal: String,
    stop_grace_period: Option<i64>,
    #[serde(rename = "TTY")]
    tty: bool,
    open_stdin: bool,
    read_only: bool,
    mounts: Option<Vec<MountIn>>,
    healthcheck: Option<HealthIn>,
    hosts: Option<Vec<String>>,
    #[serde(rename = "DNSConfig")]
    dns_config: Option<DnsIn>,
    secrets: Option<Vec<FileRefIn>>,
    configs: Option<Vec<FileRefIn>>,
    isolation: String,
    sysctls: Option<HashMap<String, String>>,
    capability_add: Option<Vec<String>>,
    capability_drop: Option<Vec<String>>,
    ulimits: Option<Vec<UlimitIn>>,
    oom_score_adj: i64,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", deny_unknown_fields, default)]
struct MountIn {
    r#type: String,
    source: String,
    target: String,
    read_only: bool,
    consistency: String,
    bind_options: Option<BindIn>,
    volume_options: Option<VolumeIn>,
    tmpfs_options: Option<TmpfsIn>,
    image_options: Option<Value>,
    cluster_options: Option<Value>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", deny_unknown_fields, default)]
struct BindIn {
    propagation: String,
    non_recursive: bool,
    create_mountpoint: bool,
    read_only_non_recursive: bool,
    read_only_force_recursive: bool,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", deny_unknown_fields, default)]
struct VolumeIn {
    no_copy: bool,
    labels: Option<HashMap<String, String>>,
    driver_config: Option<DriverIn>,
    subpath: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", deny_unknown_fields, default)]
struct DriverIn {
    name: String,
    options: Option<HashMap<String, String>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", deny_unknown_fields, default)]
struct TmpfsIn {
    size_bytes: i64,
    mode: u32,
    options: Option<Vec<Value>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", deny_unknown_fields, default)]
struct HealthIn {
    test: Option<Vec<String>>,
    interval: i64,
    timeout: i64,
    retries: u64,
    start_period: i64,
    start_interval: i64,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", deny_unknown_fields, default)]
struct DnsIn {
    nameservers: Option<Vec<String>>,
    search: Option<Vec<String>>,
    options: Option<Vec<String>>,
}

/// A secret or config reference (`SecretID`/`SecretName` or
/// `ConfigID`/`ConfigName`, and the file).
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct FileRefIn {
    #[serde(rename = "File")]
    file: Option<FileIn>,
    #[serde(rename = "Runtime")]
    runtime: Option<Value>,
    #[serde(rename = "SecretID", alias = "ConfigID")]
    id: String,
    #[serde(rename = "SecretName", alias = "ConfigName")]
    name: String,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct FileIn {
    #[serde(rename = "Name")]
    name: String,
    #[serde(rename = "UID")]
    uid: String,
    #[serde(rename = "GID")]
    gid: String,
    #[serde(rename = "Mode")]
    mode: Option<u32>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", deny_unknown_fields, default)]
struct UlimitIn {
    name: String,
    soft: i64,
    hard: i64,
}

const AT: &str = "TaskTemplate.ContainerSpec";

impl ContainerSpecIn {
    pub(super) fn into_proto(self) -> Result<ContainerSpec, Unsupported> {
        refuse_if(self.groups.as_ref().is_some_and(|g| !g.is_empty()), &format!("{AT}.Groups"))?;
        refuse_if(self.privileges.as_ref().is_some_and(|p| !is_empty(p)), &format!("{AT}.Privileges"))?;
        refuse_if(!matches!(self.isolation.as_str(), "" | "default"), &format!("{AT}.Isolation"))?;
        refuse_if(self.oom_score_adj != 0, &format!("{AT}.OomScoreAdj"))?;
        let mounts = self.mounts.unwrap_or_default().into_iter().map(MountIn::into_proto).collect::<Result<_, _>>()?;
        let files = |refs: Option<Vec<FileRefIn>>, kind: &str| {
            refs.unwrap_or_default().into_iter().map(|r| r.into_proto(kind)).collect::<Result<Vec<_>, _>>()
        };
        Ok(ContainerSpec {
            image: self.image,
            args: self.args.unwrap_or_default(),
            env: self.env.unwrap_or_default(),
            dir: self.dir,
            user: self.user,
            labels: self.labels.unwrap_or_default(),
            stop_signal: self.stop_signal,
            stop_grace_period_ns: self.stop_grace_period,
            hostname: self.hostname,
            healthcheck: self.healthcheck.map(|h| HealthConfig {
                test: h.test.unwrap_or_default(),
                interval_ns: h.interval,
                timeout_ns: h.timeout,
                retries: h.retries,
                start_period_ns: h.start_period,
                start_interval_ns: h.start_interval,
            }),
            mounts,
            pids_limit: 0,
            command: self.command.unwrap_or_default(),
            init: self.init,
            read_only: self.read_only,
            pull_options: None,
            secrets: files(self.secrets, "Secrets")?,
            configs: files(self.configs, "Configs")?,
            capability_add: self.capability_add.unwrap_or_default(),
            capability_drop: self.capability_drop.unwrap_or_default(),
            ulimits: self
                .ulimits
                .unwrap_or_default()
                .into_iter()
                .map(|u| Ulimit { name: u.name, soft: u.soft, hard: u.hard })
                .collect(),
            tty: self.tty,
            open_stdin: self.open_stdin,
            hosts: self.hosts.unwrap_or_default(),
            // `{}` (what the docker CLI sends unasked) is no DNS config.
            dns_config: self
                .dns_config
                .map(|d| DnsConfig {
                    nameservers: d.nameservers.unwrap_or_default(),
                    search: d.search.unwrap_or_default(),
                    options: d.options.unwrap_or_default(),
                })
                .filter(|d| d != &DnsConfig::default()),
            sysctls: self.sysctls.unwrap_or_default(),
        })
    }
}

/// null, {}, [], "", false or 0, or an object of only such values.
fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.values().all(is_empty),
        Value::Number(n) => n.as_f64() == Some(0.0),
    }
}

impl MountIn {
    fn into_proto(self) -> Result<Mount, Unsupported> {
        let at = format!("{AT}.Mounts");
        let kind = MountType::from_name(&self.r#type)
            .ok_or_else(|| Unsupported(format!("{at}.Type: expected bind, volume or tmpfs, got {:?}", self.r#type)))?;
        refuse_if(!matches!(self.consistency.as_str(), "" | "default"), &format!("{at}.Consistency"))?;
        refuse_if(self.image_options.as_ref().is_some_and(|v| !is_empty(v)), &format!("{at}.ImageOptions"))?;
        refuse_if(self.cluster_options.as_ref().is_some_and(|v| !is_empty(v)), &format!("{at}.ClusterOptions"))?;
        let bind = self.bind_options.map(|b| {
            refuse_if(
                b.non_recursive || b.read_only_non_recursive || b.read_only_force_recursive,
                &format!("{at}.BindOptions recursion"),
            )?;
            refuse_if(b.create_mountpoint, &format!("{at}.BindOptions.CreateMountpoint"))?;
            Ok(BindOptions { propagation: b.propagation })
        });
        let volume = self.volume_options.map(|v| {
            refuse_if(!v.subpath.is_empty(), &format!("{at}.VolumeOptions.Subpath"))?;
            let driver = v.driver_config.unwrap_or_default();
            Ok(VolumeOptions {
                no_copy: v.no_copy,
                labels: v.labels.unwrap_or_default(),
                driver: driver.name,
                driver_options: driver.options.unwrap_or_default(),
            })
        });
        let tmpfs = self.tmpfs_options.map(|t| {
            refuse_if(t.options.as_ref().is_some_and(|o| !o.is_empty()), &format!("{at}.TmpfsOptions.Options"))?;
            Ok(TmpfsOptions { size_bytes: t.size_bytes, mode: t.mode })
        });
        Ok(Mount {
            r#type: kind as i32,
            source: self.source,
            target: self.target,
            read_only: self.read_only,
            bind_options: bind.transpose()?,
            volume_options: volume.transpose()?,
            tmpfs_options: tmpfs.transpose()?,
        })
    }
}

impl FileRefIn {
    fn into_proto(self, kind: &str) -> Result<FileReference, Unsupported> {
        let at = format!("{AT}.{kind}");
        refuse_if(self.runtime.as_ref().is_some_and(|r| !is_empty(r)), &format!("{at}.Runtime"))?;
        let file = self.file.unwrap_or_default();
        let number = |field: &str, text: &str| -> Result<u32, Unsupported> {
            if text.is_empty() {
                return Ok(0);
            }
            text.parse().map_err(|_| Unsupported(format!("{at}.File.{field}: expected a number, got {text:?}")))
        };
        // Shoal resolves the reference by id, name or prefix: the id when
        // given, else the name.
        let id = if self.id.is_empty() { self.name.clone() } else { self.id };
        Ok(FileReference {
            id,
            name: self.name,
            target: file.name,
            uid: number("UID", &file.uid)?,
            gid: number("GID", &file.gid)?,
            mode: file.mode,
        })
    }
}
