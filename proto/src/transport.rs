//! The one place that builds gRPC connections between nodes, client side
//! and server side, so that securing them (mTLS) changes only this file.

use std::time::Duration;

use tonic::transport::{Channel, Endpoint, Server};

/// How long a connection attempt to another node may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// An endpoint for the node at `addr` (`IP:PORT`).
pub fn endpoint(addr: &str) -> Result<Endpoint, tonic::transport::Error> {
    Ok(Endpoint::from_shared(format!("http://{addr}"))?
        .connect_timeout(CONNECT_TIMEOUT)
        .tcp_nodelay(true)
        .http2_keep_alive_interval(Duration::from_secs(10))
        .keep_alive_timeout(Duration::from_secs(5)))
}

/// A channel to the node at `addr` that connects on first use (and
/// reconnects after a failure).
pub fn lazy_channel(addr: &str) -> Result<Channel, tonic::transport::Error> {
    Ok(endpoint(addr)?.connect_lazy())
}

/// A server for the node endpoint.
pub fn server() -> Server {
    Server::builder()
        .tcp_nodelay(true)
        .http2_keepalive_interval(Some(Duration::from_secs(10)))
        .http2_keepalive_timeout(Some(Duration::from_secs(5)))
}
