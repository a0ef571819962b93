//! A node's TLS credentials and the rustls configurations made from them.
//!
//! Credentials are shared: every clone, and every configuration made from
//! them, sees a [`replace`](Credentials::replace) at once (certificates
//! are resolved per handshake), so a renewed certificate takes effect on
//! the next connection without restarting anything.

use std::sync::Arc;

use parking_lot::RwLock;
use rustls::client::ResolvesClientCert;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::danger::ClientCertVerifier;
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{ClientConfig, RootCertStore, ServerConfig, SignatureScheme};

use super::{Identity, provider};

/// Why credentials are unusable.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    #[error("invalid certificate or key: {0}")]
    Tls(#[from] rustls::Error),
    #[error("invalid CA certificate: {0}")]
    Verifier(#[from] rustls::server::VerifierBuilderError),
    #[error("the certificate names no shoal node (expected CN = node id, OU = role)")]
    NoIdentity,
    #[error("the new certificate is from another CA")]
    OtherCa,
}

/// The cluster's root CA, this node's certificate and its key (DER).
#[derive(Clone)]
pub struct Credentials {
    current: Arc<RwLock<Material>>,
}

/// One certificate with its key.
struct Material {
    ca: CertificateDer<'static>,
    key: PrivatePkcs8KeyDer<'static>,
    certified: Arc<CertifiedKey>,
    identity: Identity,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials").field("identity", &self.identity()).finish_non_exhaustive()
    }
}

impl Credentials {
    /// Credentials from DER bytes (key in PKCS#8).
    pub fn new(ca: Vec<u8>, cert: Vec<u8>, key: Vec<u8>) -> Result<Credentials, CredentialsError> {
        let identity = Identity::from_cert(&cert).ok_or(CredentialsError::NoIdentity)?;
        let key = PrivatePkcs8KeyDer::from(key);
        let signing = provider().key_provider.load_private_key(PrivateKeyDer::Pkcs8(key.clone_key()))?;
        let certified = Arc::new(CertifiedKey::new(vec![CertificateDer::from(cert)], signing));
        let material = Material { ca: CertificateDer::from(ca), key, certified, identity };
        let creds = Credentials { current: Arc::new(RwLock::new(material)) };
        // Fail now, not at the first connection.
        creds.client_config()?;
        Ok(creds)
    }

    /// Who these credentials say this node is.
    pub fn identity(&self) -> Identity {
        self.current.read().identity.clone()
    }

    /// The CA certificate (DER).
    pub fn ca(&self) -> Vec<u8> {
        self.current.read().ca.to_vec()
    }

    /// This node's certificate (DER).
    pub fn cert(&self) -> Vec<u8> {
        self.current.read().certified.end_entity_cert().map(|c| c.to_vec()).unwrap_or_default()
    }

    /// When this node's certificate becomes valid and expires.
    pub fn validity(&self) -> Option<(std::time::SystemTime, std::time::SystemTime)> {
        use x509_parser::prelude::{FromDer, X509Certificate};
        let der = self.cert();
        let (_, cert) = X509Certificate::from_der(&der).ok()?;
        let at = |t: x509_parser::time::ASN1Time| {
            std::time::UNIX_EPOCH + std::time::Duration::from_secs(t.timestamp().max(0) as u64)
        };
        Some((at(cert.validity().not_before), at(cert.validity().not_after)))
    }

    /// The private key (PKCS#8 DER), to save it.
    pub fn key_der(&self) -> Vec<u8> {
        self.current.read().key.secret_pkcs8_der().to_vec()
    }

    /// Takes `renewed`'s certificate and key from now on, here and in
    /// every clone and configuration made from these credentials.
    pub fn replace(&self, renewed: &Credentials) -> Result<(), CredentialsError> {
        let new = renewed.current.read();
        let mut current = self.current.write();
        if new.ca != current.ca {
            return Err(CredentialsError::OtherCa);
        }
        current.key = new.key.clone_key();
        current.certified = new.certified.clone();
        current.identity = new.identity.clone();
        Ok(())
    }

    fn roots(&self) -> Result<Arc<RootCertStore>, CredentialsError> {
        let mut roots = RootCertStore::empty();
        roots.add(self.current.read().ca.clone())?;
        Ok(Arc::new(roots))
    }

    /// Server side: present our certificate, ask for the client's (a
    /// client without one is let through, unidentified).
    pub fn server_config(&self) -> Result<ServerConfig, CredentialsError> {
        let verifier =
            WebPkiClientVerifier::builder_with_provider(self.roots()?, provider()).allow_unauthenticated().build()?;
        self.serving(verifier, b"h2")
    }

    /// Server side of HTTPS (the web view): present our certificate and
    /// require one the cluster's CA signed from every client.
    pub fn https_config(&self) -> Result<ServerConfig, CredentialsError> {
        let verifier = WebPkiClientVerifier::builder_with_provider(self.roots()?, provider()).build()?;
        self.serving(verifier, b"http/1.1")
    }

    /// A server presenting our certificate, checking clients with
    /// `verifier`, speaking `protocol` (ALPN).
    fn serving(
        &self,
        verifier: Arc<dyn ClientCertVerifier>,
        protocol: &[u8],
    ) -> Result<ServerConfig, CredentialsError> {
        let mut config = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .with_client_cert_verifier(verifier)
            .with_cert_resolver(Arc::new(self.clone()));
        config.alpn_protocols = vec![protocol.to_vec()];
        Ok(config)
    }

    /// Client side: trust only our CA, present our certificate.
    pub fn client_config(&self) -> Result<ClientConfig, CredentialsError> {
        let mut config = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .with_root_certificates(self.roots()?)
            .with_client_cert_resolver(Arc::new(self.clone()));
        config.alpn_protocols = vec![b"h2".to_vec()];
        Ok(config)
    }
}

impl ResolvesServerCert for Credentials {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.read().certified.clone())
    }
}

impl ResolvesClientCert for Credentials {
    fn resolve(&self, _: &[&[u8]], _: &[SignatureScheme]) -> Option<Arc<CertifiedKey>> {
        Some(self.current.read().certified.clone())
    }

    fn has_certs(&self) -> bool {
        true
    }
}
