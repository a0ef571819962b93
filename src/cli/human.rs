//! Human-readable times and sizes, as the Docker CLI prints them.

use std::time::Duration;

/// Go-units' `HumanDuration`: "Less than a second", "2 minutes", "About an hour".
pub fn duration(d: Duration) -> String {
    let seconds = d.as_secs();
    let minutes = seconds / 60;
    let hours = (d.as_secs_f64() / 3600.0 + 0.5) as u64;
    match () {
        _ if seconds < 1 => "Less than a second".into(),
        _ if seconds == 1 => "1 second".into(),
        _ if seconds < 60 => format!("{seconds} seconds"),
        _ if minutes == 1 => "About a minute".into(),
        _ if minutes < 60 => format!("{minutes} minutes"),
        _ if hours == 1 => "About an hour".into(),
        _ if hours < 48 => format!("{hours} hours"),
        _ if hours < 24 * 7 * 2 => format!("{} days", hours / 24),
        _ if hours < 24 * 30 * 2 => format!("{} weeks", hours / 24 / 7),
        _ if hours < 24 * 365 * 2 => format!("{} months", hours / 24 / 30),
        _ => format!("{} years", seconds / 3600 / 24 / 365),
    }
}

/// "2 minutes ago" for a unix-nanosecond time.
pub fn ago(nanos: i64) -> String {
    let then = shoal_proto::nanos_to_system_time(nanos);
    let elapsed = std::time::SystemTime::now().duration_since(then).unwrap_or_default();
    format!("{} ago", duration(elapsed).to_lowercase())
}

pub use shoal_dockerapi::shape::rfc3339;

/// Bytes in binary units: "1.954GiB".
pub fn bytes(n: i64) -> String {
    shoal_proto::format_size(n)
}

/// First letter upper-case: "running" -> "Running".
pub fn title(s: &str) -> String {
    let mut chars = s.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_docker() {
        let s = Duration::from_secs;
        assert_eq!(duration(Duration::from_millis(300)), "Less than a second");
        assert_eq!(duration(s(1)), "1 second");
        assert_eq!(duration(s(59)), "59 seconds");
        assert_eq!(duration(s(90)), "About a minute");
        assert_eq!(duration(s(120)), "2 minutes");
        assert_eq!(duration(s(3600)), "About an hour");
        assert_eq!(duration(s(3 * 3600)), "3 hours");
        assert_eq!(duration(s(3 * 86400)), "3 days");
    }

    #[test]
    fn sizes_and_titles() {
        assert_eq!(bytes(2_098_083_840), "1.954GiB");
        assert_eq!(bytes(512), "512B");
        assert_eq!(title("running"), "Running");
    }
}
