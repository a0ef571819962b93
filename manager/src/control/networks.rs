//! Network create, inspect, list and remove. The store allocates a new
//! network's subnet and VXLAN id and refuses removing one still in use.

use shoal_proto::{
    Annotations, ListNetworksResponse, Network, NetworkSpec, ObjectKind, RemoveNetworkResponse, store_object::Object,
};

use super::{ControlError, Result, resolve};
use super::{InvalidSpec, validate};
use crate::ids::new_id;
use crate::leadership::Leadership;
use crate::ops;
use crate::proposer::Proposer;
use crate::store::Store;

/// The only network driver.
pub const OVERLAY: &str = "overlay";
/// Name of the routing mesh's network, made at init.
pub const INGRESS: &str = "ingress";

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

/// Checks a network spec from a client; the driver defaults to overlay.
pub fn network_spec(mut spec: NetworkSpec) -> std::result::Result<NetworkSpec, InvalidSpec> {
    let annotations = spec.annotations.get_or_insert_with(Default::default);
    if annotations.name.is_empty() {
        return Err(InvalidSpec("name: a network needs a name".into()));
    }
    validate::check_name(&annotations.name)?;
    validate::check_labels("label", annotations.labels.keys())?;
    if spec.driver.is_empty() {
        spec.driver = OVERLAY.into();
    }
    if spec.driver != OVERLAY {
        return Err(InvalidSpec(format!("driver: only {OVERLAY:?} is supported, got {:?}", spec.driver)));
    }
    if !spec.gateway.is_empty() && spec.subnet.is_empty() {
        return Err(InvalidSpec("gateway: needs --subnet too".into()));
    }
    if spec.ingress && spec.attachable {
        return Err(InvalidSpec("an ingress network cannot be attachable".into()));
    }
    if spec.ingress && spec.internal {
        return Err(InvalidSpec("an ingress network cannot be internal".into()));
    }
    validate::check_size("spec", &spec)?;
    Ok(spec)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str) -> NetworkSpec {
        NetworkSpec { annotations: Some(Annotations { name: name.into(), ..Default::default() }), ..Default::default() }
    }

    #[test]
    fn specs_are_checked_and_default_to_overlay() {
        assert_eq!(network_spec(spec("back")).unwrap().driver, "overlay");
        let err = |s: NetworkSpec| network_spec(s).unwrap_err().to_string();
        assert_eq!(err(spec("")), "name: a network needs a name");
        assert_eq!(
            err(NetworkSpec { driver: "bridge".into(), ..spec("b") }),
            "driver: only \"overlay\" is supported, got \"bridge\""
        );
        assert_eq!(err(NetworkSpec { gateway: "10.1.0.1".into(), ..spec("b") }), "gateway: needs --subnet too");
        assert!(err(spec("bad name")).starts_with("name:"), "{}", err(spec("bad name")));
        assert_eq!(
            err(NetworkSpec { ingress: true, internal: true, ..spec("i") }),
            "an ingress network cannot be internal"
        );
    }
}
