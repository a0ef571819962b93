//! The Docker Engine API a node serves on its Docker socket (`shoal
//! daemon --docker-api-socket`): axum over HTTP/1, each route a
//! translation to the node's own control API (gRPC over its local
//! socket), so a worker refuses what its control API refuses, a follower
//! forwards writes to the leader, and the answers are the store's.
//!
//! Routes answer with and without a `/v1.NN` prefix ([`version`]); errors
//! are Docker's `{"message"}` with Docker's codes ([`ApiError`]).

mod engine;
mod error;
mod events;
mod files;
mod logs;
mod networks;
mod nodes;
mod query;
mod services;
mod system;
mod tasks;
mod version;

use std::path::{Path, PathBuf};

use axum::Router;
use axum::extract::Request;
use axum::routing::{get, post};
use hyper_util::rt::TokioIo;
use shoal_proto::control_client::ControlClient;
use shoal_proto::node_admin_client::NodeAdminClient;
use tokio_util::sync::CancellationToken;
use tonic::transport::{Channel, Endpoint, Uri};

pub use error::ApiError;
pub use version::{API_VERSION, MIN_API_VERSION};

/// What the routes talk to: the node's control and admin APIs.
#[derive(Clone)]
pub struct Backend {
    control: ControlClient<Channel>,
    admin: NodeAdminClient<Channel>,
    /// Shoal's version, shown where Docker shows the engine's.
    engine_version: &'static str,
    /// Ends the streams (events, logs) when the daemon stops.
    stop: CancellationToken,
    /// The node's Docker Engine socket, if it has one.
    engine: Option<PathBuf>,
}

impl Backend {
    /// Over the node's local control socket at `socket`, connected on
    /// first use (and again after the daemon's socket comes back); its
    /// streams end at `stop`.
    pub fn local(socket: &Path, engine_version: &'static str, stop: CancellationToken) -> Backend {
        let socket: PathBuf = socket.to_path_buf();
        let channel =
            Endpoint::from_static("http://shoal.sock").connect_with_connector_lazy(tower::service_fn(move |_: Uri| {
                let socket = socket.clone();
                async move { Ok::<_, std::io::Error>(TokioIo::new(tokio::net::UnixStream::connect(socket).await?)) }
            }));
        let (control, admin) = (ControlClient::new(channel.clone()), NodeAdminClient::new(channel));
        Backend { control, admin, engine_version, stop, engine: None }
    }

    /// With the node's Docker Engine at `socket`, which answers for the
    /// node's own containers, images and volumes.
    pub fn with_engine(mut self, socket: Option<PathBuf>) -> Backend {
        self.engine = socket;
        self
    }
}

/// The API's routes over `backend`.
pub fn router(backend: Backend) -> Router {
    let engine_version = backend.engine_version;
    let api = Router::new()
        .route("/_ping", get(system::ping).head(system::ping))
        .route("/version", get(system::version))
        .route("/info", get(system::info))
        .route("/swarm", get(system::swarm))
        .route("/nodes", get(nodes::list))
        .route("/nodes/{id}", get(nodes::inspect).delete(nodes::remove))
        .route("/nodes/{id}/update", post(nodes::update))
        .route("/services", get(services::list))
        .route("/services/create", post(services::create))
        .route("/services/{id}", get(services::inspect).delete(services::remove))
        .route("/services/{id}/update", post(services::update))
        .route("/services/{id}/logs", get(logs::service))
        .route("/tasks", get(tasks::list))
        .route("/tasks/{id}", get(tasks::inspect))
        .route("/tasks/{id}/logs", get(logs::task))
        .route("/networks", get(networks::list))
        .route("/networks/create", post(networks::create))
        .route("/networks/{id}", get(networks::inspect).delete(networks::remove))
        .nest("/secrets", files::routes(files::Kind::Secret))
        .nest("/configs", files::routes(files::Kind::Config))
        .route("/distribution/{*name}", get(distribution))
        .route("/containers/json", get(engine::read))
        .route("/containers/{id}/json", get(engine::read))
        .route("/containers/{id}/logs", get(engine::read))
        .route("/images/json", get(engine::read))
        .route("/volumes", get(engine::read))
        .route("/plugins", get(engine::read))
        .route("/events", get(events::stream))
        .fallback(unknown)
        .with_state(backend);
    Router::new().fallback(move |req: Request| version::route(api.clone(), engine_version, req))
}

/// `GET /distribution/{name}/json`: shoal reaches no registry for the
/// CLI, so the image is used as named; the docker CLI warns that it could
/// not pin a digest and goes on (as it does with Swarm offline).
async fn distribution(axum::extract::Path(name): axum::extract::Path<String>) -> ApiError {
    let image = name.strip_suffix("/json").unwrap_or(&name);
    ApiError::not_found(format!("shoal does not query registries: {image} is used as named, without a digest"))
}

/// A route shoal does not serve, answered as Docker answers an unknown path.
async fn unknown(req: Request) -> ApiError {
    ApiError::not_found(format!("page not found: {} {} is not served by shoal", req.method(), req.uri().path()))
}
