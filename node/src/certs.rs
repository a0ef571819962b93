//! Certificates on disk, in PEM: this node's under
//! `<data-dir>/certificates/`, and the admin client bundle written at
//! `node init` under `<data-dir>/certificates/admin/` (copy that folder to
//! `~/.shoal` on a machine to run `shoal --host https://IP:4242` there).

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::{NodeError, Result};
use shoal_manager::keys::{DataKey, sealed_bytes, sealed_from};
use shoal_proto::transport::Credentials;

const CA: &str = "ca.pem";
const CERT: &str = "cert.pem";
const KEY: &str = "key.pem";
/// The PEM tag of a key sealed with the unlock key (autolock).
const SEALED_KEY: &str = "SHOAL SEALED PRIVATE KEY";
/// What a sealed key is sealed for (associated data).
const SEALED_FOR: &str = "shoal node key";

/// The unlock key each certificates directory's key is sealed with
/// (autolock), held in memory only, from `node unlock` or while the
/// cluster autolocks its managers: every later save seals with it.
static LOCKS: parking_lot::Mutex<Option<HashMap<PathBuf, DataKey>>> = parking_lot::Mutex::new(None);

/// Seals the key of `dir` with `lock` from now on (`None`: in the clear).
pub fn set_lock(dir: &Path, lock: Option<DataKey>) {
    let mut locks = LOCKS.lock();
    let locks = locks.get_or_insert_with(HashMap::new);
    match lock {
        Some(lock) => locks.insert(dir.to_path_buf(), lock),
        None => locks.remove(dir),
    };
}

fn lock_of(dir: &Path) -> Option<DataKey> {
    LOCKS.lock().as_ref().and_then(|l| l.get(dir).cloned())
}

/// Whether the key in `dir` is sealed (autolock).
pub fn sealed(dir: &Path) -> bool {
    std::fs::read(dir.join(KEY)).is_ok_and(|pem| pem.starts_with(format!("-----BEGIN {SEALED_KEY}-----").as_bytes()))
}

/// Writes the key of `dir` again, sealed with `lock` or in the clear.
pub fn rewrap(dir: &Path, lock: Option<DataKey>) -> Result<()> {
    let creds = load(dir)?;
    set_lock(dir, lock);
    save_credentials(dir, &creds)
}

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
    match lock_of(dir) {
        Some(lock) => {
            let sealed = lock.seal(SEALED_FOR, key).map_err(|e| NodeError::Refused(e.to_string()))?;
            write(KEY, SEALED_KEY, &sealed_bytes(&sealed), 0o600)
        }
        None => write(KEY, "PRIVATE KEY", key, 0o600),
    }
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
    let read = |name: &str| -> Result<pem::Pem> {
        let path = dir.join(name);
        let text = std::fs::read(&path).map_err(|e| NodeError::io("reading", &path, e))?;
        pem::parse(text).map_err(|e| NodeError::Corrupt(format!("{} is not PEM: {e}", path.display())))
    };
    let key = read(KEY)?;
    let key = match key.tag() {
        SEALED_KEY => {
            let lock = lock_of(dir).ok_or_else(|| NodeError::Refused(LOCKED.into()))?;
            let sealed = sealed_from(key.contents())
                .ok_or_else(|| NodeError::Corrupt(format!("{}: truncated", dir.join(KEY).display())))?;
            lock.open(SEALED_FOR, &sealed).map_err(|_| NodeError::Refused(LOCKED.into()))?
        }
        _ => key.into_contents(),
    };
    Credentials::new(read(CA)?.into_contents(), read(CERT)?.into_contents(), key)
        .map_err(|e| NodeError::Corrupt(format!("the certificates in {} are not usable: {e}", dir.display())))
}

/// What a locked node says (autolock) until `node unlock`.
pub const LOCKED: &str = "this node is locked: run \"shoal node unlock\" with the cluster's unlock key";

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

    #[test]
    fn a_sealed_key_needs_the_unlock_key() {
        let dir = tempfile::tempdir().unwrap();
        let ca = RootCa::generate().unwrap();
        let own = ca.issue("n1", Role::Manager, "c1", DEFAULT_CERT_EXPIRY).unwrap();
        save(dir.path(), &ca.cert, &own.cert, &own.key).unwrap();
        let lock = DataKey::generate().unwrap();
        rewrap(dir.path(), Some(lock.clone())).unwrap();
        let file = std::fs::read_to_string(dir.path().join(KEY)).unwrap();
        assert!(file.starts_with("-----BEGIN SHOAL SEALED PRIVATE KEY-----"), "{file}");
        assert!(sealed(dir.path()));
        assert_eq!(load(dir.path()).unwrap().identity().node_id, "n1", "opens while the lock is held");
        set_lock(dir.path(), None);
        assert_eq!(load(dir.path()).err().unwrap().to_string(), LOCKED, "a restarted daemon holds no lock");
        set_lock(dir.path(), Some(DataKey::generate().unwrap()));
        assert_eq!(load(dir.path()).err().unwrap().to_string(), LOCKED);
        set_lock(dir.path(), Some(lock.clone()));
        rewrap(dir.path(), None).unwrap();
        assert!(std::fs::read_to_string(dir.path().join(KEY)).unwrap().starts_with("-----BEGIN PRIVATE KEY-----"));
    }
}
