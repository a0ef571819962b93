//! Options of a task's container that its runtime hands to the kernel or
//! the engine: extra `/etc/hosts` lines, resolver settings, sysctls,
//! ulimits and capabilities. Read from Docker's spellings (`HOST:IP`,
//! `nofile=1024:2048`) for the CLI and stacks alike, and checked when a
//! spec reaches the managers, so a task never fails on them at start.

use std::net::IpAddr;

use shoal_proto::{ContainerSpec, Ulimit};

use crate::InvalidSpec;

/// The resource limits Docker knows by name (go-units' table).
pub const ULIMITS: [&str; 15] = [
    "core",
    "cpu",
    "data",
    "fsize",
    "locks",
    "memlock",
    "msgqueue",
    "nice",
    "nofile",
    "nproc",
    "rss",
    "rtprio",
    "rttime",
    "sigpending",
    "stack",
];

/// The kernel parameters a container may set: those of the namespaces it
/// has of its own (runc's list), any other would fail the task at start.
pub fn namespaced_sysctl(key: &str) -> bool {
    const IPC: [&str; 8] = [
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
        "kernel.shmmax",
        "kernel.shmmni",
        "kernel.shm_rmid_forced",
    ];
    key.starts_with("net.") || key.starts_with("fs.mqueue.") || IPC.contains(&key)
}

/// An IP address as Docker writes one, IPv6 with or without brackets.
fn ip(text: &str) -> Option<IpAddr> {
    let text = text.strip_prefix('[').and_then(|t| t.strip_suffix(']')).unwrap_or(text);
    text.parse().ok()
}

/// `HOST:IP` (or `HOST=IP`, compose's other spelling) as Docker's Hosts
/// keeps it: `IP HOST`.
pub fn host(text: &str) -> Result<String, String> {
    let split = match (text.find('='), text.find(':')) {
        (Some(eq), Some(colon)) if eq < colon => text.split_once('='),
        (Some(_), None) => text.split_once('='),
        _ => text.split_once(':'),
    };
    let Some((name, address)) = split else {
        return Err(format!("expected HOST:IP, got {text:?}"));
    };
    let name = name.trim();
    if name.is_empty() || name.contains(char::is_whitespace) {
        return Err(format!("expected a host name before the address, got {text:?}"));
    }
    let address = ip(address.trim()).ok_or_else(|| format!("{address:?} is not an IP address (in {text:?})"))?;
    Ok(format!("{address} {name}"))
}

/// The host names of a Hosts line (`IP HOST [ALIAS...]`) paired with its
/// address, as the engine's `ExtraHosts` takes them (`HOST:IP`).
pub fn host_pairs(line: &str) -> Vec<(String, String)> {
    let mut words = line.split_whitespace();
    let Some(address) = words.next() else { return Vec::new() };
    words.map(|name| (name.to_string(), address.to_string())).collect()
}

/// A resolver address (`--dns`): an IP address, as Docker takes it.
pub fn nameserver(text: &str) -> Result<String, String> {
    match ip(text.trim()) {
        Some(address) => Ok(address.to_string()),
        None => Err(format!("expected an IP address, got {text:?}")),
    }
}

/// `NAME=SOFT[:HARD]` (`--ulimit nofile=1024:2048`; one number is both).
pub fn ulimit(text: &str) -> Result<Ulimit, String> {
    let Some((name, limits)) = text.split_once('=') else {
        return Err(format!("expected NAME=SOFT[:HARD], got {text:?}"));
    };
    let number = |n: &str| n.trim().parse::<i64>().map_err(|_| format!("expected a number, got {n:?} (in {text:?})"));
    let (soft, hard) = match limits.split_once(':') {
        Some((soft, hard)) => (number(soft)?, number(hard)?),
        None => (number(limits)?, number(limits)?),
    };
    let limit = Ulimit { name: name.trim().to_string(), soft, hard };
    check_ulimit(&limit)?;
    Ok(limit)
}

