//! Docker's flags for what the kernel or the engine applies to a task's
//! container: `--host`, `--dns`, `--dns-search`, `--dns-option`,
//! `--sysctl`, `--cap-add`, `--cap-drop`, `--ulimit`, `--tty` on `service
//! create`, and their `-add`/`-rm` forms on `service update`, as Docker
//! spells and applies them.

use std::collections::HashMap;

use clap::Args;
use shoal_proto::{ContainerSpec, DnsConfig, Ulimit};
use shoal_spec::engine_opts::{self, effective_capabilities, normalize_capability};

use super::args::key_value;
use super::update::{edit, edit_map};

/// The flags of `service create`.
#[derive(Args, Debug, Default)]
pub struct EngineArgs {
    /// Add a custom host-to-IP mapping to /etc/hosts (HOST:IP)
    #[arg(long = "host", value_name = "HOST:IP", value_parser = engine_opts::host)]
    pub host: Vec<String>,
    /// Set a custom DNS server
    #[arg(long = "dns", value_name = "IP", value_parser = engine_opts::nameserver)]
    pub dns: Vec<String>,
    /// Set a custom DNS search domain
    #[arg(long = "dns-search", value_name = "DOMAIN")]
    pub dns_search: Vec<String>,
    /// Set a DNS option (ndots:2, timeout:1...)
    #[arg(long = "dns-option", value_name = "OPTION")]
    pub dns_option: Vec<String>,
    /// Set a namespaced kernel parameter (docker runtime)
    #[arg(long = "sysctl", value_name = "KEY=VALUE", value_parser = key_value)]
    pub sysctl: Vec<(String, String)>,
    /// Add a Linux capability (docker runtime)
    #[arg(long = "cap-add", value_name = "CAPABILITY")]
    pub cap_add: Vec<String>,
    /// Drop a Linux capability (docker runtime)
    #[arg(long = "cap-drop", value_name = "CAPABILITY")]
    pub cap_drop: Vec<String>,
    /// Set a resource limit: NAME=SOFT[:HARD] (docker runtime)
    #[arg(long = "ulimit", value_name = "NAME=SOFT[:HARD]", value_parser = engine_opts::ulimit)]
    pub ulimit: Vec<Ulimit>,
    /// Allocate a pseudo-TTY (docker runtime)
    #[arg(short = 't', long)]
    pub tty: bool,
}

impl EngineArgs {
    /// Sets these options on `c`.
    pub fn apply(&self, c: &mut ContainerSpec) {
        c.hosts = self.host.clone();
        if !(self.dns.is_empty() && self.dns_search.is_empty() && self.dns_option.is_empty()) {
            c.dns_config = Some(DnsConfig {
                nameservers: self.dns.clone(),
                search: self.dns_search.clone(),
                options: self.dns_option.clone(),
            });
        }
        c.sysctls = self.sysctl.iter().cloned().collect();
        (c.capability_add, c.capability_drop) = effective_capabilities(&self.cap_add, &self.cap_drop);
        c.ulimits = by_name(self.ulimit.clone());
        c.tty = self.tty;
    }
}

/// The flags of `service update`.
#[derive(Args, Debug, Default)]
pub struct EngineUpdateArgs {
    /// Add or update a custom host-to-IP mapping (HOST:IP)
    #[arg(long = "host-add", value_name = "HOST:IP", value_parser = engine_opts::host)]
    pub host_add: Vec<String>,
    /// Remove a custom host-to-IP mapping (HOST:IP, or HOST for all of its)
    #[arg(long = "host-rm", value_name = "HOST[:IP]")]
    pub host_rm: Vec<String>,
    /// Add or update a custom DNS server
    #[arg(long = "dns-add", value_name = "IP", value_parser = engine_opts::nameserver)]
    pub dns_add: Vec<String>,
    /// Remove a custom DNS server
    #[arg(long = "dns-rm", value_name = "IP")]
    pub dns_rm: Vec<String>,
    /// Add or update a custom DNS search domain
    #[arg(long = "dns-search-add", value_name = "DOMAIN")]
    pub dns_search_add: Vec<String>,
    /// Remove a DNS search domain
    #[arg(long = "dns-search-rm", value_name = "DOMAIN")]
    pub dns_search_rm: Vec<String>,
    /// Add or update a DNS option
    #[arg(long = "dns-option-add", value_name = "OPTION")]
    pub dns_option_add: Vec<String>,
    /// Remove a DNS option
    #[arg(long = "dns-option-rm", value_name = "OPTION")]
    pub dns_option_rm: Vec<String>,
    /// Add or update a kernel parameter (docker runtime)
    #[arg(long = "sysctl-add", value_name = "KEY=VALUE", value_parser = key_value)]
    pub sysctl_add: Vec<(String, String)>,
    /// Remove a kernel parameter
    #[arg(long = "sysctl-rm", value_name = "KEY")]
    pub sysctl_rm: Vec<String>,
    /// Add a Linux capability (RESET: forget the added ones first)
    #[arg(long = "cap-add", value_name = "CAPABILITY")]
    pub cap_add: Vec<String>,
    /// Drop a Linux capability (RESET: forget the dropped ones first)
    #[arg(long = "cap-drop", value_name = "CAPABILITY")]
    pub cap_drop: Vec<String>,
    /// Add or update a resource limit: NAME=SOFT[:HARD]
    #[arg(long = "ulimit-add", value_name = "NAME=SOFT[:HARD]", value_parser = engine_opts::ulimit)]
    pub ulimit_add: Vec<Ulimit>,
    /// Remove a resource limit
    #[arg(long = "ulimit-rm", value_name = "NAME")]
    pub ulimit_rm: Vec<String>,
    /// Allocate a pseudo-TTY
    #[arg(short = 't', long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub tty: Option<bool>,
}

