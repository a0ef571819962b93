//! The node's Docker Engine, as shoal sees it: whether it answers, its
//! version and platform, and its labels (`dockerd --label`). One monitor
//! per worker asks the engine every [`POLL`] and publishes what it found,
//! so a Docker Engine that stops or starts is noticed within seconds
//! without restarting shoal; while it answers, the node offers the
//! docker runtime.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bollard::{API_DEFAULT_VERSION, Docker};
use shoal_proto::{DockerEngine, NodeDescription};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::info;

/// How often the engine is asked whether it answers.
pub const POLL: Duration = Duration::from_secs(1);
/// How long a ping may take (an engine that hangs counts as down).
const PING_TIMEOUT: Duration = Duration::from_secs(3);
/// How long asking who it is may take (`/info` is slow on a busy engine).
pub const IDENTIFY_TIMEOUT: Duration = Duration::from_secs(10);
/// How often an engine that keeps answering is asked who it is again (a
/// restart between two pings, or labels reloaded, change it).
const REIDENTIFY: Duration = Duration::from_secs(60);

/// What the node's Docker Engine says of itself.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EngineInfo {
    pub version: String,
    pub api_version: String,
    pub os: String,
    pub arch: String,
    /// `dockerd --label KEY=VALUE`: the node's engine labels (with
    /// shoal's own), kept while the engine does not answer ([`SeenLabels`]).
    pub labels: HashMap<String, String>,
}

impl EngineInfo {
    fn from_answers(version: bollard::models::SystemVersion, info: bollard::models::SystemInfo) -> EngineInfo {
        let labels = info
            .labels
            .unwrap_or_default()
            .into_iter()
            .map(|l| match l.split_once('=') {
                Some((k, v)) => (k.to_string(), v.to_string()),
                None => (l, String::new()),
            })
            .collect();
        EngineInfo {
            version: version.version.unwrap_or_default(),
            api_version: version.api_version.unwrap_or_default(),
            os: version.os.unwrap_or_default(),
            arch: version.arch.unwrap_or_default(),
            labels,
        }
    }
}

/// A client of the engine at `socket`, at the API version both speak,
/// and what the engine says of itself.
pub(crate) async fn connect(socket: &Path) -> Result<(Docker, EngineInfo), String> {
    let asked = async {
        let docker =
            Docker::connect_with_unix(&socket.to_string_lossy(), IDENTIFY_TIMEOUT.as_secs(), API_DEFAULT_VERSION)?
                .negotiate_version()
                .await?;
        let version = docker.version().await?;
        let info = docker.info().await?;
        Ok::<_, bollard::errors::Error>((docker, EngineInfo::from_answers(version, info)))
    };
    match tokio::time::timeout(IDENTIFY_TIMEOUT, asked).await {
        Ok(Ok(answered)) => Ok(answered),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer within {IDENTIFY_TIMEOUT:?}")),
    }
}

/// What the engine at `socket` says of itself, if it answers now (one
/// look, as `node init` takes to choose the cluster's default runtime).
pub async fn look(socket: &Path) -> Option<EngineInfo> {
    connect(socket).await.ok().map(|(_, engine)| engine)
}

/// Whether the engine behind `docker` still answers (one `/_ping`).
async fn alive(docker: &Docker) -> bool {
    tokio::time::timeout(PING_TIMEOUT, docker.ping()).await.is_ok_and(|answer| answer.is_ok())
}

/// Watches the engine at `socket` (none: this node has no Docker) until
/// `stop`; the receiver holds what it answered last, `None` while it
/// does not answer. The first look is over when this returns (so that
/// the node's first session says what it found); then, while the engine
/// answers, each look is one `/_ping`, and it is asked who it is again
/// after it stopped answering or every [`REIDENTIFY`].
pub async fn monitor(socket: Option<PathBuf>, stop: CancellationToken) -> watch::Receiver<Option<EngineInfo>> {
    let (tx, rx) = watch::channel(None);
    let Some(socket) = socket else { return rx };
    let mut client = identify(&socket, &tx, true).await;
    tokio::spawn(async move {
        let mut identified = tokio::time::Instant::now();
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(POLL) => {}
            }
            if let Some(docker) = &client
                && identified.elapsed() < REIDENTIFY
                && alive(docker).await
            {
                continue;
            }
            client = identify(&socket, &tx, false).await;
            identified = tokio::time::Instant::now();
        }
    });
    rx
}

/// Asks the engine at `socket` who it is and publishes the answer
/// (`None`: it does not answer), logging what changed (on the `first`
/// look, also that none answers); the client if it answered.
async fn identify(socket: &Path, tx: &watch::Sender<Option<EngineInfo>>, first: bool) -> Option<Docker> {
    let found = connect(socket).await;
    let now = found.as_ref().ok().map(|(_, engine)| engine.clone());
    tx.send_if_modified(|seen| {
        match (&now, &found) {
            (Some(e), _) if *seen != now => {
                info!(version = %e.version, api = %e.api_version, "the Docker Engine answers")
            }
            (None, Err(why)) if first => info!(%why, socket = %socket.display(), "no Docker Engine answers"),
            (None, Err(why)) if seen.is_some() => info!(%why, "the Docker Engine no longer answers"),
            _ => {}
        }
        let changed = *seen != now;
        *seen = now.clone();
        changed
    });
    found.ok().map(|(docker, _)| docker)
}

