use super::*;

fn node(id: &str) -> NodeInfo {
    NodeInfo { id: id.into(), ready: true, active: true, runtimes: vec!["process".into()], ..Default::default() }
}

fn tasks(service: &str, n: usize) -> Vec<TaskRequest> {
    (0..n)
        .map(|i| TaskRequest { id: format!("{service}-{i}"), service_id: service.into(), runtime: "process".into() })
        .collect()
}

fn per_node(d: &Decisions, node: &str) -> usize {
    d.assigned.iter().filter(|(_, n)| n == node).count()
}

#[test]
fn replicas_spread_evenly() {
    let mut nodes = vec![node("a"), node("b"), node("c")];
    let d = schedule(&mut nodes, &tasks("web", 7));
    assert_eq!((per_node(&d, "a"), per_node(&d, "b"), per_node(&d, "c")), (3, 2, 2));
    assert!(d.unplaced.is_empty());
}

#[test]
fn prefers_nodes_with_fewer_tasks_of_the_service_then_fewer_in_all() {
    let mut nodes = vec![node("a"), node("b")];
    nodes[0].add_task("db");
    nodes[0].add_task("db");
    nodes[1].add_task("web");
    let d = schedule(&mut nodes, &tasks("web", 1));
    assert_eq!(d.assigned, vec![("web-0".to_string(), "a".to_string())]);
    let d = schedule(&mut nodes, &tasks("api", 1));
    assert_eq!(d.assigned[0].1, "b", "fewer tasks in all");
}

#[test]
fn unavailable_nodes_are_skipped_and_explained() {
    let mut nodes = vec![node("a"), node("b"), node("c")];
    nodes[0].ready = false;
    nodes[1].active = false;
    nodes[2].runtimes = vec!["docker".into()];
    let d = schedule(&mut nodes, &tasks("web", 1));
    assert_eq!(
        d.unplaced[0].1,
        "no suitable node (2 nodes not available for new tasks; runtime \"process\" not available on 1 node)"
    );
    let d = schedule(&mut [], &tasks("web", 1));
    assert_eq!(d.unplaced[0].1, "no suitable node (no nodes in the cluster)");
}

#[test]
fn deterministic() {
    let run = || schedule(&mut [node("b"), node("a"), node("c")], &tasks("web", 5));
    assert_eq!(run(), run());
}
