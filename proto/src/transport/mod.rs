//! The one place that builds connections between nodes: mutual TLS
//! (rustls with the ring provider) under gRPC, client side and server side.
//!
//! Every node holds [`Credentials`]: the cluster's root CA, its own
//! certificate (subject: node id and role) and key. Servers ask for a
//! client certificate but let a connection without one through, so that a
//! joining node can reach the CA with its token; each service then states
//! who may call it ([`auth::require`]) from the caller's [`Identity`].

pub mod auth;
mod connect;
mod credentials;
mod identity;
mod serve;

use std::time::Duration;

pub use connect::{bootstrap_channel, channel, pinned_channel};
pub use credentials::{Credentials, CredentialsError};
pub use identity::{Identity, Peer, Role};
pub use serve::serve;

/// How long a connection attempt to another node may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// Server name every node certificate carries.
pub const NODE_NAME: &str = "shoal-node";
/// Server name only manager certificates carry.
pub const MANAGER_NAME: &str = "shoal-manager";

/// A gRPC server for the node endpoint (connections come from [`serve`]).
pub fn server() -> tonic::transport::Server {
    tonic::transport::Server::builder()
        .http2_keepalive_interval(Some(Duration::from_secs(10)))
        .http2_keepalive_timeout(Some(Duration::from_secs(5)))
}

/// The crypto provider every TLS config uses.
fn provider() -> std::sync::Arc<rustls::crypto::CryptoProvider> {
    std::sync::Arc::new(rustls::crypto::ring::default_provider())
}
