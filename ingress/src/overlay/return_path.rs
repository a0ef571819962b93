//! The return path of mesh connections that other nodes send to a task
//! with the client's own address (no SNAT): in the task's namespace, a
//! routing table per sending node whose default route goes back through
//! that node, chosen by the mark the task's table gives each connection
//! as it arrives ([`crate::task_table`]). So the reply leaves by
//! the node the client talked to, which undoes its DNAT.
//!
//! A node is known by its ingress address, which is also its mark and
//! its table's id; the rules selecting the tables carry [`PRIORITY`], so
//! the ones made here are told from any other.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use futures::TryStreamExt;
use rtnetlink::packet_route::rule::{RuleAction, RuleAttribute, RuleMessage};
use rtnetlink::{IpVersion, RouteMessageBuilder};

use nix::errno::Errno;

use super::{Overlay, Result, is, netlink};

/// The priority of the rules that pick a sending node's table (before
/// the main table, 32766).
pub const PRIORITY: u32 = 100;

/// The connection mark, and the routing table, of replies that go back
/// through the node whose ingress address is `node`.
pub fn mark(node: Ipv4Addr) -> u32 {
    u32::from(node)
}

impl Overlay {
    /// Makes the namespace this connection is to route marked replies
    /// back through each of `nodes` over its interface `ifname`, and
    /// forgets nodes no longer listed.
    pub async fn return_paths(&self, ifname: &str, nodes: &BTreeSet<Ipv4Addr>) -> Result<()> {
        let index = self.must_index(ifname).await?;
        let (kept, stale): (Vec<_>, Vec<_>) =
            self.return_rules().await?.into_iter().partition(|(node, _)| nodes.contains(node));
        let have: BTreeSet<Ipv4Addr> = kept.into_iter().map(|(node, _)| node).collect();
        for (node, rule) in stale {
            // The route first: once the rule is gone, nothing would tell
            // the route was made here.
            match self.handle.route().del(default_via(node, index)).execute().await {
                Err(e) if is(&e, Errno::ESRCH) => {}
                other => other.map_err(netlink(format!("removing the route back through {node}")))?,
            }
            self.handle.rule().del(rule).execute().await.map_err(netlink(format!("removing the rule of {node}")))?;
        }
        for &node in nodes {
            let what = || format!("routing replies back through {node}");
            // Every time: a route lost with its link comes back.
            self.handle.route().add(default_via(node, index)).replace().execute().await.map_err(netlink(what()))?;
            if !have.contains(&node) {
                let rule = self.handle.rule().add().v4().fw_mark(mark(node)).table_id(mark(node));
                let rule = rule.priority(PRIORITY).action(RuleAction::ToTable);
                rule.execute().await.map_err(netlink(what()))?;
            }
        }
        Ok(())
    }

    /// The rules made by [`Overlay::return_paths`], with the node each
    /// sends back through.
    pub(super) async fn return_rules(&self) -> Result<Vec<(Ipv4Addr, RuleMessage)>> {
        let mut found = Vec::new();
        let mut rules = self.handle.rule().get(IpVersion::V4).execute();
        while let Some(rule) = rules.try_next().await.map_err(netlink("listing the routing rules"))? {
            if let Some(node) = ours(&rule) {
                found.push((node, rule));
            }
        }
        Ok(found)
    }
}

/// The node a rule made here sends back through: one of [`PRIORITY`]
/// whose mark is its table.
fn ours(rule: &RuleMessage) -> Option<Ipv4Addr> {
    let attrs = &rule.attributes;
    attrs.contains(&RuleAttribute::Priority(PRIORITY)).then_some(())?;
    let mark = attrs.iter().find_map(|a| match a {
        RuleAttribute::FwMark(m) => Some(*m),
        _ => None,
    })?;
    attrs.contains(&RuleAttribute::Table(mark)).then(|| Ipv4Addr::from(mark))
}

/// The default route of `node`'s table.
fn default_via(node: Ipv4Addr, index: u32) -> rtnetlink::packet_route::route::RouteMessage {
    RouteMessageBuilder::<Ipv4Addr>::new().gateway(node).output_interface(index).table_id(mark(node)).build()
}
