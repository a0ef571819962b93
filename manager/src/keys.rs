//! The cluster's data key: what seals secrets' data (and the root CA's
//! key) before they enter the raft log, its snapshots and RocksDB.
//!
//! `node init` makes the key; every manager holds it (a manager joining
//! or promoted receives it from the leader with its raft membership, over
//! mTLS) and keeps it on disk wrapped by a key-encryption key (see the
//! node's key file). Sealing is ChaCha20-Poly1305 with a random nonce per
//! message, the object's id as associated data: a sealed value cannot be
//! moved to another object unnoticed.

use std::fmt;
use std::sync::Arc;

use parking_lot::RwLock;
use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use shoal_proto::Sealed;

/// Length of a key, in bytes.
pub const KEY_LEN: usize = 32;

/// Why a key could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("this manager does not hold the cluster's data key yet")]
    Missing,
    #[error("a key must be {KEY_LEN} bytes, got {0}")]
    Length(usize),
    #[error("sealed data does not open with this key (damaged, or sealed for another object or cluster)")]
    Open,
    #[error("the system's random source failed")]
    Random,
    #[error("not an unlock key (expected SHOALKEY-1- and 64 hex digits)")]
    UnlockKeyText,
}

/// How an unlock key is written: `SHOALKEY-1-` and its bytes in hex.
const UNLOCK_PREFIX: &str = "SHOALKEY-1-";

/// The text of unlock key `key`, as `cluster unlock-key` prints it.
pub fn unlock_key_text(key: &DataKey) -> String {
    let hex: String = key.0.iter().map(|b| format!("{b:02x}")).collect();
    format!("{UNLOCK_PREFIX}{hex}")
}

/// The unlock key written as `text` (surrounding blanks ignored).
pub fn parse_unlock_key(text: &str) -> Result<DataKey, KeyError> {
    let hex = text.trim().strip_prefix(UNLOCK_PREFIX).ok_or(KeyError::UnlockKeyText)?;
    if hex.len() != KEY_LEN * 2 || !hex.is_ascii() {
        return Err(KeyError::UnlockKeyText);
    }
    let bytes: Result<Vec<u8>, _> = (0..KEY_LEN).map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16)).collect();
    DataKey::from_bytes(&bytes.map_err(|_| KeyError::UnlockKeyText)?)
}

/// What the unlock key is sealed for in the cluster object of `cluster_id`.
fn unlock_key_aad(cluster_id: &str) -> String {
    format!("unlock key of {cluster_id}")
}

/// `sealed` as one run of bytes (nonce, then ciphertext and tag), as
/// files keep it.
pub fn sealed_bytes(sealed: &Sealed) -> Vec<u8> {
    [sealed.nonce.as_slice(), sealed.ciphertext.as_slice()].concat()
}

/// What [`sealed_bytes`] wrote; `None` when too short to hold a nonce.
pub fn sealed_from(bytes: &[u8]) -> Option<Sealed> {
    let (nonce, ciphertext) = bytes.split_at_checked(NONCE_LEN)?;
    Some(Sealed { nonce: nonce.to_vec(), ciphertext: ciphertext.to_vec() })
}

/// A ChaCha20-Poly1305 key.
#[derive(Clone, PartialEq, Eq)]
pub struct DataKey([u8; KEY_LEN]);

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DataKey(..)")
    }
}

/// Fills `buf` from the system's random source.
fn random(buf: &mut [u8]) -> Result<(), KeyError> {
    SystemRandom::new().fill(buf).map_err(|_| KeyError::Random)
}

impl DataKey {
    /// A new random key.
    pub fn generate() -> Result<DataKey, KeyError> {
        let mut key = [0; KEY_LEN];
        random(&mut key)?;
        Ok(DataKey(key))
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<DataKey, KeyError> {
        let key: [u8; KEY_LEN] = bytes.try_into().map_err(|_| KeyError::Length(bytes.len()))?;
        Ok(DataKey(key))
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    fn aead(&self) -> LessSafeKey {
        // A 32-byte key is all CHACHA20_POLY1305 asks.
        LessSafeKey::new(UnboundKey::new(&CHACHA20_POLY1305, &self.0).expect("a 32-byte ChaCha20-Poly1305 key"))
    }

    /// Seals `plain` for the object `id` (associated data).
    pub fn seal(&self, id: &str, plain: &[u8]) -> Result<Sealed, KeyError> {
        let mut nonce = [0; NONCE_LEN];
        random(&mut nonce)?;
        let mut ciphertext = plain.to_vec();
        self.aead()
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(id.as_bytes()), &mut ciphertext)
            .map_err(|_| KeyError::Random)?;
        Ok(Sealed { nonce: nonce.to_vec(), ciphertext })
    }

    /// Opens what [`seal`](Self::seal) sealed for the object `id`.
    pub fn open(&self, id: &str, sealed: &Sealed) -> Result<Vec<u8>, KeyError> {
        let nonce = Nonce::try_assume_unique_for_key(&sealed.nonce).map_err(|_| KeyError::Open)?;
        let mut data = sealed.ciphertext.clone();
        let plain =
            self.aead().open_in_place(nonce, Aad::from(id.as_bytes()), &mut data).map_err(|_| KeyError::Open)?;
        let len = plain.len();
        data.truncate(len);
        Ok(data)
    }
}

/// A manager's data key, once it has one; cheap to clone, shared by the
/// parts of the manager that seal and open.
#[derive(Clone, Default)]
pub struct Keyring(Arc<RwLock<Option<DataKey>>>);

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Keyring({})", if self.0.read().is_some() { "held" } else { "empty" })
    }
}

