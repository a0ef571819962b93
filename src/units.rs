//! Quantities on the command line, read as the Docker CLI reads them:
//! CPUs as a decimal (`0.5`), memory as a size with an optional binary
//! unit (`512m`, `1.5GiB`, `1024`).

/// `--reserve-cpu 0.5` -> 500,000,000 nano CPUs.
pub fn nano_cpus(text: &str) -> Result<i64, String> {
    let expected = || format!("expected a number of CPUs like 0.5, got {text:?}");
    let cpus: f64 = text.trim().parse().map_err(|_| expected())?;
    if !cpus.is_finite() || !(0.0..=1e9).contains(&cpus) {
        return Err(expected());
    }
    Ok((cpus * 1e9).round() as i64)
}

/// `--reserve-memory 512m` -> bytes; units b, k, m, g, t, p (powers of
/// 1024), any case, optionally followed by `i` and/or `b`.
pub fn memory_bytes(text: &str) -> Result<i64, String> {
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
    fn cpus_are_decimals() {
        assert_eq!(nano_cpus("0.5"), Ok(500_000_000));
        assert_eq!(nano_cpus("2"), Ok(2_000_000_000));
        assert_eq!(nano_cpus("0.001"), Ok(1_000_000));
        assert_eq!(nano_cpus("x"), Err("expected a number of CPUs like 0.5, got \"x\"".into()));
        assert!(nano_cpus("-1").is_err());
        assert!(nano_cpus("NaN").is_err());
    }

    #[test]
    fn memory_takes_binary_units() {
        assert_eq!(memory_bytes("1024"), Ok(1024));
        assert_eq!(memory_bytes("512m"), Ok(512 << 20));
        assert_eq!(memory_bytes("512M"), Ok(512 << 20));
        assert_eq!(memory_bytes("1.5GiB"), Ok(3 << 29));
        assert_eq!(memory_bytes("4 kb"), Ok(4096));
        assert_eq!(memory_bytes("2g"), Ok(2 << 30));
        assert_eq!(memory_bytes("12x"), Err("expected a size like 512m or 1.5GiB, got \"12x\"".into()));
        assert!(memory_bytes("").is_err());
        assert!(memory_bytes("m").is_err());
        assert!(memory_bytes("1..2m").is_err());
    }
}