/// The engine's labels as last seen, kept on disk: they stay among the
/// node's engine labels while the engine does not answer, and across a
/// restart of shoal before it answers again, so that a constraint on
/// them (`engine.labels.zone==east`) does not flap with the engine (the
/// enforcer would stop the tasks it places). New labels replace them
/// whenever the engine answers.
#[derive(Debug, Default)]
pub struct SeenLabels {
    /// `<data-dir>/worker/engine-labels.json`; none: not kept.
    path: Option<PathBuf>,
    labels: HashMap<String, String>,
}

impl SeenLabels {
    /// The labels kept at `path` (none yet, or unreadable: none).
    pub fn load(path: PathBuf) -> SeenLabels {
        let labels = std::fs::read(&path).ok().and_then(|text| serde_json::from_slice(&text).ok()).unwrap_or_default();
        SeenLabels { path: Some(path), labels }
    }

    /// Takes the labels of `engine` when it answers (kept on disk when
    /// they changed); the labels as last seen.
    pub fn update(&mut self, engine: Option<&EngineInfo>) -> &HashMap<String, String> {
        if let Some(engine) = engine
            && engine.labels != self.labels
        {
            self.labels = engine.labels.clone();
            if let Some(path) = &self.path
                && let Err(e) = serde_json::to_vec(&self.labels).map(|text| std::fs::write(path, text))
            {
                tracing::warn!(error = %e, "keeping the Docker Engine's labels");
            }
        }
        &self.labels
    }
}

/// `base` (what the node says of itself) with what its engine said: the
/// docker runtime is offered while the engine answers; its labels (as
/// last seen) join the node's engine labels, shoal's own (`shoal daemon
/// --label`) winning a conflict.
pub fn describe(base: &NodeDescription, engine: Option<&EngineInfo>, seen: &mut SeenLabels) -> NodeDescription {
    let mut description = base.clone();
    for (key, value) in seen.update(engine) {
        description.engine_labels.entry(key.clone()).or_insert_with(|| value.clone());
    }
    let Some(engine) = engine else { return description };
    if !description.runtimes.iter().any(|r| r == super::RUNTIME) {
        description.runtimes.push(super::RUNTIME.to_string());
    }
    description.docker = Some(DockerEngine {
        version: engine.version.clone(),
        api_version: engine.api_version.clone(),
        os: engine.os.clone(),
        architecture: engine.arch.clone(),
    });
    description
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture<T: serde::de::DeserializeOwned>(name: &str) -> T {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/docker").join(name);
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
    }

    #[test]
    fn an_engine_20_10_is_read_whole() {
        let engine = EngineInfo::from_answers(fixture("version.json"), fixture("info.json"));
        assert_eq!(engine.version, "20.10.24+dfsg1");
        assert_eq!(engine.api_version, "1.41");
        assert_eq!((engine.os.as_str(), engine.arch.as_str()), ("linux", "amd64"));
    }

    #[test]
    fn labels_are_split_at_the_first_equals_sign() {
        let info =
            bollard::models::SystemInfo { labels: Some(vec!["zone=a=1".into(), "ssd".into()]), ..Default::default() };
        let engine = EngineInfo::from_answers(Default::default(), info);
        assert_eq!(engine.labels["zone"], "a=1");
        assert_eq!(engine.labels["ssd"], "");
    }

    #[test]
    fn the_engine_its_runtime_and_its_labels_join_the_description() {
        let label = |k: &str, v: &str| (k.to_string(), v.to_string());
        let base = NodeDescription { engine_labels: [label("zone", "shoal")].into(), ..Default::default() };
        let dir = tempfile::tempdir().unwrap();
        let kept = dir.path().join("engine-labels.json");
        let mut seen = SeenLabels::load(kept.clone());
        assert_eq!(describe(&base, None, &mut seen), base);
        let engine = EngineInfo {
            version: "20.10.24".into(),
            labels: [label("zone", "docker"), label("ssd", "1")].into(),
            ..Default::default()
        };
        let described = describe(&base, Some(&engine), &mut seen);
        assert_eq!(described.engine_labels, [label("zone", "shoal"), label("ssd", "1")].into(), "shoal's own win");
        assert_eq!(described.runtimes, ["docker"], "offered while the engine answers");
        assert_eq!(described.docker.unwrap().version, "20.10.24");
        // The engine gone, and shoal restarted: its labels stay, not its runtime.
        let mut restarted = SeenLabels::load(kept);
        let gone = describe(&base, None, &mut restarted);
        assert_eq!(gone.engine_labels["ssd"], "1");
        assert!(gone.runtimes.is_empty() && gone.docker.is_none());
        // Answering again with other labels: those.
        let relabelled = EngineInfo { labels: [label("rack", "2")].into(), ..engine };
        let again = describe(&base, Some(&relabelled), &mut restarted);
        assert_eq!(again.engine_labels, [label("zone", "shoal"), label("rack", "2")].into());
    }

    #[tokio::test]
    async fn no_engine_is_said_plainly() {
        let dir = tempfile::tempdir().unwrap();
        let err = connect(&dir.path().join("docker.sock")).await.map(|_| ()).unwrap_err();
        assert!(err.contains("docker.sock"), "names the socket: {err}");
    }
}
