//! Encodings: openraft's messages travel and rest as MessagePack (serde);
//! shoal's own objects inside them stay protobuf (see
//! [`Proposal`](super::Proposal)).

use serde::{Serialize, de::DeserializeOwned};

/// Encodes any serde value as MessagePack (field names kept, so adding a
/// field later does not break what is stored).
pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, rmp_serde::encode::Error> {
    rmp_serde::to_vec_named(value)
}

/// Decodes what [`encode`] wrote.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, rmp_serde::decode::Error> {
    rmp_serde::from_slice(bytes)
}
