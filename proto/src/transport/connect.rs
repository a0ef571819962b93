//! Client side: gRPC channels over TLS that this module sets up itself, so
//! that it decides what a server must prove.

use std::sync::Arc;

use hyper_util::rt::TokioIo;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tonic::transport::{Channel, Endpoint, Uri};

use super::{CONNECT_TIMEOUT, Credentials, CredentialsError, provider};

/// A channel to the node at `addr` (`IP:PORT`), connecting on first use:
/// the server must hold a certificate of our CA carrying `server_name`
/// ([`NODE_NAME`](super::NODE_NAME) or [`MANAGER_NAME`](super::MANAGER_NAME)),
/// and we present ours.
pub fn channel(addr: &str, creds: &Credentials, server_name: &'static str) -> Result<Channel, CredentialsError> {
    Ok(lazy(addr, creds.client_config()?, server_name))
}

/// A channel that trusts only `ca` (DER) and presents no certificate: a
/// joining node, once it has checked the CA against its token.
pub fn pinned_channel(addr: &str, ca: &[u8], server_name: &'static str) -> Result<Channel, CredentialsError> {
    let mut roots = RootCertStore::empty();
    roots.add(CertificateDer::from(ca.to_vec()))?;
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(lazy(addr, config, server_name))
}

/// A channel that accepts any server: only for fetching the root CA
/// certificate, which the caller then checks against its join token.
pub fn bootstrap_channel(addr: &str) -> Result<Channel, CredentialsError> {
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyServer(provider())))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(lazy(addr, config, super::NODE_NAME))
}

fn lazy(addr: &str, config: ClientConfig, server_name: &'static str) -> Channel {
    let connector = TlsConnector::from(Arc::new(config));
    let target = addr.to_string();
    let connect = tower::service_fn(move |_: Uri| {
        let (connector, target) = (connector.clone(), target.clone());
        async move {
            let tcp = TcpStream::connect(&target).await?;
            tcp.set_nodelay(true)?;
            let name = ServerName::try_from(server_name).map_err(std::io::Error::other)?;
            let tls = connector.connect(name, tcp).await?;
            Ok::<_, std::io::Error>(TokioIo::new(tls))
        }
    });
    // The URI only names the authority; the connector above does the rest.
    let endpoint = Endpoint::from_shared(format!("http://{addr}"))
        .unwrap_or_else(|_| Endpoint::from_static("http://invalid.address"))
        .connect_timeout(CONNECT_TIMEOUT)
        .http2_keep_alive_interval(std::time::Duration::from_secs(10))
        .keep_alive_timeout(std::time::Duration::from_secs(5));
    endpoint.connect_with_connector_lazy(connect)
}

/// Accepts any certificate (signatures are still checked).
#[derive(Debug)]
struct AnyServer(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyServer {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
