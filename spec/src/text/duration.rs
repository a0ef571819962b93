//! Durations as Docker writes them (Go's syntax): `5s`, `1m30s`,
//! `100ms`, `1.5h`, in nanoseconds.

const UNITS: [(&str, f64); 7] =
    [("ns", 1.0), ("us", 1e3), ("µs", 1e3), ("ms", 1e6), ("s", 1e9), ("m", 60e9), ("h", 3600e9)];

/// Parses a non-negative Go duration into nanoseconds.
pub fn parse(text: &str) -> Result<i64, String> {
    let expected = || format!("expected a duration like 5s, 1m30s or 100ms, got {text:?}");
    if text == "0" {
        return Ok(0);
    }
    let mut rest = text;
    let mut total = 0f64;
    if rest.is_empty() {
        return Err(expected());
    }
    while !rest.is_empty() {
        let number_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).ok_or_else(expected)?;
        if number_len == 0 {
            return Err(expected());
        }
        let number: f64 = rest[..number_len].parse().map_err(|_| expected())?;
        rest = &rest[number_len..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        let scale = UNITS.iter().find(|(u, _)| *u == unit).map(|(_, s)| *s).ok_or_else(expected)?;
        total += number * scale;
        rest = &rest[unit_len..];
    }
    if total > i64::MAX as f64 {
        return Err(format!("duration {text:?} is too long"));
    }
    Ok(total.round() as i64)
}

/// Formats nanoseconds as Go does (`1m30s`, `100ms`, `0s`).
pub fn format(ns: i64) -> String {
    if ns == 0 {
        return "0s".into();
    }
    let sign = if ns < 0 { "-" } else { "" };
    let ns = ns.unsigned_abs();
    if ns < 1_000 {
        return format!("{sign}{ns}ns");
    }
    if ns < 1_000_000 {
        return format!("{sign}{}µs", trim(ns as f64 / 1e3));
    }
    if ns < 1_000_000_000 {
        return format!("{sign}{}ms", trim(ns as f64 / 1e6));
    }
    let hours = ns / 3_600_000_000_000;
    let minutes = ns / 60_000_000_000 % 60;
    let seconds = trim((ns % 60_000_000_000) as f64 / 1e9);
    match (hours, minutes) {
        (0, 0) => format!("{sign}{seconds}s"),
        (0, m) => format!("{sign}{m}m{seconds}s"),
        (h, m) => format!("{sign}{h}h{m}m{seconds}s"),
    }
}

fn trim(value: f64) -> String {
    let s = format!("{value:.9}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_durations() {
        assert_eq!(parse("5s"), Ok(5_000_000_000));
        assert_eq!(parse("1m30s"), Ok(90_000_000_000));
        assert_eq!(parse("100ms"), Ok(100_000_000));
        assert_eq!(parse("1.5h"), Ok(5_400_000_000_000));
        assert_eq!(parse("0"), Ok(0));
        for bad in ["", "5", "s", "5x", "-5s", "1m30", "five"] {
            assert!(parse(bad).is_err(), "{bad:?} must not parse");
        }
    }

    #[test]
    fn formats_as_go_does() {
        assert_eq!(format(0), "0s");
        assert_eq!(format(5_000_000_000), "5s");
        assert_eq!(format(90_000_000_000), "1m30s");
        assert_eq!(format(3_600_000_000_000), "1h0m0s");
        assert_eq!(format(100_000_000), "100ms");
        assert_eq!(format(1_500_000_000), "1.5s");
    }
}
