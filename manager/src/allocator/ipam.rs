//! Addresses on overlay networks: which subnet a new network gets, and
//! which address of its subnet a task or a service VIP gets next.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

use super::AllocError;

/// The default pool networks without a subnet of their own come from.
pub const DEFAULT_POOL: &str = "10.0.0.0/8";
/// Prefix length of the subnets cut from the default pool.
pub const DEFAULT_PREFIX: u8 = 24;
/// The smallest subnet a network may ask for (two addresses usable).
const MAX_PREFIX: u8 = 30;

/// Address -> id of the task or service holding it.
pub type Used = BTreeMap<Ipv4Addr, String>;

/// One network's subnet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pool {
    pub subnet: Ipv4Net,
    pub gateway: Ipv4Addr,
}

impl Pool {
    /// Whether `addr` may be handed out: inside the subnet, neither its
    /// network nor broadcast address, not the gateway.
    fn assignable(&self, addr: Ipv4Addr) -> bool {
        self.subnet.contains(&addr)
            && addr != self.subnet.network()
            && addr != self.subnet.broadcast()
            && addr != self.gateway
    }

    /// The next free address: the first after the highest one held,
    /// wrapping around, so a replaced task gets a new address rather than
    /// its predecessor's. `used` are the addresses held, `taken` those
    /// chosen but not yet held.
    pub fn next(&self, used: &Used, taken: &[Ipv4Addr]) -> Option<Ipv4Addr> {
        let first = u32::from(self.subnet.network()) + 1;
        let last = u32::from(self.subnet.broadcast()).saturating_sub(1);
        let highest = used.keys().chain(taken).map(|a| u32::from(*a)).filter(|a| *a >= first).max();
        let start = highest.map_or(first, |h| if h >= last { first } else { h + 1 });
        let free = |a: u32| {
            let addr = Ipv4Addr::from(a);
            self.assignable(addr) && !used.contains_key(&addr) && !taken.contains(&addr)
        };
        (start..=last).chain(first..start).find(|a| free(*a)).map(Ipv4Addr::from)
    }

    /// `addr` with the subnet's prefix, as stored: "10.0.1.5/24".
    pub fn cidr(&self, addr: Ipv4Addr) -> String {
        format!("{addr}/{}", self.subnet.prefix_len())
    }
}

/// "10.0.1.5/24" or "10.0.1.5" -> the address.
pub fn parse_addr(text: &str) -> Option<Ipv4Addr> {
    text.split('/').next()?.parse().ok()
}

