//! Encodings: openraft's messages travel and rest as MessagePack (serde);
//! shoal's own objects inside them stay protobuf.

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

/// `#[serde(with = "prost_bytes")]`: a protobuf message as serde bytes.
pub mod prost_bytes {
    use prost::Message;
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<M: Message, S: Serializer>(msg: &M, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&msg.encode_to_vec())
    }

    pub fn deserialize<'de, M: Message + Default, D: Deserializer<'de>>(d: D) -> Result<M, D::Error> {
        let bytes = serde_bytes::ByteBuf::deserialize(d)?;
        M::decode(bytes.as_slice()).map_err(D::Error::custom)
    }
}
