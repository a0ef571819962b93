//! The node's own containers, images and volumes (`docker ps`, `docker
//! image ls`, `docker volume ls`, what Portainer's node views read): the
//! node's Docker Engine answers them, read-only (the API forwards the
//! GET to the engine's socket and its answer back); a node without an
//! engine has none (empty lists), and one whose engine does not answer
//! says so (503).

use std::path::Path;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use hyper_util::rt::TokioIo;
use serde_json::json;

use super::{ApiError, Backend};

/// `GET /containers/json`, `/images/json`, `/volumes`.
pub(super) async fn read(State(b): State<Backend>, req: Request) -> Result<Response, ApiError> {
    let Some(socket) = b.engine.clone() else { return Ok(nothing(req.uri().path())) };
    forward(&socket, req).await.map_err(|e| ApiError {
        status: StatusCode::SERVICE_UNAVAILABLE,
        message: format!("this node's Docker Engine does not answer at {}: {e}", socket.display()),
    })
}

/// What a node without an engine holds: nothing.
fn nothing(path: &str) -> Response {
    match path {
        "/volumes" => axum::Json(json!({ "Volumes": [], "Warnings": [] })).into_response(),
        _ => axum::Json(json!([])).into_response(),
    }
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
