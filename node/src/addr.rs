//! Node addresses: what the endpoint listens on and what it advertises.

use std::net::{IpAddr, SocketAddr};

/// `--listen-addr`: `IP:PORT`.
pub fn parse_listen(text: &str) -> Result<SocketAddr, String> {
    text.parse().map_err(|_| format!("expected IP:PORT, got {text:?}"))
}

/// `IP:PORT`, or `IP` with `port`.
pub fn with_default_port(text: &str, port: u16) -> Option<SocketAddr> {
    text.parse().ok().or_else(|| Some(SocketAddr::new(text.parse().ok()?, port)))
}

/// `--advertise-addr`: `IP:PORT`, or `IP` with the listen port.
pub fn parse_advertise(text: &str, port: u16) -> Result<String, String> {
    with_default_port(text, port).map(|a| a.to_string()).ok_or_else(|| format!("expected IP or IP:PORT, got {text:?}"))
}

/// The listen address if it names one IP; else this host's first
/// non-loopback IPv4 address (loopback if it has none).
pub fn default_advertise(listen: SocketAddr) -> String {
    if !listen.ip().is_unspecified() {
        return listen.to_string();
    }
    let ip = nix::ifaddrs::getifaddrs()
        .ok()
        .into_iter()
        .flatten()
        .filter_map(|ifa| ifa.address.and_then(|a| a.as_sockaddr_in().map(|s| s.ip())))
        .find(|ip| !ip.is_loopback())
        .map_or(IpAddr::from([127, 0, 0, 1]), IpAddr::V4);
    SocketAddr::new(ip, listen.port()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advertise_forms() {
        assert_eq!(parse_advertise("10.0.0.1", 4242).unwrap(), "10.0.0.1:4242");
        assert_eq!(parse_advertise("10.0.0.1:5000", 4242).unwrap(), "10.0.0.1:5000");
        assert!(parse_advertise("eth0x", 4242).unwrap_err().contains("expected IP"));
        let listen: SocketAddr = "127.0.0.7:4000".parse().unwrap();
        assert_eq!(default_advertise(listen), "127.0.0.7:4000");
    }
}
