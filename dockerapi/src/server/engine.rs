//! The node's own containers, images, volumes and plugins (`docker ps`,
//! `docker inspect`, `docker logs`, `docker image ls`, `docker volume ls`,
//! what Portainer's node views and snapshots read): the node's Docker
//! Engine answers them, read-only (the API forwards the GET to the
//! engine's socket and its answer back, streamed); a node without an
//! engine (none configured, or no socket where one is expected) has none
//! (empty lists; no such container), and one whose engine does not answer
//! on its socket says so (503).

use std::path::Path;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use hyper_util::rt::TokioIo;
use serde_json::json;

use super::{ApiError, Backend};

/// `GET /containers/json`, `/containers/{id}/json`, `/containers/{id}/logs`,
/// `/images/json`, `/volumes`, `/plugins`.
pub(super) async fn read(State(b): State<Backend>, req: Request) -> Result<Response, ApiError> {
    // No socket there: no engine on this node (a process-only node).
    let Some(socket) = b.engine.clone().filter(|s| s.exists()) else { return nothing(req.uri().path()) };
    forward(&socket, req).await.map_err(|e| ApiError {
        status: StatusCode::SERVICE_UNAVAILABLE,
        message: format!("this node's Docker Engine does not answer at {}: {e}", socket.display()),
    })
}

/// What a node without an engine holds: nothing.
fn nothing(path: &str) -> Result<Response, ApiError> {
    if let Some(id) = path.strip_prefix("/containers/").and_then(|rest| rest.split('/').next())
        && id != "json"
    {
        return Err(ApiError::not_found(format!("No such container: {id}")));
    }
    Ok(match path {
        "/volumes" => axum::Json(json!({ "Volumes": [], "Warnings": [] })).into_response(),
        _ => axum::Json(json!([])).into_response(),
    })
}

/// The GET to the engine at `socket`, its answer streamed back.
async fn forward(socket: &Path, req: Request) -> Result<Response, Box<dyn std::error::Error + Send + Sync>> {
    let stream = tokio::net::UnixStream::connect(socket).await?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    let path = req.uri().path_and_query().map_or("/", |p| p.as_str()).to_string();
    let outgoing =
        axum::http::Request::builder().method(Method::GET).uri(path).header("Host", "docker").body(Body::empty())?;
    let answer = sender.send_request(outgoing).await?;
    let (parts, body) = answer.into_parts();
    Ok(Response::from_parts(parts, Body::new(body)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_without_an_engine_has_nothing() {
        let missing = nothing("/containers/abc/json").unwrap_err();
        assert_eq!((missing.status, missing.message.as_str()), (StatusCode::NOT_FOUND, "No such container: abc"));
        assert!(nothing("/containers/abc/logs").is_err());
        for path in ["/containers/json", "/images/json", "/plugins", "/volumes"] {
            assert_eq!(nothing(path).unwrap().status(), StatusCode::OK, "{path}");
        }
    }
}
