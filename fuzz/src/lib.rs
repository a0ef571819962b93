//! What the fuzz targets share.

use prost::Message;

/// Decodes `bytes` as `M`; what decodes must encode back to a message
/// that decodes to the same value.
pub fn round_trip<M: Message + Default + PartialEq + std::fmt::Debug>(bytes: &[u8]) {
    if let Ok(message) = M::decode(bytes) {
        let again = M::decode(message.encode_to_vec().as_slice()).expect("what was encoded decodes");
        assert_eq!(again, message);
    }
}
