//! The CLI's connection to a daemon: gRPC over the daemon's unix socket
//! (`--host unix:///path/shoal.sock`, or `SHOAL_HOST`).

use anyhow::{Result, bail};
use hyper_util::rt::TokioIo;
use tokio::net::UnixStream;
use tonic::transport::{Channel, Endpoint, Uri};

/// Where the CLI finds the local daemon by default.
pub const DEFAULT_HOST: &str = "unix:///var/lib/shoal/shoal.sock";

/// Connects to the daemon at `host`.
pub async fn connect(host: &str) -> Result<Channel> {
    let Some(path) = host.strip_prefix("unix://") else {
        bail!("--host: expected unix:///path/to/shoal.sock, got {host:?} (remote hosts come with the cluster's TLS)");
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

/// A gRPC error as the user should read it: the server's message.
pub fn status(status: tonic::Status) -> anyhow::Error {
    anyhow::anyhow!("{}", status.message())
}
