//! Who may call a service: an interceptor per service, from the caller's
//! certificate and its standing now (a certificate outlives a demotion,
//! a removal or a revocation: the service says whether it still counts).

use std::sync::Arc;

use tonic::{Request, Status};

use super::{Identity, Peer, Role};

/// Whether a caller still holds the rights its certificate names, and if
/// not, why (its node was removed or demoted, its certificate revoked).
pub type Standing = Arc<dyn Fn(&Identity) -> Result<(), String> + Send + Sync>;

/// A [`Standing`] that takes every certificate as it is.
pub fn as_certified() -> Standing {
    Arc::new(|_: &Identity| Ok(()))
}

/// The caller's identity, if it presented a certificate of this cluster.
pub fn caller<T>(req: &Request<T>) -> Option<&Identity> {
    req.extensions().get::<Peer>().and_then(|p| p.identity.as_ref())
}

/// An interceptor admitting callers whose certificate has one of `roles`
/// and who are in good `standing`.
pub fn require(
    roles: &'static [Role],
    standing: Standing,
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
        standing(identity).map_err(Status::permission_denied)?;
        Ok(req)
    }
}
