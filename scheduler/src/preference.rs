//! Placement preferences: `spread=node.labels.NAME` (or `engine.labels.NAME`)
//! divides a service's tasks evenly over the label's values.

use crate::node::NodeInfo;

/// One spread preference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Spread {
    NodeLabel(String),
    EngineLabel(String),
}

/// Why a descriptor is not a spread preference.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("placement preference {descriptor:?}: expected node.labels.NAME or engine.labels.NAME")]
pub struct PreferenceError {
    pub descriptor: String,
}

impl Spread {
    /// Parses a spread descriptor (`node.labels.zone`), the label prefix in
    /// any case.
    pub fn parse(descriptor: &str) -> Result<Spread, PreferenceError> {
        let text = descriptor.trim();
        let name = |prefix: &str| {
            let head = text.get(..prefix.len())?;
            let name = &text[prefix.len()..];
            (head.eq_ignore_ascii_case(prefix) && !name.is_empty()).then(|| name.to_string())
        };
        name("node.labels.")
            .map(Spread::NodeLabel)
            .or_else(|| name("engine.labels.").map(Spread::EngineLabel))
            .ok_or_else(|| PreferenceError { descriptor: descriptor.to_string() })
    }

    /// The node's value for this preference; a node without the label
    /// reads "", so such nodes form one more group.
    pub fn value<'a>(&self, node: &'a NodeInfo) -> &'a str {
        let labels = match self {
            Spread::NodeLabel(_) => &node.labels,
            Spread::EngineLabel(_) => &node.engine_labels,
        };
        let (Spread::NodeLabel(name) | Spread::EngineLabel(name)) = self;
        labels.get(name).map_or("", String::as_str)
    }
}

impl std::fmt::Display for Spread {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Spread::NodeLabel(name) => write!(f, "node.labels.{name}"),
            Spread::EngineLabel(name) => write!(f, "engine.labels.{name}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_label_descriptors_only() {
        assert_eq!(Spread::parse("node.labels.zone"), Ok(Spread::NodeLabel("zone".into())));
        assert_eq!(Spread::parse("Engine.Labels.disk"), Ok(Spread::EngineLabel("disk".into())));
        assert!(Spread::parse("node.labels.").is_err());
        assert!(Spread::parse("node.hostname").is_err());
        assert_eq!(
            Spread::parse("zone").unwrap_err().to_string(),
            "placement preference \"zone\": expected node.labels.NAME or engine.labels.NAME"
        );
    }

    #[test]
    fn a_node_without_the_label_reads_empty() {
        let mut node = NodeInfo::default();
        let zone = Spread::parse("node.labels.zone").unwrap();
        assert_eq!(zone.value(&node), "");
        node.labels.insert("zone".into(), "east".into());
        assert_eq!(zone.value(&node), "east");
        assert_eq!(zone.to_string(), "node.labels.zone");
    }
}
