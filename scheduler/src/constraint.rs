//! Placement constraints (`--constraint 'node.labels.zone==east'`): the
//! grammar Swarm accepts, parsed once when a service is created or
//! updated, so a malformed expression is refused with its exact position
//! and never reaches a scheduling pass.
//!
//! `KEY OP VALUE`, where KEY is `node.id`, `node.hostname`, `node.role`,
//! `node.platform.os`, `node.platform.arch`, `node.ip`, `node.labels.NAME`
//! or `engine.labels.NAME` (the prefix in any case, the label name as
//! written), OP is `==` or `!=`, and VALUE is compared case-insensitively.
//! `node.ip` takes an address or a CIDR block (`10.0.0.0/8`).

use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;

use crate::node::{NodeInfo, Role};

/// What a constraint looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Key {
    NodeId,
    Hostname,
    Role,
    Os,
    Arch,
    Ip,
    NodeLabel(String),
    EngineLabel(String),
}

/// One parsed constraint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Constraint {
    pub key: Key,
    /// `==` (true) or `!=` (false).
    pub equal: bool,
    /// The value as written, trimmed.
    pub value: String,
    /// The block a `node.ip` constraint matches.
    net: Option<IpNet>,
}

/// Why an expression is not a constraint: where, and what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("constraint {expression:?}, at character {position}: expected {expected}")]
pub struct ConstraintError {
    pub expression: String,
    /// 1-based character position of the problem.
    pub position: usize,
    pub expected: String,
}

const KEYS: &str = "node.id, node.hostname, node.role, node.platform.os, node.platform.arch, node.ip, \
                    node.labels.NAME or engine.labels.NAME";
const NODE_LABELS: &str = "node.labels.";
const ENGINE_LABELS: &str = "engine.labels.";

impl Constraint {
    /// Parses `expression`.
    pub fn parse(expression: &str) -> Result<Constraint, ConstraintError> {
        let fail = |byte: usize, expected: String| ConstraintError {
            expression: expression.to_string(),
            position: expression[..byte.min(expression.len())].chars().count() + 1,
            expected,
        };
        let Some((op_at, equal)) = find_operator(expression) else {
            let at = expression.find(['=', '<', '>', '~', '!']).unwrap_or(expression.len());
            return Err(fail(at, "an operator == or !=".into()));
        };
        let (key_text, rest) = (&expression[..op_at], &expression[op_at + 2..]);
        let value_at = op_at + 2 + (rest.len() - rest.trim_start().len());
        if let Some((second, _)) = find_operator(rest) {
            return Err(fail(op_at + 2 + second, "a single operator".into()));
        }
        if let Some(bad) = rest.find(['=', '<', '>', '~', '!']) {
            return Err(fail(op_at + 2 + bad, "a value without operator characters (= < > ~ !)".into()));
        }

        let key_at = key_text.len() - key_text.trim_start().len();
        let key = parse_key(key_text.trim()).map_err(|e| fail(key_at, e))?;
        let value = rest.trim().to_string();
        if value.is_empty() {
            return Err(fail(value_at, "a value after the operator".into()));
        }
        if let Some(bad) = value.find(|c: char| c.is_control()) {
            return Err(fail(value_at + bad, "a value without control characters".into()));
        }
        let net = match key {
            Key::Ip => Some(
                parse_net(&value)
                    .ok_or_else(|| fail(value_at, format!("an IP address or CIDR block, got {value:?}")))?,
            ),
            Key::Role if !value.eq_ignore_ascii_case("manager") && !value.eq_ignore_ascii_case("worker") => {
                return Err(fail(value_at, format!("manager or worker, got {value:?}")));
            }
            _ => None,
        };
        Ok(Constraint { key, equal, value, net })
    }

