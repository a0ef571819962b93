//! Shoal's data path: the overlay networks tasks join (a Linux bridge and
//! a VXLAN device per network on each node, a network namespace and a
//! veth per task), the routing mesh and service discovery.
//!
//! Everything is set up through netlink and namespaces, never by running
//! `ip`. This crate does the node's side only; what to set up comes from
//! the managers (the worker hands it over).
#![forbid(unsafe_code)]

pub mod datapath;
pub mod dns;
pub mod mesh;
pub mod metrics;
pub mod netns;
pub mod overlay;
pub mod services;
pub mod task_table;
