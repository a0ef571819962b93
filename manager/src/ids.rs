//! Object ids: 25 lower-case base-36 characters from 128 random bits, as
//! swarmkit makes them; shown truncated to 12 characters in tables.

use rand::Rng;

/// A new random id.
pub fn new_id() -> String {
    let mut n: u128 = rand::rng().random();
    let mut out = [b'0'; 25];
    for slot in out.iter_mut().rev() {
        let digit = (n % 36) as u8;
        *slot = if digit < 10 { b'0' + digit } else { b'a' + digit - 10 };
        n /= 36;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_are_25_base36_chars_and_distinct() {
        let a = super::new_id();
        assert_eq!(a.len(), 25);
        assert!(a.bytes().all(|b| b.is_ascii_digit() || b.is_ascii_lowercase()));
        assert_ne!(a, super::new_id());
    }
}
