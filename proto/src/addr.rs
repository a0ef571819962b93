//! Node addresses as the cluster records them ("10.0.0.1:4242", or an IP
//! alone), read the same way by managers, workers and the daemon.

use std::net::{IpAddr, SocketAddr};

/// The IP of "10.0.0.1:4242", "[::1]:4242" or "10.0.0.1".
pub fn parse_ip(addr: &str) -> Option<IpAddr> {
    addr.parse::<SocketAddr>().map(|a| a.ip()).or_else(|_| addr.parse()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_with_or_without_a_port_gives_its_ip() {
        assert_eq!(parse_ip("10.0.0.1:4242"), Some("10.0.0.1".parse().unwrap()));
        assert_eq!(parse_ip("[::1]:4242"), Some("::1".parse().unwrap()));
        assert_eq!(parse_ip("127.0.0.2"), Some("127.0.0.2".parse().unwrap()));
        assert_eq!(parse_ip(""), None);
    }
}
