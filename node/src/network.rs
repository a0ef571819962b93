//! The node's data path for its worker: `shoal-ingress`'s [`DataPath`],
//! fed the managers' network maps by one loop (the latest map wins; a
//! failed pass is tried again). A task is plugged in only after the
//! latest map was applied, so its networks exist when it joins them.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use shoal_ingress::datapath::{DataPath, DataPathError};
use shoal_proto::{NetworkMap, Task};
use shoal_worker::network::{BoxFuture, Network};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::warn;

/// How long a failed pass waits before the next try.
const RETRY: Duration = Duration::from_secs(1);

pub struct NodeNetwork {
    path: Arc<DataPath>,
    maps: watch::Sender<Option<NetworkMap>>,
}

impl std::fmt::Debug for NodeNetwork {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeNetwork").finish_non_exhaustive()
    }
}

impl NodeNetwork {
    /// The data path of the daemon's namespace, `local` the node's
    /// data-path address, `dns` the resolver for names not the cluster's
    /// (`None`: the node's own); wires maps until `stop`.
    pub fn start(
        local: Ipv4Addr,
        dns: Option<std::net::SocketAddr>,
        stop: CancellationToken,
    ) -> Result<Arc<NodeNetwork>, DataPathError> {
        let path = Arc::new(DataPath::new(local, dns)?);
        let (maps, rx) = watch::channel(None);
        tokio::spawn(reconcile(path.clone(), rx, stop));
        Ok(Arc::new(NodeNetwork { path, maps }))
    }

    async fn apply_latest(&self) -> Result<(), String> {
        let map = self.maps.borrow().clone();
        match map {
            Some(map) => self.path.apply(&map).await.map_err(|e| e.to_string()),
            None => Ok(()),
        }
    }
}

async fn reconcile(path: Arc<DataPath>, mut maps: watch::Receiver<Option<NetworkMap>>, stop: CancellationToken) {
    loop {
        let map = maps.borrow_and_update().clone();
        if let Some(map) = map
            && let Err(e) = path.apply(&map).await
        {
            warn!(err = %e, "wiring the network map");
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(RETRY) => continue,
            }
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            changed = maps.changed() => if changed.is_err() { return },
        }
    }
}

impl Network for NodeNetwork {
    fn set_map(&self, map: NetworkMap) {
        self.maps.send_replace(Some(map));
    }

    fn attach<'a>(
        &'a self,
        task: &'a Task,
        existing: Option<PathBuf>,
    ) -> BoxFuture<'a, Result<Option<PathBuf>, String>> {
        Box::pin(async move {
            if task.networks.is_empty() {
                return Ok(None);
            }
            self.apply_latest().await?;
            self.path.attach(task, existing.as_deref()).await.map_err(|e| e.to_string())
        })
    }

    fn adopt<'a>(&'a self, task: &'a Task) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            if let Err(e) = self.apply_latest().await {
                warn!(task = %task.id, err = %e, "wiring the network map");
            }
            if let Err(e) = self.path.adopt(task).await {
                warn!(task = %task.id, err = %e, "taking back the task's network namespace");
            }
        })
    }

    fn detach<'a>(&'a self, task_id: &'a str) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            if let Err(e) = self.path.detach(task_id).await {
                warn!(task = %task_id, err = %e, "removing the task's network namespace");
            }
        })
    }
}
