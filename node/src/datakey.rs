//! The cluster's data key on a manager's disk (`<data-dir>/data-key`),
//! wrapped by a key-encryption key, as swarmkit keeps its raft key.
//!
//! Two forms: `SHOALDK1`, the key-encryption key (32 bytes), then the
//! data key sealed with it (nonce, ciphertext and tag); or, autolocked,
//! `SHOALDK2` and the data key sealed with the cluster's unlock key,
//! which is never written: the manager cannot read it until `node
//! unlock` gives it the key.

use std::path::{Path, PathBuf};

use shoal_manager::keys::{DataKey, KEY_LEN, Keyring, sealed_bytes, sealed_from};

use crate::{NodeError, Result, files};

const OPEN: &[u8] = b"SHOALDK1";
const LOCKED: &[u8] = b"SHOALDK2";
/// What the wrapped key is sealed for (associated data).
const WRAPPED: &str = "shoal data key";

/// The data key file as found.
#[derive(Debug, PartialEq)]
pub enum OnDisk {
    None,
    Open(DataKey),
    /// Wrapped by the unlock key.
    Locked,
}

fn path(data_dir: &Path) -> PathBuf {
    data_dir.join("data-key")
}

fn damaged(path: &Path, what: &str) -> NodeError {
    NodeError::Corrupt(format!("{}: {what}: the data key cannot be read", path.display()))
}

fn refused(e: shoal_manager::keys::KeyError) -> NodeError {
    NodeError::Refused(e.to_string())
}

/// Writes `key` wrapped by `lock` (the unlock key), or by a new
/// key-encryption key kept beside it when there is none.
pub fn save(data_dir: &Path, key: &DataKey, lock: Option<&DataKey>) -> Result<()> {
    let (mut file, kek) = match lock {
        Some(lock) => (LOCKED.to_vec(), lock.clone()),
        None => {
            let kek = DataKey::generate().map_err(refused)?;
            ([OPEN, kek.as_bytes()].concat(), kek)
        }
    };
    file.extend(sealed_bytes(&kek.seal(WRAPPED, key.as_bytes()).map_err(refused)?));
    files::write(&path(data_dir), &file, 0o600)
}

/// The data key file of this manager, as it is.
pub fn load(data_dir: &Path) -> Result<OnDisk> {
    read(data_dir, None)
}

/// The data key, unwrapped with the unlock key `lock` if the file is
/// locked; a wrong key is refused.
pub fn unlock(data_dir: &Path, lock: &DataKey) -> Result<DataKey> {
    match read(data_dir, Some(lock))? {
        OnDisk::Open(key) => Ok(key),
        _ => Err(NodeError::Refused("this node holds no data key to unlock".into())),
    }
}

fn read(data_dir: &Path, lock: Option<&DataKey>) -> Result<OnDisk> {
    let path = path(data_dir);
    let file = match std::fs::read(&path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(OnDisk::None),
        Err(e) => return Err(NodeError::io("reading", &path, e)),
    };
    let (kek, rest) = if let Some(rest) = file.strip_prefix(OPEN) {
        let (kek, rest) = rest.split_at_checked(KEY_LEN).ok_or_else(|| damaged(&path, "truncated"))?;
        (DataKey::from_bytes(kek).map_err(|e| damaged(&path, &e.to_string()))?, rest)
    } else if let Some(rest) = file.strip_prefix(LOCKED) {
        match lock {
            Some(lock) => (lock.clone(), rest),
            None => return Ok(OnDisk::Locked),
        }
    } else {
        return Err(damaged(&path, "not a data key file"));
    };
    let sealed = sealed_from(rest).ok_or_else(|| damaged(&path, "truncated"))?;
    let key = match kek.open(WRAPPED, &sealed) {
        Ok(key) => key,
        Err(_) if file.starts_with(LOCKED) => {
            return Err(NodeError::Refused("this is not the unlock key: it does not open this node's keys".into()));
        }
        Err(e) => return Err(damaged(&path, &e.to_string())),
    };
    Ok(OnDisk::Open(DataKey::from_bytes(&key).map_err(|e| damaged(&path, &e.to_string()))?))
}

/// A keyring with this manager's data key, if it has one (`lock`: the
/// unlock key it was given, for a locked file).
pub fn keyring(data_dir: &Path, lock: Option<&DataKey>) -> Result<Keyring> {
    let keys = Keyring::default();
    if let OnDisk::Open(key) = read(data_dir, lock)? {
        keys.set(key);
    }
    Ok(keys)
}

/// Takes the data key the leader sent this manager: into `keys` and onto
/// disk (wrapped by `lock`, the unlock key in effect, if any).
pub fn receive(data_dir: &Path, keys: &Keyring, bytes: &[u8], lock: Option<&DataKey>) -> Result<()> {
    let key = DataKey::from_bytes(bytes).map_err(|e| NodeError::Refused(format!("the leader's data key: {e}")))?;
    save(data_dir, &key, lock)?;
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
        assert_eq!(load(dir.path()).unwrap(), OnDisk::None);
        let key = DataKey::generate().unwrap();
        save(dir.path(), &key, None).unwrap();
        let file = std::fs::read(path(dir.path())).unwrap();
        assert!(!file.windows(KEY_LEN).any(|w| w == key.as_bytes()), "the key is wrapped");
        assert_eq!(load(dir.path()).unwrap(), OnDisk::Open(key.clone()));
        assert_eq!(keyring(dir.path(), None).unwrap().key().unwrap(), key);
        let mut bad = file.clone();
        *bad.last_mut().unwrap() ^= 1;
        std::fs::write(path(dir.path()), &bad).unwrap();
        assert!(load(dir.path()).unwrap_err().to_string().contains("cannot be read"));
        std::fs::write(path(dir.path()), &file[..20]).unwrap();
        assert!(load(dir.path()).unwrap_err().to_string().contains("truncated"));
        remove(dir.path()).unwrap();
        remove(dir.path()).unwrap();
        assert_eq!(load(dir.path()).unwrap(), OnDisk::None);
    }

    #[test]
    fn a_locked_key_opens_with_the_unlock_key_only() {
        let dir = tempfile::tempdir().unwrap();
        let (key, lock) = (DataKey::generate().unwrap(), DataKey::generate().unwrap());
        save(dir.path(), &key, Some(&lock)).unwrap();
        let file = std::fs::read(path(dir.path())).unwrap();
        assert!(!file.windows(KEY_LEN).any(|w| w == lock.as_bytes()), "the unlock key is never written");
        assert_eq!(load(dir.path()).unwrap(), OnDisk::Locked);
        assert!(keyring(dir.path(), None).unwrap().key().is_err());
        let wrong = unlock(dir.path(), &DataKey::generate().unwrap()).unwrap_err();
        assert!(wrong.to_string().starts_with("this is not the unlock key"), "{wrong}");
        assert_eq!(unlock(dir.path(), &lock).unwrap(), key);
        assert_eq!(keyring(dir.path(), Some(&lock)).unwrap().key().unwrap(), key);
    }
}
