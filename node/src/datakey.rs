//! The cluster's data key on a manager's disk (`<data-dir>/data-key`),
//! wrapped by a key-encryption key, as swarmkit keeps its raft key.
//!
//! The file is `SHOALDK1`, then the key-encryption key (32 bytes), then
//! the data key sealed with it (nonce, ciphertext and tag). The
//! key-encryption key sits beside what it wraps until the cluster is
//! autolocked, when it is the unlock key and never written down.

use std::path::{Path, PathBuf};

use shoal_manager::keys::{DataKey, KEY_LEN, Keyring};
use shoal_proto::Sealed;

use crate::{NodeError, Result, files};

const MAGIC: &[u8] = b"SHOALDK1";
/// What the wrapped key is sealed for (associated data).
const WRAPPED: &str = "shoal data key";
const NONCE_LEN: usize = 12;

fn path(data_dir: &Path) -> PathBuf {
    data_dir.join("data-key")
}

fn damaged(path: &Path, what: &str) -> NodeError {
    NodeError::Corrupt(format!("{}: {what}: the data key cannot be read", path.display()))
}

/// Writes `key` wrapped by a new key-encryption key.
pub fn save(data_dir: &Path, key: &DataKey) -> Result<()> {
    let kek = DataKey::generate().map_err(|e| NodeError::Refused(e.to_string()))?;
    let wrapped = kek.seal(WRAPPED, key.as_bytes()).map_err(|e| NodeError::Refused(e.to_string()))?;
    let mut file = MAGIC.to_vec();
    file.extend_from_slice(kek.as_bytes());
    file.extend_from_slice(&wrapped.nonce);
    file.extend_from_slice(&wrapped.ciphertext);
    files::write(&path(data_dir), &file, 0o600)
}

/// The data key this manager keeps, if it has one.
pub fn load(data_dir: &Path) -> Result<Option<DataKey>> {
    let path = path(data_dir);
    let file = match std::fs::read(&path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(NodeError::io("reading", &path, e)),
    };
    let rest = file.strip_prefix(MAGIC).ok_or_else(|| damaged(&path, "not a data key file"))?;
    if rest.len() < KEY_LEN + NONCE_LEN {
        return Err(damaged(&path, "truncated"));
    }
    let (kek, rest) = rest.split_at(KEY_LEN);
    let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
    let kek = DataKey::from_bytes(kek).map_err(|e| damaged(&path, &e.to_string()))?;
    let sealed = Sealed { nonce: nonce.to_vec(), ciphertext: ciphertext.to_vec() };
    let key = kek.open(WRAPPED, &sealed).map_err(|e| damaged(&path, &e.to_string()))?;
    Ok(Some(DataKey::from_bytes(&key).map_err(|e| damaged(&path, &e.to_string()))?))
}

/// A keyring with this manager's data key, if it has one on disk.
pub fn keyring(data_dir: &Path) -> Result<Keyring> {
    let keys = Keyring::default();
    if let Some(key) = load(data_dir)? {
        keys.set(key);
    }
    Ok(keys)
}

/// Takes the data key the leader sent this manager: into `keys` and onto disk.
pub fn receive(data_dir: &Path, keys: &Keyring, bytes: &[u8]) -> Result<()> {
    let key = DataKey::from_bytes(bytes).map_err(|e| NodeError::Refused(format!("the leader's data key: {e}")))?;
    save(data_dir, &key)?;
    keys.set(key);
    Ok(())
}

/// Forgets the data key (a manager demoted or leaving).
pub fn remove(data_dir: &Path) -> Result<()> {
    files::remove(&path(data_dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_survives_a_round_trip_and_damage_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert!(load(dir.path()).unwrap().is_none());
        let key = DataKey::generate().unwrap();
        save(dir.path(), &key).unwrap();
        let file = std::fs::read(path(dir.path())).unwrap();
        assert!(!file.windows(KEY_LEN).any(|w| w == key.as_bytes()), "the key is wrapped");
        assert_eq!(load(dir.path()).unwrap(), Some(key.clone()));
        assert_eq!(keyring(dir.path()).unwrap().key().unwrap(), key);
        let mut bad = file.clone();
        *bad.last_mut().unwrap() ^= 1;
        std::fs::write(path(dir.path()), &bad).unwrap();
        assert!(load(dir.path()).unwrap_err().to_string().contains("cannot be read"));
        std::fs::write(path(dir.path()), &file[..20]).unwrap();
        assert!(load(dir.path()).unwrap_err().to_string().contains("truncated"));
        remove(dir.path()).unwrap();
        remove(dir.path()).unwrap();
        assert!(load(dir.path()).unwrap().is_none());
    }
}
