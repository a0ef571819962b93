//! A service's networks, as a client names them: network references (a
//! name, id or id prefix) turned into network ids (also for tasks that
//! `shoal run` starts).

use std::collections::HashSet;

use shoal_proto::{NetworkAttachmentConfig, ServiceSpec};

use super::InvalidSpec;
use super::resolve;
use super::{ControlError, Result};
use crate::store::MemoryStore;

/// Replaces each network reference of the spec by the network's id;
/// refuses unknown networks, the ingress network (joined through
/// published ports only) and a network named twice.
pub fn resolve_networks(store: &MemoryStore, spec: &mut ServiceSpec) -> Result<()> {
    let Some(task) = spec.task.as_mut() else { return Ok(()) };
    resolve_attachments(store, &mut task.networks, Joiner::Service)
}

/// What joins the networks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Joiner {
    Service,
    /// A task outside any service (`shoal run`): attachable networks only.
    Standalone,
}

/// [`resolve_networks`] for a list of attachments.
pub fn resolve_attachments(
    store: &MemoryStore,
    attachments: &mut [NetworkAttachmentConfig],
    joiner: Joiner,
) -> Result<()> {
    let mut seen = HashSet::new();
    for attachment in attachments {
        let network = resolve::network(store, &attachment.target)?;
        let spec = network.spec.as_ref();
        if spec.is_some_and(|s| s.ingress) {
            return Err(ControlError::Invalid(InvalidSpec(format!(
                "network {}: the ingress network cannot be joined explicitly: publish a port instead",
                attachment.target
            ))));
        }
        if joiner == Joiner::Standalone && !spec.is_some_and(|s| s.attachable) {
            return Err(ControlError::Refused(format!(
                "network {}: not attachable: only services join it (create it with --attachable to run tasks on it)",
                attachment.target
            )));
        }
        if !seen.insert(network.id.clone()) {
            return Err(ControlError::Invalid(InvalidSpec(format!("network {}: named twice", attachment.target))));
        }
        attachment.target = network.id.clone();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standalone_tasks_join_attachable_networks_only() {
        let network = |id: &str, name: &str, attachable: bool, ingress: bool| {
            let annotations = Some(shoal_proto::Annotations { name: name.into(), ..Default::default() });
            let spec = shoal_proto::NetworkSpec { annotations, attachable, ingress, ..Default::default() };
            crate::ops::create(shoal_proto::store_object::Object::Network(shoal_proto::Network {
                id: id.into(),
                spec: Some(spec),
                ..Default::default()
            }))
        };
        let mut store = MemoryStore::default();
        let ops = vec![
            network("n1", "front", true, false),
            network("n2", "back", false, false),
            network("n3", "ingress", false, true),
        ];
        store.apply(1, shoal_proto::Batch { ops, timestamp: 1, ..Default::default() }).unwrap();
        let attach = |names: &[&str], joiner: Joiner| {
            let mut list: Vec<NetworkAttachmentConfig> =
                names.iter().map(|n| NetworkAttachmentConfig { target: n.to_string(), aliases: vec![] }).collect();
            resolve_attachments(&store, &mut list, joiner)
                .map(|()| list.into_iter().map(|a| a.target).collect::<Vec<String>>())
        };
        let err = |names: &[&str], joiner: Joiner| attach(names, joiner).unwrap_err().to_string();
        assert_eq!(attach(&["front"], Joiner::Standalone).unwrap(), vec!["n1".to_string()]);
        assert_eq!(attach(&["front", "back"], Joiner::Service).unwrap(), vec!["n1".to_string(), "n2".to_string()]);
        assert!(err(&["front", "back"], Joiner::Standalone).starts_with("network back: not attachable"));
        assert!(err(&["ingress"], Joiner::Standalone).contains("ingress network cannot be joined"));
        assert_eq!(err(&["front", "n1"], Joiner::Service), "network n1: named twice");
        assert_eq!(err(&["nope"], Joiner::Service), "no such network: nope");
    }
}
