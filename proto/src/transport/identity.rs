//! Who is on the other end of a connection: read from the subject of the
//! peer's certificate (CN = node id, OU = role).

use std::net::SocketAddr;

use x509_parser::prelude::{FromDer, X509Certificate};

/// What a certificate allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Manager,
    Worker,
    /// An operator's client certificate (remote CLI).
    Admin,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Manager => "manager",
            Role::Worker => "worker",
            Role::Admin => "admin",
        }
    }

    pub fn from_name(name: &str) -> Option<Role> {
        [Role::Manager, Role::Worker, Role::Admin].into_iter().find(|r| r.name() == name)
    }
}

/// A verified certificate's subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub node_id: String,
    pub role: Role,
}

impl Identity {
    /// Reads the identity of a DER certificate (not verified here).
    pub fn from_cert(der: &[u8]) -> Option<Identity> {
        let (_, cert) = X509Certificate::from_der(der).ok()?;
        let subject = cert.subject();
        let node_id = subject.iter_common_name().next()?.as_str().ok()?.to_string();
        let role = subject.iter_organizational_unit().next()?.as_str().ok()?;
        Some(Identity { node_id, role: Role::from_name(role)? })
    }
}

/// The connection a request came in on; in every request's extensions.
#[derive(Debug, Clone)]
pub struct Peer {
    pub addr: Option<SocketAddr>,
    /// Set when the peer presented a certificate of this cluster.
    pub identity: Option<Identity>,
}
