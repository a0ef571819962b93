//! The cluster's certificate authority.
//!
//! `node init` makes a root CA (ECDSA P-256); its certificate and key live
//! in the Cluster object, the key sealed with the cluster's data key
//! (which every manager holds), so every manager can issue certificates. A node
//! certificate names the node (CN = node id, OU = role, O = cluster id)
//! and carries the server names the transport checks ("shoal-node", plus
//! "shoal-manager" for managers). Join tokens ([`token`]) pin the CA by its
//! digest and carry a secret per role.

pub mod admin;
pub mod rejoin;
pub mod service;
pub mod serving;
pub mod token;

use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, CertificateSigningRequestParams, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType, SerialNumber,
};
use rustls_pki_types::{CertificateDer, CertificateSigningRequestDer};
use shoal_proto::transport::{MANAGER_NAME, NODE_NAME, Role};
use shoal_proto::{JoinTokens, RootCa as RootCaObject};

use crate::keys::{KeyError, Keyring};
use time::OffsetDateTime;

/// Node certificates live this long unless the cluster says otherwise.
pub const DEFAULT_CERT_EXPIRY: Duration = Duration::from_secs(90 * 24 * 3600);
/// Shortest certificate validity accepted (Swarm asks for 1 h; shoal
/// accepts less so that renewal can be seen working in tests).
pub const MIN_CERT_EXPIRY: std::time::Duration = std::time::Duration::from_secs(10);
const ROOT_EXPIRY: Duration = Duration::from_secs(20 * 365 * 24 * 3600);
/// Certificates are valid from a little before their issue (clock skew):
/// this long, or a quarter of their lifetime if shorter (renewal is timed
/// from the start of validity).
const BACKDATE: Duration = Duration::from_secs(3600);

/// Why a certificate could not be made.
#[derive(Debug, thiserror::Error)]
pub enum CaError {
    #[error("certificate: {0}")]
    Rcgen(#[from] rcgen::Error),
    #[error("invalid certificate signing request: {0}")]
    BadCsr(rcgen::Error),
}

/// A root CA: DER certificate and PKCS#8 key.
#[derive(Clone)]
pub struct RootCa {
    pub cert: Vec<u8>,
    pub key: Vec<u8>,
}

/// A new key and a certificate for it.
pub struct Issued {
    pub cert: Vec<u8>,
    pub key: Vec<u8>,
}

fn validity(params: &mut CertificateParams, lifetime: Duration) {
    let now = OffsetDateTime::now_utc();
    params.not_before = now - BACKDATE.min(lifetime / 4);
    params.not_after = now + lifetime;
    params.serial_number = Some(SerialNumber::from(rand::random::<u64>() >> 1));
}

impl RootCa {
    /// A new root CA.
    pub fn generate() -> Result<RootCa, CaError> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, "shoal root CA");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        validity(&mut params, ROOT_EXPIRY);
        let cert = params.self_signed(&key)?;
        Ok(RootCa { cert: cert.der().to_vec(), key: key.serialize_der() })
    }

    /// The digest a join token carries: SHA-256 of the certificate, base 36.
    pub fn digest(&self) -> String {
        token::digest(&self.cert)
    }

    fn params(node_id: &str, role: Role, cluster_id: &str, lifetime: Duration) -> Result<CertificateParams, CaError> {
        let mut names = vec![NODE_NAME.to_string()];
        if role == Role::Manager {
            names.push(MANAGER_NAME.to_string());
        }
        let mut params = CertificateParams::default();
        params.subject_alt_names =
            names.into_iter().map(|n| Ok(SanType::DnsName(n.try_into()?))).collect::<Result<_, rcgen::Error>>()?;
        params.distinguished_name = DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, node_id);
        params.distinguished_name.push(DnType::OrganizationalUnitName, role.name());
        params.distinguished_name.push(DnType::OrganizationName, cluster_id);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth];
        validity(&mut params, lifetime);
        Ok(params)
    }

    fn issuer(&self) -> Result<Issuer<'static, KeyPair>, CaError> {
        let key = KeyPair::try_from(self.key.as_slice())?;
        Ok(Issuer::from_ca_cert_der(&CertificateDer::from(self.cert.as_slice()), key)?)
    }

    /// Signs the public key of `csr` (DER) into a certificate for
    /// `node_id` with `role`; the request's own subject is ignored.
    pub fn sign(
        &self,
        csr: &[u8],
        node_id: &str,
        role: Role,
        cluster_id: &str,
        lifetime: Duration,
    ) -> Result<Vec<u8>, CaError> {
        let mut request = CertificateSigningRequestParams::from_der(&CertificateSigningRequestDer::from(csr))
            .map_err(CaError::BadCsr)?;
        request.params = Self::params(node_id, role, cluster_id, lifetime)?;
        Ok(request.signed_by(&self.issuer()?)?.der().to_vec())
    }

    /// A new key and its certificate, made here (this node's own, or an
    /// admin client certificate).
    pub fn issue(&self, node_id: &str, role: Role, cluster_id: &str, lifetime: Duration) -> Result<Issued, CaError> {
        let key = KeyPair::generate()?;
        let cert = Self::params(node_id, role, cluster_id, lifetime)?.signed_by(&key, &self.issuer()?)?;
        Ok(Issued { cert: cert.der().to_vec(), key: key.serialize_der() })
    }
}

