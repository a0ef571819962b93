//! Admin client certificates: an operator's key to the control API from
//! another machine (`shoal --host https://...`). Each has an id of its own
//! (its CN), is listed in the cluster object from its issue on, and can be
//! revoked: every manager then refuses it, and it cannot be renewed.

use std::time::Duration;

use shoal_proto::AdminCertificate;
use shoal_proto::transport::Role;

use super::{CaError, MIN_CERT_EXPIRY, RootCa};
use crate::ids::new_id;

/// Lifetime of an admin certificate unless asked otherwise.
pub const DEFAULT_EXPIRY: Duration = Duration::from_secs(365 * 24 * 3600);

/// Longest lifetime an admin certificate may be given.
pub const MAX_EXPIRY: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

/// A new admin certificate id: `admin-` and 12 characters.
pub fn new_id_for_admin() -> String {
    format!("admin-{}", &new_id()[..12])
}

/// Checks a requested lifetime (0: the default).
pub fn expiry(requested_ns: i64) -> Result<Duration, String> {
    match requested_ns {
        0 => Ok(DEFAULT_EXPIRY),
        ns if ns < 0 => Err(format!("--expiry: expected a positive duration, got {ns}ns")),
        ns => {
            let expiry = Duration::from_nanos(ns as u64);
            if expiry < MIN_CERT_EXPIRY || expiry > MAX_EXPIRY {
                return Err(format!(
                    "--expiry: expected between {MIN_CERT_EXPIRY:?} and {} days, got {expiry:?}",
                    MAX_EXPIRY.as_secs() / 86400
                ));
            }
            Ok(expiry)
        }
    }
}

/// What the cluster object lists of an issued certificate.
pub fn listed(id: &str, issued_at: i64, expiry: Duration) -> AdminCertificate {
    AdminCertificate {
        id: id.to_string(),
        issued_at,
        expires_at: issued_at.saturating_add(expiry.as_nanos() as i64),
        revoked_at: 0,
    }
}

impl RootCa {
    /// Signs `csr` (DER) into a new admin certificate; its id and DER.
    pub fn sign_admin(&self, csr: &[u8], cluster_id: &str, expiry: Duration) -> Result<(String, Vec<u8>), CaError> {
        let id = new_id_for_admin();
        let cert = self.sign(csr, &id, Role::Admin, cluster_id, expiry)?;
        Ok((id, cert))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes_are_checked() {
        assert_eq!(expiry(0), Ok(DEFAULT_EXPIRY));
        assert_eq!(expiry(3_600_000_000_000), Ok(Duration::from_secs(3600)));
        assert!(expiry(-1).unwrap_err().starts_with("--expiry: expected a positive duration"));
        assert!(expiry(1).unwrap_err().starts_with("--expiry: expected between"));
        assert!(expiry(i64::MAX).is_err());
        let listed = listed("admin-x", 10, Duration::from_nanos(5));
        assert_eq!((listed.issued_at, listed.expires_at, listed.revoked_at), (10, 15, 0));
    }
}
