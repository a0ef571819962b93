//! The CLI's connection to a daemon: gRPC over the daemon's unix socket
//! (`--host unix:///path/shoal.sock`, or `SHOAL_HOST`), or over mTLS to
//! a manager's endpoint (`--host https://IP:PORT`) with the admin
//! certificate bundle in `$SHOAL_CERT_PATH` (default `~/.shoal`).

use anyhow::{Result, bail};
use hyper_util::rt::TokioIo;
use tokio::net::UnixStream;
use tonic::transport::{Channel, Endpoint, Uri};

/// Where the CLI finds the local daemon by default.
pub const DEFAULT_HOST: &str = "unix:///var/lib/shoal/shoal.sock";

/// Connects to the daemon at `host`.
pub async fn connect(host: &str) -> Result<Channel> {
    if let Some(addr) = host.strip_prefix("https://") {
        return connect_remote(host, addr.trim_end_matches('/')).await;
    }
    let Some(path) = host.strip_prefix("unix://") else {
        bail!("--host: expected unix:///path/to/shoal.sock or https://IP:PORT, got {host:?}");
    };
    let path = path.to_string();
    let endpoint = Endpoint::try_from("http://shoal.sock")?;
    endpoint
        .connect_with_connector(tower::service_fn(move |_: Uri| {
            let path = path.clone();
            async move { Ok::<_, std::io::Error>(TokioIo::new(UnixStream::connect(path).await?)) }
        }))
        .await
        .map_err(|e| {
            let mut cause: &dyn std::error::Error = &e;
            while let Some(next) = cause.source() {
                cause = next;
            }
            anyhow::anyhow!("cannot connect to the shoal daemon at {host}: is it running? ({cause})")
        })
}

/// Where the admin certificate bundle is (ca.pem, cert.pem, key.pem).
fn cert_path() -> std::path::PathBuf {
    match std::env::var_os("SHOAL_CERT_PATH") {
        Some(p) => p.into(),
        None => std::path::PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".shoal"),
    }
}

async fn connect_remote(host: &str, addr: &str) -> Result<Channel> {
    let dir = cert_path();
    let creds = crate::daemon::certs::load(&dir).map_err(|e| {
        anyhow::anyhow!("--host {host}: needs the admin certificates (copy <data-dir>/certificates/admin from a manager to {}): {e:#}", dir.display())
    })?;
    let channel = shoal_proto::transport::channel(addr, &creds, shoal_proto::transport::MANAGER_NAME)?;
    let mut probe = shoal_proto::control_client::ControlClient::new(channel.clone());
    if let Err(e) = probe.get_cluster(shoal_proto::GetClusterRequest {}).await {
        bail!("cannot reach the manager at {host}: {}", e.message());
    }
    Ok(channel)
}

/// A gRPC error as the user should read it: the server's message, or,
/// when the connection broke before an answer came (the daemon stopped),
/// that a change asked for may or may not have been made.
pub fn status(status: tonic::Status) -> anyhow::Error {
    let Some(mut cause) = std::error::Error::source(&status) else {
        return anyhow::anyhow!("{}", status.message());
    };
    while let Some(next) = cause.source() {
        cause = next;
    }
    anyhow::anyhow!(
        "outcome unknown: the connection to the daemon broke before it answered ({cause}): a change asked for \
         may or may not have been made: check (e.g. shoal service ls) before trying again"
    )
}