fn check_ulimit(u: &Ulimit) -> Result<(), String> {
    if !ULIMITS.contains(&u.name.as_str()) {
        return Err(format!("unknown limit {:?} (known: {})", u.name, ULIMITS.join(", ")));
    }
    if u.soft > u.hard {
        return Err(format!("{}: soft {} is above hard {}", u.name, u.soft, u.hard));
    }
    if u.soft < -1 || u.hard < -1 {
        return Err(format!("{}: expected -1 (unlimited) or more", u.name));
    }
    Ok(())
}

/// Checks the options of `c`, naming the field (as the CLI names it).
pub fn check(c: &ContainerSpec) -> Result<(), InvalidSpec> {
    let refuse = |field: &str, e: String| InvalidSpec(format!("{field}: {e}"));
    for line in &c.hosts {
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.len() < 2 || ip(words[0]).is_none() {
            return Err(refuse("host", format!("expected \"IP HOST [ALIAS...]\", got {line:?}")));
        }
    }
    if let Some(dns) = &c.dns_config {
        for server in &dns.nameservers {
            nameserver(server).map_err(|e| refuse("dns", e))?;
        }
        let word = |field: &str, items: &[String]| match items
            .iter()
            .find(|s| s.is_empty() || s.contains(char::is_whitespace))
        {
            Some(bad) => Err(refuse(field, format!("expected one word, got {bad:?}"))),
            None => Ok(()),
        };
        word("dns-search", &dns.search)?;
        word("dns-option", &dns.options)?;
    }
    for (key, value) in &c.sysctls {
        let bad_key = key.is_empty() || key.contains(|ch: char| ch == '=' || ch == '/' || ch.is_whitespace());
        if bad_key || key.starts_with('.') || key.ends_with('.') {
            return Err(refuse(
                "sysctl",
                format!("expected a kernel parameter such as net.core.somaxconn, got {key:?}"),
            ));
        }
        if !namespaced_sysctl(key) {
            return Err(refuse(
                "sysctl",
                format!(
                    "{key} is not in a namespace of the task's own (net.*, fs.mqueue.*, kernel.shm*, kernel.msg*, kernel.sem)"
                ),
            ));
        }
        if value.contains(['\n', '\0']) {
            return Err(refuse("sysctl", format!("{key}: the value holds a newline or NUL")));
        }
    }
    for u in &c.ulimits {
        check_ulimit(u).map_err(|e| refuse("ulimit", e))?;
    }
    for (field, caps) in [("cap-add", &c.capability_add), ("cap-drop", &c.capability_drop)] {
        if let Some(bad) = caps.iter().find(|cap| !capability(cap)) {
            return Err(refuse(field, format!("expected a capability such as NET_ADMIN or ALL, got {bad:?}")));
        }
    }
    Ok(())
}

/// A capability as Docker keeps it: upper case, `CAP_` in front (`ALL`
/// and `RESET` as they are).
pub fn normalize_capability(name: &str) -> String {
    let name = name.trim().to_uppercase();
    if name == "ALL" || name == "RESET" || name.starts_with("CAP_") { name } else { format!("CAP_{name}") }
}

/// The capabilities added and dropped, as Docker settles them: names
/// normalized, `ALL` standing alone, one both added and dropped only
/// added, `RESET` gone, each list sorted.
pub fn effective_capabilities(add: &[String], drop: &[String]) -> (Vec<String>, Vec<String>) {
    let set = |caps: &[String]| {
        let set: std::collections::BTreeSet<String> = caps.iter().map(|c| normalize_capability(c)).collect();
        if set.contains("ALL") { ["ALL".to_string()].into() } else { set }
    };
    let (add, drop) = (set(add), set(drop));
    let kept = |c: &&String| c.as_str() != "RESET";
    let dropped = drop.iter().filter(kept).filter(|c| !add.contains(*c)).cloned().collect();
    (add.iter().filter(kept).cloned().collect(), dropped)
}

