//! Sizes as the Docker CLI reads them (`512m`, `1.5GiB`, `1024`), for
//! memory reservations and log limits alike, and as it shows them
//! (`20MiB`).

/// `n` bytes in the largest binary unit with at most three decimals:
/// "20MiB", "1.5GiB", "100B".
pub fn format_size(n: i64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < units.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    let s = format!("{value:.3}");
    format!("{}{}", s.trim_end_matches('0').trim_end_matches('.'), units[unit])
}

/// Bytes; units b, k, m, g, t, p (powers of 1024), any case, optionally
/// followed by `i` and/or `b`.
pub fn parse_size(text: &str) -> Result<i64, String> {
    let expected = || format!("expected a size like 512m or 1.5GiB, got {text:?}");
    let trimmed = text.trim();
    let digits = trimmed.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(digits);
    let value: f64 = number.parse().map_err(|_| expected())?;
    let unit = unit.trim_start().to_ascii_lowercase();
    let unit = unit.strip_suffix('b').unwrap_or(&unit);
    let unit = unit.strip_suffix('i').unwrap_or(unit);
    let power = match unit {
        "" => 0,
        "k" => 1,
        "m" => 2,
        "g" => 3,
        "t" => 4,
        "p" => 5,
        _ => return Err(expected()),
    };
    let bytes = value * 1024f64.powi(power);
    if !bytes.is_finite() || bytes >= i64::MAX as f64 {
        return Err(expected());
    }
    Ok(bytes as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_take_binary_units() {
        assert_eq!(parse_size("1024"), Ok(1024));
        assert_eq!(parse_size("512m"), Ok(512 << 20));
        assert_eq!(parse_size("512M"), Ok(512 << 20));
        assert_eq!(parse_size("1.5GiB"), Ok(3 << 29));
        assert_eq!(parse_size("4 kb"), Ok(4096));
        assert_eq!(parse_size("2g"), Ok(2 << 30));
        assert_eq!(parse_size("12x"), Err("expected a size like 512m or 1.5GiB, got \"12x\"".into()));
        assert!(parse_size("").is_err());
        assert!(parse_size("m").is_err());
        assert!(parse_size("1..2m").is_err());
    }

    #[test]
    fn sizes_show_in_binary_units() {
        assert_eq!(format_size(20 << 20), "20MiB");
        assert_eq!(format_size(3 << 29), "1.5GiB");
        assert_eq!(format_size(512), "512B");
    }
}
