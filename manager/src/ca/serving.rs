//! Certificates for a manager's HTTPS endpoints (the web view, the Docker
//! Engine API over TCP). Node certificates carry only the transport's
//! names ("shoal-manager"); a client that checks the server against the
//! address it dialed (the docker CLI's `--tlsverify`, a browser) needs
//! that address in the certificate. So each endpoint presents a short-lived
//! certificate made for the address the client reached, signed by the
//! cluster's CA, naming this manager as its node certificate does.

use std::net::IpAddr;
use std::time::Duration;

use rcgen::{ExtendedKeyUsagePurpose, KeyPair, SanType};
use shoal_proto::Cluster;
use shoal_proto::transport::{Credentials, Role};

use super::{Issued, RootCa, root_ca};
use crate::keys::Keyring;

/// How long a serving certificate lives (it is made again before then).
pub const LIFETIME: Duration = Duration::from_secs(24 * 3600);

impl RootCa {
    /// A new key and a server certificate for manager `node_id` reached
    /// at `ip`: the manager's names and `ip`.
    pub fn issue_serving(
        &self,
        node_id: &str,
        cluster_id: &str,
        ip: IpAddr,
        lifetime: Duration,
    ) -> Result<Issued, super::CaError> {
        let key = KeyPair::generate()?;
        let mut params = Self::params(node_id, Role::Manager, cluster_id, lifetime)?;
        params.subject_alt_names.push(SanType::IpAddress(ip));
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let cert = params.signed_by(&key, &self.issuer()?)?;
        Ok(Issued { cert: cert.der().to_vec(), key: key.serialize_der() })
    }
}

/// Credentials for manager `node_id` of `cluster` to serve HTTPS at `ip`
/// for [`LIFETIME`]: the cluster's CA (to check clients) and a
/// certificate made now for `ip`.
pub fn credentials(cluster: &Cluster, keys: &Keyring, node_id: &str, ip: IpAddr) -> Result<Credentials, String> {
    let ca = root_ca(cluster, keys)?;
    let issued = ca.issue_serving(node_id, &cluster.id, ip, LIFETIME).map_err(|e| e.to_string())?;
    Credentials::new(ca.cert, issued.cert, issued.key).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};

    use super::*;

    #[test]
    fn the_certificate_names_the_manager_and_the_address() {
        let ca = RootCa::generate().unwrap();
        let ip: IpAddr = "127.0.0.9".parse().unwrap();
        let issued = ca.issue_serving("node1", "cluster1", ip, LIFETIME).unwrap();
        let creds = Credentials::new(ca.cert.clone(), issued.cert.clone(), issued.key).unwrap();
        assert_eq!((creds.identity().node_id.as_str(), creds.identity().role), ("node1", Role::Manager));
        let (_, cert) = X509Certificate::from_der(&issued.cert).unwrap();
        let names = cert.subject_alternative_name().unwrap().unwrap().value.general_names.clone();
        assert!(names.contains(&GeneralName::DNSName(shoal_proto::transport::MANAGER_NAME)));
        assert!(names.contains(&GeneralName::IPAddress(&[127, 0, 0, 9])));
        let usage = cert.extended_key_usage().unwrap().unwrap().value.clone();
        assert!(usage.server_auth && !usage.client_auth, "a serving certificate is no client's");
    }
}
