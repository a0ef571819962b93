//! Stacks: compose files read as `docker stack` reads them. This first
//! part loads them ([`load`]: decoding, YAML, [`interpolate`] with the
//! environment and [`envfile`]s, [`merge`] of several files) for `stack
//! config`; typing the model and deploying it come next.

pub mod envfile;
pub mod interpolate;
pub mod load;
pub mod merge;
