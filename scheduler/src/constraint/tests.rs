use super::*;
use crate::node::NodeInfo;

fn node() -> NodeInfo {
    let mut n = NodeInfo {
        id: "n1abc".into(),
        hostname: "Node-1".into(),
        role: Role::Manager,
        ip: Some("10.1.2.3".parse().unwrap()),
        os: "linux".into(),
        arch: "x86_64".into(),
        ..Default::default()
    };
    n.labels.insert("zone".into(), "East".into());
    n.engine_labels.insert("disk".into(), "ssd".into());
    n
}

fn holds(expression: &str) -> bool {
    Constraint::parse(expression).unwrap_or_else(|e| panic!("{e}")).matches(&node())
}

#[test]
fn every_key_matches_case_insensitively() {
    assert!(holds("node.id==n1abc"));
    assert!(holds("node.hostname==node-1"));
    assert!(holds("node.role==manager"));
    assert!(holds("node.role != worker"));
    assert!(holds("node.platform.os==Linux"));
    assert!(holds("node.platform.arch==amd64"), "Go's name for x86_64");
    assert!(holds("node.labels.zone==east"));
    assert!(holds("NODE.LABELS.zone==east"), "the prefix in any case");
    assert!(!holds("node.labels.Zone==east"), "the label name as written");
    assert!(holds("engine.labels.disk==SSD"));
    assert!(holds("node.ip==10.0.0.0/8"));
    assert!(holds("node.ip==10.1.2.3"));
    assert!(holds("node.ip!=192.168.0.0/16"));
    assert!(!holds("node.ip==10.1.2.4"));
}

#[test]
fn a_missing_label_reads_as_empty() {
    assert!(!holds("node.labels.rack==r1"));
    assert!(holds("node.labels.rack!=r1"));
    let no_ip = NodeInfo::default();
    assert!(!Constraint::parse("node.ip==10.0.0.0/8").unwrap().matches(&no_ip));
}

fn error(expression: &str) -> (usize, String) {
    let e = Constraint::parse(expression).unwrap_err();
    (e.position, e.expected)
}

#[test]
fn malformed_expressions_name_the_position_and_what_was_expected() {
    assert_eq!(error("node.labels.zone=east"), (17, "an operator == or !=".into()));
    assert_eq!(error("node.labels.zone"), (17, "an operator == or !=".into()));
    assert_eq!(error("node.role==manager==x").0, 19);
    assert_eq!(error("node.labels.a==b!=c").0, 17);
    assert!(error("node.lables.zone==east").1.starts_with("a key (node.id"), "{:?}", error("node.lables.zone==east"));
    assert_eq!(error("  ==x").0, 3);
    assert_eq!(
        error("node.labels.==x").1,
        "a label name after \"node.labels.\" (letters, digits, '.', '-', '_'), got \"\""
    );
    assert_eq!(error("node.hostname== "), (17, "a value after the operator".into()));
    assert_eq!(error("node.role==leader"), (12, "manager or worker, got \"leader\"".into()));
    assert_eq!(error("node.ip==10.0.0.300"), (10, "an IP address or CIDR block, got \"10.0.0.300\"".into()));
    assert_eq!(error("node.id=>x").0, 8);
    let e = Constraint::parse("zone=east").unwrap_err();
    assert_eq!(e.to_string(), "constraint \"zone=east\", at character 5: expected an operator == or !=");
}

#[test]
fn positions_count_characters_not_bytes() {
    assert_eq!(error("node.labels.zöne=x").0, 17);
}

#[test]
fn displays_as_written() {
    let c = Constraint::parse(" node.labels.zone  !=  east ").unwrap();
    assert_eq!(c.to_string(), "node.labels.zone!=east");
    assert_eq!(parse_all(&["node.role==worker", "x"]).unwrap_err().expression, "x");
}