/// The subnet and gateway for a new network: the ones asked for, checked,
/// or the first free /24 of the default pool. `taken` are the subnets of
/// the existing networks, with their names.
pub fn subnet(wanted: &str, gateway: &str, taken: &[(Ipv4Net, &str)]) -> Result<(Ipv4Net, Ipv4Addr), AllocError> {
    let overlap = |net: &Ipv4Net| taken.iter().find(|(t, _)| t.contains(&net.network()) || net.contains(&t.network()));
    let subnet = if wanted.is_empty() {
        let pool: Ipv4Net = DEFAULT_POOL.parse().expect("the default pool is a CIDR");
        let subnets = pool.subnets(DEFAULT_PREFIX).expect("the default prefix fits the pool");
        subnets
            .into_iter()
            .find(|s| overlap(s).is_none())
            .ok_or_else(|| AllocError::Exhausted(format!("no free /{DEFAULT_PREFIX} left in {DEFAULT_POOL}")))?
    } else {
        let net: Ipv4Net = wanted.parse().map_err(|_| {
            AllocError::Invalid(format!("subnet: expected an IPv4 CIDR like 10.1.0.0/24, got {wanted:?}"))
        })?;
        if net.prefix_len() > MAX_PREFIX {
            return Err(AllocError::Invalid(format!("subnet: {wanted} is too small (at most /{MAX_PREFIX})")));
        }
        if net.trunc() != net {
            return Err(AllocError::Invalid(format!(
                "subnet: {wanted} has host bits set (did you mean {}?)",
                net.trunc()
            )));
        }
        if let Some((other, name)) = overlap(&net) {
            return Err(AllocError::Conflict(format!("subnet {net} overlaps network {name} ({other})")));
        }
        net
    };
    let gateway = if gateway.is_empty() {
        Ipv4Addr::from(u32::from(subnet.network()) + 1)
    } else {
        let gw: Ipv4Addr = gateway
            .parse()
            .map_err(|_| AllocError::Invalid(format!("gateway: expected an IPv4 address, got {gateway:?}")))?;
        if !subnet.contains(&gw) || gw == subnet.network() || gw == subnet.broadcast() {
            return Err(AllocError::Invalid(format!("gateway: {gw} is not a host address of subnet {subnet}")));
        }
        gw
    };
    Ok((subnet, gateway))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(cidr: &str) -> Pool {
        let (subnet, gateway) = subnet(cidr, "", &[]).unwrap();
        Pool { subnet, gateway }
    }

    #[test]
    fn addresses_skip_network_gateway_and_broadcast() {
        let p = pool("10.0.5.0/30");
        let mut used = Used::new();
        assert_eq!(p.gateway, Ipv4Addr::new(10, 0, 5, 1));
        assert_eq!(p.next(&used, &[]), Some(Ipv4Addr::new(10, 0, 5, 2)));
        used.insert(Ipv4Addr::new(10, 0, 5, 2), "a".into());
        assert_eq!(p.next(&used, &[]), None);
        assert_eq!(p.cidr(Ipv4Addr::new(10, 0, 5, 2)), "10.0.5.2/30");
    }

    #[test]
    fn the_next_address_follows_the_highest_held_and_wraps() {
        let p = pool("10.0.1.0/29");
        let mut used = Used::new();
        let a = |n| Ipv4Addr::new(10, 0, 1, n);
        used.insert(a(2), "t1".into());
        used.insert(a(4), "t2".into());
        // .3 is free, but a new task gets .5: a replaced task's address is
        // not handed to its successor at once.
        assert_eq!(p.next(&used, &[]), Some(a(5)));
        assert_eq!(p.next(&used, &[a(5), a(6)]), Some(a(3)));
        used.insert(a(6), "t3".into());
        assert_eq!(p.next(&used, &[]), Some(a(3)));
    }

    #[test]
    fn subnets_come_from_the_default_pool_unless_asked_for() {
        let ingress: Ipv4Net = "10.0.0.0/24".parse().unwrap();
        let (net, gw) = subnet("", "", &[(ingress, "ingress")]).unwrap();
        assert_eq!((net.to_string(), gw.to_string()), ("10.0.1.0/24".into(), "10.0.1.1".into()));
        let (net, gw) = subnet("192.168.7.0/24", "192.168.7.254", &[(ingress, "ingress")]).unwrap();
        assert_eq!((net.to_string(), gw.to_string()), ("192.168.7.0/24".into(), "192.168.7.254".into()));
        let err = |s: &str, g: &str| subnet(s, g, &[(ingress, "ingress")]).unwrap_err().to_string();
        assert_eq!(err("10.0.0.128/25", ""), "subnet 10.0.0.128/25 overlaps network ingress (10.0.0.0/24)");
        assert_eq!(err("10.0.0.0/16", ""), "subnet 10.0.0.0/16 overlaps network ingress (10.0.0.0/24)");
        assert!(err("10.9.0.0/31", "").contains("too small"));
        assert!(err("10.9.0.1/24", "").contains("did you mean 10.9.0.0/24"));
        assert!(err("fe80::/64", "").starts_with("subnet: expected an IPv4 CIDR"));
        assert!(err("10.9.0.0/24", "10.9.1.1").contains("not a host address of subnet 10.9.0.0/24"));
        assert!(err("10.9.0.0/24", "x").starts_with("gateway: expected an IPv4 address"));
    }
}
