//! Certificates on disk, in PEM: this node's under
//! `<data-dir>/certificates/`, and the admin client bundle written at
//! `node init` under `<data-dir>/certificates/admin/` (copy that folder to
//! `~/.shoal` on a machine to run `shoal --host https://IP:4242` there).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::{NodeError, Result};
use shoal_proto::transport::Credentials;

const CA: &str = "ca.pem";
const CERT: &str = "cert.pem";
const KEY: &str = "key.pem";

/// Where this node keeps its certificates.
pub fn node_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("certificates")
}

/// Where `node init` puts the admin client bundle.
pub fn admin_dir(data_dir: &Path) -> PathBuf {
    node_dir(data_dir).join("admin")
}

/// Writes credentials (CA certificate, certificate, key) into `dir`.
/// Callers that replace a node's credentials hold the daemon's `changing`
/// lock, so two sets never mix.
pub fn save(dir: &Path, ca: &[u8], cert: &[u8], key: &[u8]) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| NodeError::io("creating", dir, e))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .map_err(|e| NodeError::io("making private", dir, e))?;
    let write = |name: &str, tag: &str, der: &[u8], mode: u32| {
        crate::files::write(&dir.join(name), pem::encode(&pem::Pem::new(tag, der.to_vec())).as_bytes(), mode)
    };
    write(CA, "CERTIFICATE", ca, 0o644)?;
    write(CERT, "CERTIFICATE", cert, 0o644)?;
    write(KEY, "PRIVATE KEY", key, 0o600)
}

/// Saves a node's credentials.
pub fn save_credentials(dir: &Path, creds: &Credentials) -> Result<()> {
    save(dir, &creds.ca(), &creds.cert(), &creds.key_der())
}

/// Whether the certificate of `creds` has expired.
pub fn expired(creds: &Credentials) -> bool {
    creds.validity().is_some_and(|(_, until)| until <= std::time::SystemTime::now())
}

/// Reads the credentials in `dir`.
pub fn load(dir: &Path) -> Result<Credentials> {
    let read = |name: &str| -> Result<Vec<u8>> {
        let path = dir.join(name);
        let text = std::fs::read(&path).map_err(|e| NodeError::io("reading", &path, e))?;
        let pem = pem::parse(text).map_err(|e| NodeError::Corrupt(format!("{} is not PEM: {e}", path.display())))?;
        Ok(pem.into_contents())
    };
    Credentials::new(read(CA)?, read(CERT)?, read(KEY)?)
        .map_err(|e| NodeError::Corrupt(format!("the certificates in {} are not usable: {e}", dir.display())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use shoal_manager::ca::{DEFAULT_CERT_EXPIRY, RootCa};
    use shoal_proto::transport::Role;

    #[test]
    fn credentials_round_trip_through_pem_files() {
        let dir = tempfile::tempdir().unwrap();
        let ca = RootCa::generate().unwrap();
        let own = ca.issue("n1", Role::Manager, "c1", DEFAULT_CERT_EXPIRY).unwrap();
        save(dir.path(), &ca.cert, &own.cert, &own.key).unwrap();
        let creds = load(dir.path()).unwrap();
        assert_eq!(creds.identity().node_id, "n1");
        let mode = std::fs::metadata(dir.path().join(KEY)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
