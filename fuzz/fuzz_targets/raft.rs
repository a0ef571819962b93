//! Raft's payloads as a manager reads them from a peer or its own log:
//! an entry (a batch of store operations), a snapshot of the store, and
//! the payload of a raft RPC. Decoded, and what decodes encodes back to
//! the same message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shoal_fuzz::round_trip;
use shoal_proto::{Entry, RaftPayload, StoreSnapshot};

fuzz_target!(|data: &[u8]| {
    let Some((&pick, bytes)) = data.split_first() else { return };
    match pick % 3 {
        0 => round_trip::<Entry>(bytes),
        1 => round_trip::<StoreSnapshot>(bytes),
        _ => round_trip::<RaftPayload>(bytes),
    }
});
