//! A task's resolv.conf. A task on networks asks its node's DNS
//! responder in its own namespace (127.0.0.11, as Docker's embedded DNS),
//! which forwards what is not the cluster's to the task's nameservers;
//! any other task given resolver settings asks its nameservers itself.
//! Search domains and options are written as given; a task on networks
//! gets `ndots:0` unless it sets its own `ndots`, as Docker does.

use crate::DnsConfig;

/// The responder's address in a task's namespace.
pub const RESPONDER: &str = "127.0.0.11";

/// The resolv.conf of a task with `dns` settings: through the node's
/// responder (`responder`), else straight to its nameservers.
pub fn resolv_conf(dns: Option<&DnsConfig>, responder: bool) -> String {
    let dns = dns.cloned().unwrap_or_default();
    let mut conf = String::new();
    if responder {
        conf.push_str(&format!("nameserver {RESPONDER}\n"));
    } else {
        for server in &dns.nameservers {
            conf.push_str(&format!("nameserver {server}\n"));
        }
    }
    if !dns.search.is_empty() {
        conf.push_str(&format!("search {}\n", dns.search.join(" ")));
    }
    let mut options = dns.options.clone();
    if responder && !options.iter().any(|o| o.starts_with("ndots:")) {
        options.push("ndots:0".into());
    }
    if !options.is_empty() {
        conf.push_str(&format!("options {}\n", options.join(" ")));
    }
    conf
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_as_docker_writes_a_tasks() {
        assert_eq!(resolv_conf(None, true), "nameserver 127.0.0.11\noptions ndots:0\n");
        let dns = DnsConfig {
            nameservers: vec!["10.0.0.2".into(), "10.0.0.3".into()],
            search: vec!["a.test".into(), "b.test".into()],
            options: vec!["timeout:2".into()],
        };
        assert_eq!(
            resolv_conf(Some(&dns), true),
            "nameserver 127.0.0.11\nsearch a.test b.test\noptions timeout:2 ndots:0\n"
        );
        let own_ndots = DnsConfig { options: vec!["ndots:3".into()], ..Default::default() };
        assert_eq!(resolv_conf(Some(&own_ndots), true), "nameserver 127.0.0.11\noptions ndots:3\n");
        assert_eq!(
            resolv_conf(Some(&dns), false),
            "nameserver 10.0.0.2\nnameserver 10.0.0.3\nsearch a.test b.test\noptions timeout:2\n"
        );
    }
}