/// How long node certificates of `cluster` live.
pub fn node_cert_lifetime(cluster: &shoal_proto::Cluster) -> Duration {
    let expiry = cluster.spec.as_ref().and_then(|s| s.ca.as_ref()).map_or(0, |c| c.node_cert_expiry_ns);
    if expiry > 0 { Duration::from_nanos(expiry as u64) } else { DEFAULT_CERT_EXPIRY }
}

/// The cluster's root CA, its key opened with the data key; or why
/// it cannot be used.
pub fn root_ca(cluster: &shoal_proto::Cluster, keys: &Keyring) -> Result<RootCa, String> {
    let root = cluster.root_ca.as_ref().ok_or("the cluster has no CA")?;
    let key = match &root.sealed_key {
        Some(sealed) => keys.open(&cluster.id, sealed).map_err(|e| format!("the CA's key: {e}"))?,
        None => root.key.clone(),
    };
    Ok(RootCa { cert: root.cert.clone(), key })
}

impl RootCa {
    /// The CA as the cluster object of `cluster_id` stores it: its key
    /// sealed with the data key, never in the clear.
    pub fn stored(&self, cluster_id: &str, keys: &Keyring, tokens: JoinTokens) -> Result<RootCaObject, KeyError> {
        Ok(RootCaObject {
            cert: self.cert.clone(),
            key: Vec::new(),
            join_tokens: Some(tokens),
            sealed_key: Some(keys.seal(cluster_id, &self.key)?),
        })
    }
}

/// A new key and a certificate signing request for it (DER), as a
/// joining node sends to the CA.
pub fn request() -> Result<(Vec<u8>, Vec<u8>), CaError> {
    let key = KeyPair::generate()?;
    let csr = CertificateParams::default().serialize_request(&key)?;
    Ok((csr.der().to_vec(), key.serialize_der()))
}

/// A certificate signing request (DER) for the key `key` (PKCS#8 DER) a
/// node holds already (a re-join proves it still has it).
pub fn request_for(key: &[u8]) -> Result<Vec<u8>, CaError> {
    let key = KeyPair::try_from(key)?;
    Ok(CertificateParams::default().serialize_request(&key)?.der().to_vec())
}

#[cfg(test)]
mod tests {
    use shoal_proto::transport::{Credentials, Identity};

    use super::*;
    use crate::keys::DataKey;

    /// Every file under `dir` holding `needle`.
    fn holding(dir: &std::path::Path, needle: &[u8]) -> Vec<std::path::PathBuf> {
        let mut found = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                found.extend(holding(&path, needle));
            } else if std::fs::read(&path).is_ok_and(|b| b.windows(needle.len()).any(|w| w == needle)) {
                found.push(path);
            }
        }
        found
    }

    #[tokio::test]
    async fn the_ca_key_is_sealed_in_the_store_and_on_disk() {
        let one = crate::testing::OneVoter::start().await;
        let cluster = one.handles.store.view(|s| s.cluster().cloned()).unwrap();
        assert!(cluster.root_ca.as_ref().unwrap().key.is_empty(), "never in the clear");
        let ca = root_ca(&cluster, &one.handles.keys).unwrap();
        assert!(ca.issue("n1", Role::Worker, &cluster.id, DEFAULT_CERT_EXPIRY).is_ok(), "the key opens and signs");
        let other = Keyring::with(DataKey::generate().unwrap());
        assert!(root_ca(&cluster, &other).err().unwrap().starts_with("the CA's key: sealed data does not open"));
        assert!(root_ca(&cluster, &Keyring::default()).err().unwrap().contains("does not hold the cluster's data key"));
        assert_eq!(holding(one.dir(), &ca.key), Vec::<std::path::PathBuf>::new());
    }

    #[test]
    fn issued_certificates_name_the_node_and_verify_against_the_ca() {
        let ca = RootCa::generate().unwrap();
        let (csr, key) = request().unwrap();
        let cert = ca.sign(&csr, "node1", Role::Worker, "cluster1", DEFAULT_CERT_EXPIRY).unwrap();
        assert_eq!(Identity::from_cert(&cert), Some(Identity { node_id: "node1".into(), role: Role::Worker }));
        // rustls accepts them together (key matches, CA parses).
        Credentials::new(ca.cert.clone(), cert, key).unwrap();

        let own = ca.issue("node2", Role::Manager, "cluster1", DEFAULT_CERT_EXPIRY).unwrap();
        let creds = Credentials::new(ca.cert.clone(), own.cert, own.key).unwrap();
        assert_eq!(creds.identity().role, Role::Manager);
        assert!(ca.sign(b"garbage", "x", Role::Worker, "c", DEFAULT_CERT_EXPIRY).is_err());
    }
}