impl EngineUpdateArgs {
    /// Applies the removals, then the additions, to `c`.
    pub fn apply(&self, c: &mut ContainerSpec) {
        c.hosts = hosts(&c.hosts, &self.host_rm, &self.host_add);
        if self.changes_dns() {
            let dns = c.dns_config.get_or_insert_with(DnsConfig::default);
            let same = |s: &str| s.to_string();
            edit(&mut dns.nameservers, &self.dns_rm, &self.dns_add, same);
            edit(&mut dns.search, &self.dns_search_rm, &self.dns_search_add, same);
            edit(&mut dns.options, &self.dns_option_rm, &self.dns_option_add, same);
        }
        edit_map(&mut c.sysctls, &self.sysctl_rm, &self.sysctl_add);
        self.apply_capabilities(c);
        let mut limits: HashMap<String, Ulimit> = c.ulimits.drain(..).map(|u| (u.name.clone(), u)).collect();
        for name in &self.ulimit_rm {
            limits.remove(name);
        }
        limits.extend(self.ulimit_add.iter().map(|u| (u.name.clone(), u.clone())));
        c.ulimits = by_name(limits.into_values().collect());
        if let Some(tty) = self.tty {
            c.tty = tty;
        }
    }

    fn changes_dns(&self) -> bool {
        [
            &self.dns_add,
            &self.dns_rm,
            &self.dns_search_add,
            &self.dns_search_rm,
            &self.dns_option_add,
            &self.dns_option_rm,
        ]
        .iter()
        .any(|l| !l.is_empty())
    }

    /// Docker's rules: an added capability leaves the dropped ones and a
    /// dropped one the added; `RESET` forgets the list first.
    fn apply_capabilities(&self, c: &mut ContainerSpec) {
        let normalized = |caps: &[String]| caps.iter().map(|c| normalize_capability(c)).collect::<Vec<_>>();
        let (to_add, to_drop) = (normalized(&self.cap_add), normalized(&self.cap_drop));
        let reset = |caps: &[String]| caps.iter().any(|c| c == "RESET");
        let mut add = if reset(&to_add) { Vec::new() } else { normalized(&c.capability_add) };
        let mut drop = if reset(&to_drop) { Vec::new() } else { normalized(&c.capability_drop) };
        drop.retain(|cap| !to_add.contains(cap));
        add.retain(|cap| !to_drop.contains(cap));
        add.extend(to_add);
        drop.extend(to_drop);
        (c.capability_add, c.capability_drop) = effective_capabilities(&add, &drop);
    }
}

/// Hosts lines without those `rm` names (`HOST:IP`, or `HOST` for every
/// address of it), then `add` (replacing a line of the same host).
fn hosts(lines: &[String], rm: &[String], add: &[String]) -> Vec<String> {
    let gone = |name: &str, address: &str| {
        rm.iter().any(|r| match r.split_once(':') {
            Some((host, ip)) => host == name && engine_opts::nameserver(ip).is_ok_and(|ip| ip == address),
            None => r == name,
        })
    };
    let added: Vec<(String, String)> = add.iter().flat_map(|l| engine_opts::host_pairs(l)).collect();
    let mut kept: Vec<String> = Vec::new();
    for line in lines {
        let pairs = engine_opts::host_pairs(line);
        let left: Vec<&(String, String)> =
            pairs.iter().filter(|(n, a)| !gone(n, a) && !added.iter().any(|(added, _)| added == n)).collect();
        if let Some((_, address)) = left.first() {
            let names: Vec<&str> = left.iter().map(|(n, _)| n.as_str()).collect();
            kept.push(format!("{address} {}", names.join(" ")));
        }
    }
    kept.extend(add.iter().cloned());
    kept
}

