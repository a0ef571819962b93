//! The dispatcher's messages, both ways (a worker's session request,
//! heartbeats and task status updates to a manager; the manager's session
//! messages with assignments and network maps to a worker): decoded, and
//! what decodes encodes back to the same message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shoal_fuzz::round_trip;
use shoal_proto::{HeartbeatRequest, SessionMessage, SessionRequest, UpdateTaskStatusRequest};

fuzz_target!(|data: &[u8]| {
    let Some((&pick, bytes)) = data.split_first() else { return };
    match pick % 4 {
        0 => round_trip::<SessionRequest>(bytes),
        1 => round_trip::<SessionMessage>(bytes),
        2 => round_trip::<HeartbeatRequest>(bytes),
        _ => round_trip::<UpdateTaskStatusRequest>(bytes),
    }
});