impl Keyring {
    /// A keyring holding `key`.
    pub fn with(key: DataKey) -> Keyring {
        Keyring(Arc::new(RwLock::new(Some(key))))
    }

    pub fn set(&self, key: DataKey) {
        *self.0.write() = Some(key);
    }

    /// The key, or [`KeyError::Missing`].
    pub fn key(&self) -> Result<DataKey, KeyError> {
        self.0.read().clone().ok_or(KeyError::Missing)
    }

    pub fn seal(&self, id: &str, plain: &[u8]) -> Result<Sealed, KeyError> {
        self.key()?.seal(id, plain)
    }

    pub fn open(&self, id: &str, sealed: &Sealed) -> Result<Vec<u8>, KeyError> {
        self.key()?.open(id, sealed)
    }

    /// Seals the unlock key `key` for the cluster object of `cluster_id`.
    pub fn seal_unlock_key(&self, cluster_id: &str, key: &DataKey) -> Result<Sealed, KeyError> {
        self.seal(&unlock_key_aad(cluster_id), key.as_bytes())
    }

    /// The unlock key the cluster object of `cluster_id` holds sealed.
    pub fn open_unlock_key(&self, cluster_id: &str, sealed: &Sealed) -> Result<DataKey, KeyError> {
        DataKey::from_bytes(&self.open(&unlock_key_aad(cluster_id), sealed)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_data_opens_only_with_its_key_and_object() {
        let key = DataKey::generate().unwrap();
        let sealed = key.seal("s1", b"hunter2").unwrap();
        assert!(!sealed.ciphertext.windows(7).any(|w| w == b"hunter2"));
        assert_eq!(key.open("s1", &sealed).unwrap(), b"hunter2");
        assert!(matches!(key.open("s2", &sealed), Err(KeyError::Open)));
        assert!(matches!(DataKey::generate().unwrap().open("s1", &sealed), Err(KeyError::Open)));
        let mut damaged = sealed.clone();
        damaged.ciphertext[0] ^= 1;
        assert!(matches!(key.open("s1", &damaged), Err(KeyError::Open)));
        assert!(matches!(key.open("s1", &Sealed::default()), Err(KeyError::Open)));
        // Two seals of the same data differ (random nonces).
        assert_ne!(key.seal("s1", b"hunter2").unwrap(), sealed);
    }

    #[test]
    fn unlock_keys_read_back_and_junk_is_refused() {
        let key = DataKey::generate().unwrap();
        let text = unlock_key_text(&key);
        assert!(text.starts_with("SHOALKEY-1-") && text.len() == 11 + 64, "{text}");
        assert_eq!(parse_unlock_key(&format!(" {text}\n")).unwrap(), key);
        for bad in ["", "SHOALKEY-1-", "SHOALKEY-1-zz", &text[..text.len() - 1], &text.replace("SHOALKEY", "SWMKEY")] {
            assert!(matches!(parse_unlock_key(bad), Err(KeyError::UnlockKeyText)), "{bad}");
        }
    }

    #[test]
    fn keyring_refuses_until_it_holds_a_key() {
        let ring = Keyring::default();
        assert!(matches!(ring.seal("x", b"y"), Err(KeyError::Missing)));
        ring.set(DataKey::from_bytes(&[7; KEY_LEN]).unwrap());
        let sealed = ring.seal("x", b"y").unwrap();
        assert_eq!(ring.open("x", &sealed).unwrap(), b"y");
        assert!(matches!(DataKey::from_bytes(&[1; 3]), Err(KeyError::Length(3))));
    }
}
