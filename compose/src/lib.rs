//! Stacks: compose files read as `docker stack` reads them. This first
//! part loads them ([`load`]: decoding, YAML, [`interpolate`] with the
//! environment and [`envfile`]s, [`merge`] of several files, and the
//! [`check`] of keys a swarm ignores or refuses), typed ([`model`]), and
//! each service made a service spec ([`convert`]) for `stack deploy`,
//! with the stack's [`networks`], [`volumes`], secrets and configs
//! ([`files`]).

pub mod check;
pub mod convert;
pub mod declared;
pub mod envfile;
pub mod files;
pub mod interpolate;
pub mod load;
pub mod merge;
pub mod model;
pub mod networks;
pub mod resolve;
pub mod schema;
pub mod volumes;
