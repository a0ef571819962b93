//! Secrets and configs: create, inspect, list, remove, and the references
//! a service spec makes to them. A secret's data is sealed with the
//! cluster's data key before it is proposed, and no answer carries it;
//! a config is stored and shown as it is. Both are immutable: rotating
//! one is making another and pointing the services at it.

use shoal_proto::{
    Config, ConfigSpec, FileReference, ListConfigsResponse, ListSecretsResponse, ObjectKind, Secret, SecretSpec,
    ServiceSpec, store_object::Object,
};
use shoal_spec::files;

use super::{ControlError, Result, resolve};
use crate::ids::new_id;
use crate::keys::Keyring;
use crate::leadership::Leadership;
use crate::ops;
use crate::proposer::Proposer;
use crate::store::{MemoryStore, Store};

/// A secret as answers show it: everything but its data.
pub fn without_data(mut secret: Secret) -> Secret {
    secret.sealed = None;
    if let Some(spec) = secret.spec.as_mut() {
        spec.data.clear();
    }
    secret
}

pub async fn create_secret(
    store: &Store,
    proposer: &Proposer,
    keys: &Keyring,
    mut spec: SecretSpec,
    reuse: bool,
) -> Result<Secret> {
    files::secret_spec(&spec)?;
    let name = spec.annotations.as_ref().map_or("", |a| a.name.as_str());
    if let Some(existing) = store.view(|s| s.secret_by_name(name).cloned()).filter(|_| reuse) {
        let data = keys.open(&existing.id, &existing.sealed.clone().unwrap_or_default())?;
        let templating = existing.spec.as_ref().map_or("", |s| s.templating.as_str());
        return same("secret", name, existing.clone(), (&data, templating), (&spec.data, &spec.templating))
            .map(without_data);
    }
    let id = new_id();
    let sealed = keys.seal(&id, &spec.data)?;
    spec.data.clear();
    let secret = Secret { id: id.clone(), spec: Some(spec), sealed: Some(sealed), ..Default::default() };
    proposer.propose(vec![ops::create(Object::Secret(secret))]).await?;
    get_secret(store, &id)
}

pub async fn create_config(store: &Store, proposer: &Proposer, spec: ConfigSpec, reuse: bool) -> Result<Config> {
    files::config_spec(&spec)?;
    let name = spec.annotations.as_ref().map_or("", |a| a.name.as_str());
    if let Some(existing) = store.view(|s| s.config_by_name(name).cloned()).filter(|_| reuse) {
        let held = existing.spec.clone().unwrap_or_default();
        return same("config", name, existing, (&held.data, &held.templating), (&spec.data, &spec.templating));
    }
    let config = Config { id: new_id(), spec: Some(spec), ..Default::default() };
    let id = config.id.clone();
    proposer.propose(vec![ops::create(Object::Config(config))]).await?;
    get_config(store, &id)
}

/// `existing`, when it holds what was asked again (data, template
/// driver); else the refusal Swarm gives, with the way out.
fn same<T>(kind: &str, name: &str, existing: T, held: (&[u8], &str), asked: (&[u8], &str)) -> Result<T> {
    if held == asked {
        return Ok(existing);
    }
    Err(ControlError::Refused(format!(
        "{kind} {name} exists with other data, and a {kind} never changes: give the new data another name \
         (e.g. {name}_v2) and point the services at it"
    )))
}

pub fn get_secret(store: &Store, reference: &str) -> Result<Secret> {
    store.view(|s| Ok(without_data(resolve::secret(s, reference)?.clone())))
}

pub fn get_config(store: &Store, reference: &str) -> Result<Config> {
    store.view(|s| Ok(resolve::config(s, reference)?.clone()))
}

pub fn list_secrets(store: &Store, leadership: &Leadership) -> ListSecretsResponse {
    let warning = leadership.staleness();
    store.view(|s| ListSecretsResponse { secrets: s.secrets().cloned().map(without_data).collect(), warning })
}

pub fn list_configs(store: &Store, leadership: &Leadership) -> ListConfigsResponse {
    let warning = leadership.staleness();
    store.view(|s| ListConfigsResponse { configs: s.configs().cloned().collect(), warning })
}

/// Removes a secret (or a config, with `kind`) no service uses; the store
/// refuses it otherwise, naming the services.
pub async fn remove(store: &Store, proposer: &Proposer, kind: ObjectKind, reference: &str) -> Result<String> {
    let id = store.view(|s| match kind {
        ObjectKind::Config => resolve::config(s, reference).map(|c| c.id.clone()),
        _ => resolve::secret(s, reference).map(|c| c.id.clone()),
    })?;
    proposer.propose(vec![ops::delete(kind, &id)]).await?;
    Ok(id)
}

/// Replaces each secret and config reference of the spec (a name, id or
/// id prefix in `id`) by the object's id and name, then checks targets
/// and modes (see [`files::references`]).
pub fn resolve_references(store: &MemoryStore, spec: &mut ServiceSpec) -> Result<()> {
    let Some(container) = spec.task.as_mut().and_then(|t| t.container.as_mut()) else { return Ok(()) };
    let source = |r: &FileReference| if r.id.is_empty() { r.name.clone() } else { r.id.clone() };
    for r in &mut container.secrets {
        let secret = resolve::secret(store, &source(r))?;
        (r.id, r.name) = (secret.id.clone(), secret.name().to_string());
    }
    for r in &mut container.configs {
        let config = resolve::config(store, &source(r))?;
        (r.id, r.name) = (config.id.clone(), config.name().to_string());
    }
    files::references(container)?;
    Ok(())
}
