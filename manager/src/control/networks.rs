//! Network create, inspect, list and remove. The store allocates a new
//! network's subnet and VXLAN id and refuses removing one still in use.

use shoal_proto::{
    Annotations, ListNetworksResponse, Network, NetworkSpec, ObjectKind, RemoveNetworkResponse, store_object::Object,
};

use super::{ControlError, Result, resolve};
use crate::ids::new_id;
use crate::leadership::Leadership;
use crate::ops;
use crate::proposer::Proposer;
use crate::store::Store;

use shoal_spec::network::network_spec;
pub use shoal_spec::network::{INGRESS, OVERLAY};

pub async fn create(store: &Store, proposer: &Proposer, spec: NetworkSpec) -> Result<Network> {
    let spec = network_spec(spec)?;
    let network = Network { id: new_id(), spec: Some(spec), ..Default::default() };
    let id = network.id.clone();
    proposer.propose(vec![ops::create(Object::Network(network))]).await?;
    store.view(|s| s.network(&id).cloned()).ok_or_else(|| ControlError::NotFound(format!("no such network: {id}")))
}

/// The routing mesh's network, as `node init` makes it.
pub fn ingress() -> Network {
    let spec = NetworkSpec {
        annotations: Some(Annotations { name: INGRESS.into(), ..Default::default() }),
        driver: OVERLAY.into(),
        ingress: true,
        ..Default::default()
    };
    Network { id: new_id(), spec: Some(spec), ..Default::default() }
}

pub fn get(store: &Store, reference: &str) -> Result<Network> {
    store.view(|s| Ok(resolve::network(s, reference)?.clone()))
}

pub fn list(store: &Store, leadership: &Leadership) -> ListNetworksResponse {
    let warning = leadership.staleness();
    store.view(|s| ListNetworksResponse { networks: s.networks().cloned().collect(), warning })
}

/// Removes a network no service uses and no task holds an address on.
pub async fn remove(store: &Store, proposer: &Proposer, reference: &str) -> Result<RemoveNetworkResponse> {
    let id = store.view(|s| resolve::network(s, reference).map(|n| n.id.clone()))?;
    proposer.propose(vec![ops::delete(ObjectKind::Network, &id)]).await?;
    Ok(RemoveNetworkResponse { network_id: id })
}
