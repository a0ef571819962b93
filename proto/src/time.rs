//! Times on the wire are unix nanoseconds (`i64`), as in the Docker API.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The current time in unix nanoseconds.
pub fn now_nanos() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as i64).unwrap_or(0)
}

/// Unix nanoseconds back to a `SystemTime` (negative values clamp to the epoch).
pub fn nanos_to_system_time(nanos: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_nanos(nanos.max(0) as u64)
}
