//! The node's Docker Engine: the [engine] monitor (does it answer, who is
//! it: the node offers the docker runtime while it does), the
//! [container] a task becomes there (name, labels, create request), the
//! [pause] image of the sandboxes that hold docker tasks' networks, and
//! the [`Client`] the docker executor shares.

pub mod container;
pub mod engine;
pub mod pause;

use std::path::PathBuf;

use bollard::Docker;
use bollard::errors::Error;

pub use engine::{EngineInfo, IDENTIFY_TIMEOUT, POLL, SeenLabels, describe, look, monitor};

/// The runtime's name in a task spec and a node's runtimes.
pub const RUNTIME: &str = "docker";

/// How long a request of the docker runtime may wait for the engine's
/// answer (bollard's default).
pub const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

/// A client of the engine at one socket, connected (its API version
/// agreed) on first use, and again on the next use after that failed.
/// Each request opens its own connection, so one client outlives an
/// engine restart.
pub struct Client {
    socket: PathBuf,
    docker: tokio::sync::OnceCell<Docker>,
}

impl Client {
    pub fn new(socket: PathBuf) -> Client {
        Client { socket, docker: Default::default() }
    }

    /// The connected client, or why the engine does not answer. Its
    /// requests may take [`REQUEST_TIMEOUT`] (a busy engine is slow to
    /// create or start a container; giving up early would leave the
    /// engine doing what shoal thinks failed).
    pub async fn get(&self) -> Result<Docker, String> {
        self.docker
            .get_or_try_init(|| async {
                engine::connect(&self.socket).await.map(|(docker, _)| docker.with_timeout(REQUEST_TIMEOUT))
            })
            .await
            .cloned()
            .map_err(|e| format!("the Docker Engine does not answer: {e}"))
    }
}

/// What the engine said, without bollard's framing (the engine's own
/// words, e.g. `No such image: x:latest`), else bollard's description.
pub fn message(e: &Error) -> String {
    match e {
        Error::DockerResponseServerError { message, .. } => message.trim().to_string(),
        Error::DockerStreamError { error } => error.trim().to_string(),
        other => other.to_string(),
    }
}

/// The registry credentials of a spec's pull options (`--with-registry-auth`:
/// base64url JSON, as the Engine API's X-Registry-Auth header; standard
/// base64 is taken too). Unreadable ones are none: the pull then goes
/// without and the registry says why it refused.
pub fn credentials(registry_auth: &str) -> Option<bollard::auth::DockerCredentials> {
    use base64::Engine;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE};
    let text = registry_auth.trim();
    if text.is_empty() {
        return None;
    }
    let json = URL_SAFE.decode(text).or_else(|_| STANDARD.decode(text)).ok()?;
    serde_json::from_slice(&json).ok()
}

/// Whether the engine answered 404 (no such container, image...).
pub fn not_found(e: &Error) -> bool {
    matches!(e, Error::DockerResponseServerError { status_code: 404, .. })
}

/// Whether the engine answered 409 (a name in use, a container not running).
pub fn conflict(e: &Error) -> bool {
    matches!(e, Error::DockerResponseServerError { status_code: 409, .. })
}

/// Whether the engine answered at all (an HTTP status): any other error
/// is the connection's (no engine, or it went away mid-request).
pub fn answered(e: &Error) -> bool {
    matches!(
        e,
        Error::DockerResponseServerError { .. }
            | Error::DockerStreamError { .. }
            | Error::DockerContainerWaitError { .. }
    )
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE};

    #[test]
    fn registry_auth_is_decoded_as_the_engine_decodes_it() {
        // '?' and '>' make base64url and base64 differ.
        let json = r#"{"username":"me","password":"p>??","serveraddress":"127.0.0.1:5000"}"#;
        for encoded in [URL_SAFE.encode(json), STANDARD.encode(json)] {
            let c = super::credentials(&encoded).expect("credentials");
            assert_eq!((c.username.as_deref(), c.password.as_deref()), (Some("me"), Some("p>??")));
            assert_eq!(c.serveraddress.as_deref(), Some("127.0.0.1:5000"));
        }
        assert_eq!(super::credentials(""), None);
        assert_eq!(super::credentials("not base64!"), None);
    }
}
