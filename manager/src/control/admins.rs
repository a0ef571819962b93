//! `shoal cluster admin`: admin client certificates issued for a
//! client's own key, listed in the cluster object, and revoked.

use shoal_proto::{AdminCertificate, CreateAdminCertificateRequest, CreateAdminCertificateResponse, now_nanos};

use super::InvalidSpec;
use super::{ControlError, Result};
use crate::ca::{self, admin};
use crate::proposer::Proposer;
use crate::store::Store;

/// Signs the client's request into a new admin certificate and lists it.
pub async fn create(
    store: &Store,
    proposer: &Proposer,
    keys: &crate::keys::Keyring,
    req: CreateAdminCertificateRequest,
) -> Result<CreateAdminCertificateResponse> {
    let expiry = admin::expiry(req.expiry_ns).map_err(InvalidSpec)?;
    let (ca, cluster_id) = store
        .view(|s| {
            let cluster = s.cluster().ok_or("the cluster has no CA")?;
            Ok::<_, String>((ca::root_ca(cluster, keys)?, cluster.id.clone()))
        })
        .map_err(ControlError::Refused)?;
    let (id, cert) = ca.sign_admin(&req.csr, &cluster_id, expiry).map_err(|e| InvalidSpec(format!("csr: {e}")))?;
    let listed = admin::listed(&id, now_nanos(), expiry);
    proposer.update_cluster(|cluster| cluster.admin_certificates.push(listed.clone())).await?;
    Ok(CreateAdminCertificateResponse { certificate: Some(listed), cert, ca_cert: ca.cert })
}

/// Revokes the admin certificate `reference` (an id or unique prefix).
pub async fn revoke(store: &Store, proposer: &Proposer, reference: &str) -> Result<AdminCertificate> {
    let id = store.view(|s| {
        let listed = s.cluster().map(|c| c.admin_certificates.as_slice()).unwrap_or_default();
        find(listed, reference)
    })?;
    let now = now_nanos();
    let cluster = proposer
        .update_cluster(|cluster| {
            match cluster.admin_certificates.iter_mut().find(|c| c.id == id) {
                Some(cert) if cert.revoked_at == 0 => cert.revoked_at = now,
                Some(_) => {}
                // Issued before certificates were listed: listed now, revoked.
                None => cluster.admin_certificates.push(AdminCertificate {
                    id: id.clone(),
                    revoked_at: now,
                    ..Default::default()
                }),
            }
        })
        .await?;
    let revoked = cluster.admin_certificates.into_iter().find(|c| c.id == id);
    revoked.ok_or_else(|| ControlError::NotFound(format!("no such admin certificate: {reference}")))
}

/// The id `reference` names: a listed id or unique prefix, or an unlisted
/// full id of the admin form (a certificate issued before listing).
fn find(listed: &[AdminCertificate], reference: &str) -> Result<String> {
    if reference.is_empty() {
        return Err(InvalidSpec("ID: expected an admin certificate id, got \"\"".into()).into());
    }
    let matches: Vec<&AdminCertificate> = listed.iter().filter(|c| c.id.starts_with(reference)).collect();
    match matches.as_slice() {
        [one] => Ok(one.id.clone()),
        [] if reference.starts_with("admin-") && reference.len() == admin::new_id_for_admin().len() => {
            Ok(reference.to_string())
        }
        [] => Err(ControlError::NotFound(format!("no such admin certificate: {reference}"))),
        _ if matches.iter().any(|c| c.id == reference) => Ok(reference.to_string()),
        many => Err(InvalidSpec(format!(
            "admin certificate {reference} is ambiguous: {}",
            many.iter().map(|c| c.id.as_str()).collect::<Vec<_>>().join(", ")
        ))
        .into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_name_one_certificate() {
        let cert = |id: &str| AdminCertificate { id: id.into(), ..Default::default() };
        let listed = vec![cert("admin-abc000000000"), cert("admin-abd000000000")];
        assert_eq!(find(&listed, "admin-abc").unwrap(), "admin-abc000000000");
        assert!(find(&listed, "admin-ab").unwrap_err().to_string().contains("ambiguous"));
        assert!(find(&listed, "admin-zz").unwrap_err().to_string().contains("no such admin certificate"));
        assert_eq!(find(&listed, "admin-zzz000000000").unwrap(), "admin-zzz000000000");
        assert!(find(&listed, "").is_err());
    }
}
