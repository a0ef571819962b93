//! Join tokens: `SHOAL-1-<CA digest>-<secret>`. The digest (SHA-256 of
//! the root CA certificate in base 36) lets a joining node pin the CA
//! before it trusts anything; the secret says which role it may take.

use sha2::{Digest, Sha256};

const PREFIX: &str = "SHOAL-1-";
const SECRET_LEN: usize = 25;

fn base36(bytes: &[u8]) -> String {
    // Big-endian base 36 of the whole digest, by repeated division.
    let mut digits = bytes.to_vec();
    let mut out = Vec::new();
    while digits.iter().any(|d| *d != 0) {
        let mut rem = 0u32;
        for d in digits.iter_mut() {
            let acc = rem * 256 + u32::from(*d);
            *d = (acc / 36) as u8;
            rem = acc % 36;
        }
        out.push(char::from_digit(rem, 36).unwrap_or('0'));
    }
    out.iter().rev().collect()
}

/// The digest of a DER certificate, as tokens carry it.
pub fn digest(cert: &[u8]) -> String {
    format!("{:0>50}", base36(&Sha256::digest(cert)))
}

/// A new token for the CA with `digest`.
pub fn generate(digest: &str) -> String {
    let secret: String =
        (0..SECRET_LEN).map(|_| char::from_digit(rand::random_range(0..36), 36).unwrap_or('0')).collect();
    format!("{PREFIX}{digest}-{secret}")
}

/// A token's parts.
#[derive(Debug, PartialEq, Eq)]
pub struct Token<'a> {
    pub digest: &'a str,
    pub secret: &'a str,
}

/// Splits a token; `None` if it is not one.
pub fn parse(token: &str) -> Option<Token<'_>> {
    let rest = token.strip_prefix(PREFIX)?;
    let (digest, secret) = rest.rsplit_once('-')?;
    let valid = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit() || b.is_ascii_lowercase());
    (valid(digest) && valid(secret)).then_some(Token { digest, secret })
}

/// Compares two tokens in time independent of where they differ.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_pin_the_digest() {
        let d = digest(b"certificate");
        assert_eq!(d.len(), 50);
        let t = generate(&d);
        let parsed = parse(&t).unwrap();
        assert_eq!(parsed.digest, d);
        assert_eq!(parsed.secret.len(), 25);
        assert_ne!(generate(&d), t);
        assert!(parse("SWMTKN-1-abc-def").is_none());
        assert!(parse("SHOAL-1-abc").is_none());
        assert!(parse("SHOAL-1-ABC-def").is_none());
        assert!(same(&t, &t.clone()) && !same(&t, &generate(&d)));
    }

    #[test]
    fn base36_of_small_numbers() {
        assert_eq!(base36(&[0, 35]), "z");
        assert_eq!(base36(&[1, 0]), "74");
    }
}
