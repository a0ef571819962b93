//! A member whose certificate expired while it was down (past its
//! lifetime: 90 days by default) cannot renew it, since every manager
//! refuses an expired certificate. It re-joins with a join token instead,
//! keeping its identity: it sends its expired certificate and a request
//! signed with that certificate's key. The CA checks that the certificate
//! is one it issued and the key the same, and the service that the node
//! is still a member, before issuing it anew.

use shoal_proto::transport::Identity;
use x509_parser::certification_request::X509CertificationRequest;
use x509_parser::prelude::{FromDer, X509Certificate};

/// The identity `expired` (DER) names, if the CA `ca` (DER) issued it
/// and `csr` (DER) is signed with its key.
pub fn prove(ca: &[u8], expired: &[u8], csr: &[u8]) -> Result<Identity, String> {
    let (_, ca) = X509Certificate::from_der(ca).map_err(|e| format!("the CA certificate: {e}"))?;
    let (_, cert) = X509Certificate::from_der(expired).map_err(|e| format!("expired_certificate: {e}"))?;
    cert.verify_signature(Some(ca.public_key()))
        .map_err(|_| "expired_certificate: not issued by this cluster's CA".to_string())?;
    let identity = Identity::from_cert(expired).ok_or("expired_certificate: it names no shoal node")?;
    let (_, request) = X509CertificationRequest::from_der(csr).map_err(|e| format!("csr: {e}"))?;
    request.verify_signature().map_err(|_| "csr: its signature does not verify".to_string())?;
    if request.certification_request_info.subject_pki.raw != cert.public_key().raw {
        return Err("csr: not made with the key of the expired certificate".into());
    }
    Ok(identity)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use shoal_proto::transport::Role;

    use super::*;
    use crate::ca::RootCa;

    fn csr_with(key: &[u8]) -> Vec<u8> {
        crate::ca::request_for(key).unwrap()
    }

    #[test]
    fn only_the_holder_of_a_certificate_of_this_ca_gets_it_back() {
        let ca = RootCa::generate().unwrap();
        let own = ca.issue("node1", Role::Worker, "c", Duration::from_secs(10)).unwrap();
        let identity = prove(&ca.cert, &own.cert, &csr_with(&own.key)).unwrap();
        assert_eq!(identity, Identity { node_id: "node1".into(), role: Role::Worker });

        let other_key = crate::ca::request().unwrap().1;
        assert_eq!(
            prove(&ca.cert, &own.cert, &csr_with(&other_key)).unwrap_err(),
            "csr: not made with the key of the expired certificate"
        );
        let foreign = RootCa::generate().unwrap();
        let stranger = foreign.issue("node1", Role::Worker, "c", Duration::from_secs(10)).unwrap();
        assert_eq!(
            prove(&ca.cert, &stranger.cert, &csr_with(&stranger.key)).unwrap_err(),
            "expired_certificate: not issued by this cluster's CA"
        );
        assert!(prove(&ca.cert, b"junk", &csr_with(&own.key)).is_err());
    }
}
