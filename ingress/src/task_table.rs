//! A task's own nftables table, `ip shoal` in its namespace. A
//! connection to a VIP goes to one of the service's tasks, DNATed in the
//! caller's namespace (as Docker's per-sandbox load balancer), so no SNAT
//! is needed between tasks. On the ingress network, a connection another
//! node's mesh sends in keeps the client's address: the table marks it
//! with that node and the namespace's return paths
//! ([`crate::overlay::Overlay::return_paths`]) route its replies back
//! through it.
//!
//! A mark is per 5-tuple: two connections from one client address and
//! port through two nodes to the same task are one connection to
//! conntrack and the task, and its replies follow the first node. A
//! client that reuses a source port towards several nodes (one UDP socket
//! asking each) sees answers from one.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::net::Ipv4Addr;

use crate::mesh::TABLE;
use crate::overlay::{mac_text, mark};

/// The other nodes a task's namespace takes mesh connections from with
/// the client's address kept: frames from a node's ingress bridge carry
/// the MAC its address implies ([`crate::overlay::mac`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReturnPaths {
    /// The task's interface on the ingress network ("eth1").
    pub ifname: String,
    /// The other nodes' ingress addresses.
    pub nodes: BTreeSet<Ipv4Addr>,
}

/// The table of a task's namespace, replacing the one there. A connection to a VIP goes to one of
/// the service's tasks (round robin, the port kept), DNATed in the task's
/// own namespace, so no SNAT is needed and the answering task sees the
/// caller. A connection another node's mesh sends in is marked with that
/// node ([`crate::overlay::mark`]), and so are its replies, which the
/// namespace's rules route back through it.
pub fn task_script(vips: &[(Ipv4Addr, Vec<Ipv4Addr>)], back: Option<&ReturnPaths>) -> String {
    let mut rules = String::new();
    for (vip, tasks) in vips.iter().filter(|(_, t)| !t.is_empty()) {
        let map: Vec<String> = tasks.iter().enumerate().map(|(i, t)| format!("{i} : {t}")).collect();
        let _ = writeln!(
            rules,
            "\t\tip daddr {vip} dnat ip to numgen inc mod {} map {{ {} }}",
            tasks.len(),
            map.join(", ")
        );
    }
    let mut marks = String::new();
    if let Some(back) = back.filter(|b| !b.nodes.is_empty()) {
        let map: Vec<String> = back.nodes.iter().map(|n| format!("{} : {:#010x}", mac_text(*n), mark(*n))).collect();
        let _ = write!(
            marks,
            "\tchain mesh_in {{\n\t\ttype filter hook prerouting priority mangle; policy accept;\n\
             \t\tiifname \"{}\" ct state new ct mark set ether saddr map {{ {} }}\n\t}}\n\
             \tchain mesh_out {{\n\t\ttype route hook output priority mangle; policy accept;\n\
             \t\tct mark != 0 meta mark set ct mark\n\t}}\n",
            back.ifname,
            map.join(", ")
        );
    }
    format!(
        "add table ip {TABLE}\ndelete table ip {TABLE}\ntable ip {TABLE} {{\n\
         \tchain output {{\n\t\ttype nat hook output priority -100; policy accept;\n{rules}\t}}\n{marks}}}\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_balances_each_vip_over_the_service_tasks() {
        let vip = Ipv4Addr::new(10, 0, 1, 2);
        let tasks = vec![Ipv4Addr::new(10, 0, 1, 3), Ipv4Addr::new(10, 0, 1, 4)];
        let script = task_script(&[(vip, tasks), (Ipv4Addr::new(10, 0, 1, 9), vec![])], None);
        assert!(
            script.contains("ip daddr 10.0.1.2 dnat ip to numgen inc mod 2 map { 0 : 10.0.1.3, 1 : 10.0.1.4 }"),
            "{script}"
        );
        assert!(!script.contains("10.0.1.9"), "no task, no rule: {script}");
        assert!(!script.contains("mesh_in"), "not on the ingress network: {script}");
    }

    #[test]
    fn a_task_marks_connections_by_the_node_that_sent_them() {
        let back = ReturnPaths {
            ifname: "eth1".into(),
            nodes: BTreeSet::from([Ipv4Addr::new(10, 0, 0, 4), Ipv4Addr::new(10, 0, 0, 5)]),
        };
        let script = task_script(&[], Some(&back));
        assert!(
            script.contains(
                "iifname \"eth1\" ct state new ct mark set ether saddr map \
                 { 02:42:0a:00:00:04 : 0x0a000004, 02:42:0a:00:00:05 : 0x0a000005 }"
            ),
            "{script}"
        );
        assert!(script.contains("type route hook output priority mangle"), "{script}");
        assert!(script.contains("ct mark != 0 meta mark set ct mark"), "{script}");
        let alone = ReturnPaths { ifname: "eth0".into(), nodes: BTreeSet::new() };
        assert!(!task_script(&[], Some(&alone)).contains("mesh_in"), "no other node, no marks");
    }
}