    /// Whether `node` satisfies the constraint. A label the node lacks
    /// reads as empty, so `node.labels.x!=y` holds on a node without `x`.
    pub fn matches(&self, node: &NodeInfo) -> bool {
        let same = |actual: &str| actual.eq_ignore_ascii_case(&self.value);
        let hit = match &self.key {
            Key::NodeId => same(&node.id),
            Key::Hostname => same(&node.hostname),
            Key::Role => same(match node.role {
                Role::Manager => "manager",
                Role::Worker => "worker",
            }),
            Key::Os => same(&node.os),
            Key::Arch => canonical_arch(&node.arch).eq_ignore_ascii_case(canonical_arch(&self.value)),
            Key::Ip => match (node.ip, self.net) {
                (Some(ip), Some(net)) => net.contains(&ip),
                _ => false,
            },
            Key::NodeLabel(name) => same(node.labels.get(name).map_or("", String::as_str)),
            Key::EngineLabel(name) => same(node.engine_labels.get(name).map_or("", String::as_str)),
        };
        hit == self.equal
    }
}

impl fmt::Display for Constraint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let key = match &self.key {
            Key::NodeId => "node.id".to_string(),
            Key::Hostname => "node.hostname".into(),
            Key::Role => "node.role".into(),
            Key::Os => "node.platform.os".into(),
            Key::Arch => "node.platform.arch".into(),
            Key::Ip => "node.ip".into(),
            Key::NodeLabel(name) => format!("{NODE_LABELS}{name}"),
            Key::EngineLabel(name) => format!("{ENGINE_LABELS}{name}"),
        };
        write!(f, "{key}{}{}", if self.equal { "==" } else { "!=" }, self.value)
    }
}

/// Parses every expression; the first error wins.
pub fn parse_all<S: AsRef<str>>(expressions: &[S]) -> Result<Vec<Constraint>, ConstraintError> {
    expressions.iter().map(|e| Constraint::parse(e.as_ref())).collect()
}

/// Byte offset of the first `==` or `!=`, and whether it is `==`.
fn find_operator(text: &str) -> Option<(usize, bool)> {
    let eq = text.find("==");
    let ne = text.find("!=");
    match (eq, ne) {
        (Some(e), Some(n)) if n < e => Some((n, false)),
        (Some(e), _) => Some((e, true)),
        (None, Some(n)) => Some((n, false)),
        (None, None) => None,
    }
}

fn parse_key(text: &str) -> Result<Key, String> {
    let lower = text.to_ascii_lowercase();
    let label = |prefix: &str, make: fn(String) -> Key| -> Option<Result<Key, String>> {
        let name = lower.starts_with(prefix).then(|| &text[prefix.len()..])?;
        Some(if valid_label_name(name) {
            Ok(make(name.to_string()))
        } else {
            Err(format!("a label name after {prefix:?} (letters, digits, '.', '-', '_'), got {name:?}"))
        })
    };
    if let Some(key) = label(NODE_LABELS, Key::NodeLabel).or_else(|| label(ENGINE_LABELS, Key::EngineLabel)) {
        return key;
    }
    Ok(match lower.as_str() {
        "node.id" => Key::NodeId,
        "node.hostname" => Key::Hostname,
        "node.role" => Key::Role,
        "node.platform.os" => Key::Os,
        "node.platform.arch" => Key::Arch,
        "node.ip" => Key::Ip,
        "" => return Err(format!("a key ({KEYS}) before the operator")),
        _ => return Err(format!("a key ({KEYS}), got {text:?}")),
    })
}

fn valid_label_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_alphanumeric() || matches!(c, '.' | '-' | '_' | '/'))
}

fn parse_net(value: &str) -> Option<IpNet> {
    value.parse::<IpNet>().ok().or_else(|| value.parse::<IpAddr>().ok().map(IpNet::from))
}

/// Architecture names as Go and Rust spell them mean the same machine.
pub(crate) fn canonical_arch(arch: &str) -> &str {
    let is = |name: &str| arch.eq_ignore_ascii_case(name);
    if is("amd64") || is("x86-64") {
        "x86_64"
    } else if is("arm64") {
        "aarch64"
    } else {
        arch
    }
}

#[cfg(test)]
mod tests;