/// A capability's name as Docker takes it: `NET_ADMIN`, `CAP_NET_ADMIN`,
/// `net_admin` or `ALL`.
fn capability(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use shoal_proto::DnsConfig;

    use super::*;

    #[test]
    fn hosts_are_read_as_docker_writes_them() {
        assert_eq!(host("db:10.0.0.5"), Ok("10.0.0.5 db".into()));
        assert_eq!(host("db=10.0.0.5"), Ok("10.0.0.5 db".into()));
        assert_eq!(host("v6:::1"), Ok("::1 v6".into()));
        assert_eq!(host("v6:[fe80::1]"), Ok("fe80::1 v6".into()));
        assert!(host("db").unwrap_err().contains("HOST:IP"));
        assert!(host("db:nope").unwrap_err().contains("\"nope\" is not an IP address"));
        assert!(host(":1.2.3.4").is_err());
        assert_eq!(
            host_pairs("10.0.0.5 db db.local"),
            [("db".into(), "10.0.0.5".into()), ("db.local".into(), "10.0.0.5".into())]
        );
    }

    #[test]
    fn capabilities_are_settled_as_docker_settles_them() {
        let strings = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let (add, drop) = effective_capabilities(
            &strings(&["net_admin", "CAP_SYS_TIME", "chown"]),
            &strings(&["chown", "mknod", "RESET"]),
        );
        assert_eq!(add, ["CAP_CHOWN", "CAP_NET_ADMIN", "CAP_SYS_TIME"]);
        assert_eq!(drop, ["CAP_MKNOD"]);
        let (add, drop) = effective_capabilities(&strings(&["ALL", "NET_ADMIN"]), &strings(&["all"]));
        assert_eq!((add, drop), (strings(&["ALL"]), Vec::new()));
    }

    #[test]
    fn ulimits_and_nameservers() {
        assert_eq!(ulimit("nofile=1024:2048"), Ok(Ulimit { name: "nofile".into(), soft: 1024, hard: 2048 }));
        assert_eq!(ulimit("nproc=64"), Ok(Ulimit { name: "nproc".into(), soft: 64, hard: 64 }));
        assert!(ulimit("nofile=2048:1024").unwrap_err().contains("above hard"));
        assert!(ulimit("files=1").unwrap_err().contains("unknown limit"));
        assert!(ulimit("nofile").is_err());
        assert!(ulimit("nofile=x").unwrap_err().contains("expected a number"));
        assert_eq!(nameserver("1.1.1.1"), Ok("1.1.1.1".into()));
        assert!(nameserver("dns.example").is_err());
    }

    #[test]
    fn a_spec_with_bad_options_is_refused_by_field() {
        let ok = ContainerSpec {
            hosts: vec!["10.0.0.5 db".into()],
            dns_config: Some(DnsConfig {
                nameservers: vec!["1.1.1.1".into()],
                search: vec!["example.test".into()],
                options: vec!["ndots:2".into()],
            }),
            sysctls: HashMap::from([("net.core.somaxconn".into(), "1024".into())]),
            capability_add: vec!["NET_ADMIN".into()],
            ..Default::default()
        };
        assert!(check(&ok).is_ok());
        let refused = |c: ContainerSpec| check(&c).unwrap_err().0;
        assert!(refused(ContainerSpec { hosts: vec!["db 10.0.0.5".into()], ..ok.clone() }).starts_with("host: "));
        let dns = |nameservers: Vec<String>| Some(DnsConfig { nameservers, ..Default::default() });
        assert!(refused(ContainerSpec { dns_config: dns(vec!["x".into()]), ..ok.clone() }).starts_with("dns: "));
        for key in ["a=b", "vm.swappiness", "net."] {
            let sysctls = HashMap::from([(key.to_string(), "1".to_string())]);
            assert!(refused(ContainerSpec { sysctls, ..ok.clone() }).starts_with("sysctl: "), "{key}");
        }
        assert!(namespaced_sysctl("kernel.shmmax") && namespaced_sysctl("fs.mqueue.msg_max"));
        let caps = vec!["NET ADMIN".to_string()];
        assert!(refused(ContainerSpec { capability_drop: caps, ..ok.clone() }).starts_with("cap-drop: "));
        let limits = vec![Ulimit { name: "nofile".into(), soft: 3, hard: 2 }];
        assert!(refused(ContainerSpec { ulimits: limits, ..ok }).starts_with("ulimit: "));
    }
}
