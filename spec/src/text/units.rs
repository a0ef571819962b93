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

/// `--reserve-memory 512m` -> bytes (see [`shoal_proto::parse_size`]).
pub fn memory_bytes(text: &str) -> Result<i64, String> {
    shoal_proto::parse_size(text)
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
}