/// Limits in name order, as Docker lists them.
fn by_name(mut limits: Vec<Ulimit>) -> Vec<Ulimit> {
    limits.sort_by(|a, b| a.name.cmp(&b.name));
    limits
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Create {
        #[command(flatten)]
        args: EngineArgs,
    }

    #[derive(Parser)]
    struct Update {
        #[command(flatten)]
        args: EngineUpdateArgs,
    }

    fn created(flags: &[&str]) -> ContainerSpec {
        let mut c = ContainerSpec::default();
        Create::try_parse_from(std::iter::once("create").chain(flags.iter().copied())).unwrap().args.apply(&mut c);
        c
    }

    fn updated(mut c: ContainerSpec, flags: &[&str]) -> ContainerSpec {
        Update::try_parse_from(std::iter::once("update").chain(flags.iter().copied())).unwrap().args.apply(&mut c);
        c
    }

    #[test]
    fn create_flags_as_docker_keeps_them() {
        let c = created(&[
            "--host",
            "db:10.0.0.5",
            "--dns",
            "10.0.0.2",
            "--dns-search",
            "a.test",
            "--dns-option",
            "ndots:2",
            "--sysctl",
            "net.core.somaxconn=1024",
            "--cap-add",
            "net_admin",
            "--cap-drop",
            "mknod",
            "--ulimit",
            "nproc=64",
            "--ulimit",
            "nofile=10:20",
            "-t",
        ]);
        assert_eq!(c.hosts, ["10.0.0.5 db"]);
        let dns = c.dns_config.unwrap();
        assert_eq!(
            (dns.nameservers, dns.search, dns.options),
            (vec!["10.0.0.2".into()], vec!["a.test".into()], vec!["ndots:2".into()])
        );
        assert_eq!(c.sysctls["net.core.somaxconn"], "1024");
        assert_eq!((c.capability_add, c.capability_drop), (vec!["CAP_NET_ADMIN".into()], vec!["CAP_MKNOD".into()]));
        let limits: Vec<&str> = c.ulimits.iter().map(|u| u.name.as_str()).collect();
        assert_eq!(limits, ["nofile", "nproc"]);
        assert!(c.tty);
        assert!(created(&[]).dns_config.is_none(), "no resolver settings unless given");
        for bad in [["--host", "db"], ["--dns", "x"], ["--ulimit", "nofile=2:1"]] {
            assert!(Create::try_parse_from(std::iter::once("create").chain(bad)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn update_flags_add_and_remove_as_docker_does() {
        let c = created(&[
            "--host",
            "db:10.0.0.5",
            "--host",
            "cache:10.0.0.6",
            "--dns",
            "10.0.0.2",
            "--cap-add",
            "NET_ADMIN",
            "--ulimit",
            "nproc=64",
        ]);
        let c = updated(
            c,
            &[
                "--host-rm",
                "cache",
                "--host-add",
                "db:10.0.0.9",
                "--dns-rm",
                "10.0.0.2",
                "--dns-add",
                "10.0.0.3",
                "--cap-drop",
                "NET_ADMIN",
                "--ulimit-rm",
                "nproc",
                "--ulimit-add",
                "nofile=5",
                "--sysctl-add",
                "net.x=1",
            ],
        );
        assert_eq!(c.hosts, ["10.0.0.9 db"]);
        assert_eq!(c.dns_config.as_ref().unwrap().nameservers, ["10.0.0.3"]);
        assert!(c.capability_add.is_empty());
        assert_eq!(c.capability_drop, ["CAP_NET_ADMIN"]);
        assert_eq!(c.ulimits, [Ulimit { name: "nofile".into(), soft: 5, hard: 5 }]);
        assert_eq!(c.sysctls["net.x"], "1");
        let c = updated(c, &["--cap-drop", "RESET", "--cap-add", "SYS_TIME", "--sysctl-rm", "net.x", "--tty"]);
        assert_eq!((c.capability_add, c.capability_drop), (vec!["CAP_SYS_TIME".to_string()], Vec::<String>::new()));
        assert!(c.sysctls.is_empty() && c.tty);
        let two = ContainerSpec { hosts: vec!["10.0.0.5 db db.local".into()], ..Default::default() };
        assert_eq!(updated(two, &["--host-rm", "db:10.0.0.5"]).hosts, ["10.0.0.5 db.local"]);
    }
}
