//! The Swarm part of the Docker Engine API, over shoal: what lets the
//! `docker` CLI, `docker stack deploy` and tools written for Swarm
//! (Traefik's provider, Portainer) drive a shoal cluster unchanged.
//!
//! - [`shape`]: shoal's objects in Docker's JSON shapes (what `shoal ...
//!   inspect` prints, and what the API answers).
//! - [`filters`]: Docker's filter keys, for `ls --filter` and the API's
//!   `filters` parameter alike.
//! - [`parse`]: Docker's JSON specs into shoal's (what `docker service create`
//!   sends), refusing what shoal cannot honour.
//! - [`server`]: the HTTP API a manager serves on its Docker socket, a
//!   translator in front of the node's own control API (so forwarding to
//!   the leader, refusals and authority are the control API's).
#![forbid(unsafe_code)]

pub mod filters;
pub mod parse;
pub mod server;
pub mod shape;
