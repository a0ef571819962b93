//! Who may call a service: an interceptor per service, from the caller's
//! certificate, refusing nodes removed from the cluster.

use std::sync::Arc;

use tonic::{Request, Status};

use super::{Identity, Peer, Role};

/// Whether a node id was removed from the cluster (its certificate is void).
pub type Removed = Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// The caller's identity, if it presented a certificate of this cluster.
pub fn caller<T>(req: &Request<T>) -> Option<&Identity> {
    req.extensions().get::<Peer>().and_then(|p| p.identity.as_ref())
}

/// An interceptor admitting callers whose certificate has one of `roles`
/// and whose node was not removed.
pub fn require(
    roles: &'static [Role],
    removed: Removed,
) -> impl FnMut(Request<()>) -> Result<Request<()>, Status> + Clone + Send + Sync + 'static {
    move |req: Request<()>| {
        let Some(identity) = caller(&req) else {
            return Err(Status::unauthenticated("a certificate of this cluster is required"));
        };
        if !roles.contains(&identity.role) {
            let allowed: Vec<&str> = roles.iter().map(|r| r.name()).collect();
            return Err(Status::permission_denied(format!(
                "a {} certificate cannot call this service (needs {})",
                identity.role.name(),
                allowed.join(" or ")
            )));
        }
        if removed(&identity.node_id) {
            return Err(Status::permission_denied(format!("node {} was removed from the cluster", identity.node_id)));
        }
        Ok(req)
    }
}
