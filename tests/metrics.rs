//! `shoal daemon --metrics-addr`: a node scraped over HTTP gives the
//! Prometheus (OpenMetrics) text of its manager, worker and mesh, and the
//! series move as the cluster does: a service created moves the applied
//! index, the proposals, the scheduler's decisions, the tasks by service
//! and state and the worker's start times.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{Node, free_addr, http_get, wait_until};

const WAIT: Duration = Duration::from_secs(30);

/// GET http://addr/metrics: its content type and each series' value.
fn scrape(addr: &str) -> (String, BTreeMap<String, f64>) {
    let (head, body) = http_get(addr, "/metrics", addr);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let content_type = head
        .lines()
        .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-type: ").map(String::from))
        .unwrap_or_default();
    assert!(body.trim_end().ends_with("# EOF"), "an OpenMetrics text: {body}");
    let series = body
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| l.rsplit_once(' ').and_then(|(name, v)| Some((name.to_string(), v.parse().ok()?))))
        .collect();
    (content_type, series)
}

fn value(series: &BTreeMap<String, f64>, name: &str) -> f64 {
    *series.get(name).unwrap_or_else(|| panic!("{name} missing among {:#?}", series.keys()))
}

#[test]
fn a_scrape_gives_every_part_and_the_series_move_with_the_cluster() {
    let mut node = Node::init("metrics-1");
    let addr = free_addr();
    node.restart_with(&[("SHOAL_METRICS_ADDR", &addr)]);
    wait_until(WAIT, "the manager leading and the worker's session open", || {
        let (_, s) = scrape(&addr);
        s.get("shoal_raft_leader") == Some(&1.0) && s.get("shoal_dispatcher_sessions") == Some(&1.0)
    });
    let (content_type, before) = scrape(&addr);
    assert!(content_type.starts_with("application/openmetrics-text"), "{content_type}");
    assert!(value(&before, "shoal_raft_term") >= 1.0);
    assert_eq!(value(&before, "shoal_store_objects{kind=\"node\"}"), 1.0);
    assert_eq!(value(&before, "shoal_store_objects{kind=\"service\"}"), 0.0);

    node.ok(&["service", "create", "--detach", "--name", "web", "--replicas", "2", "sleep", "1000"]);
    wait_until(WAIT, "web running", || node.replicas("web") == "2/2");
    wait_until(WAIT, "the scrape seeing web's two tasks running", || {
        let (_, s) = scrape(&addr);
        s.get("shoal_tasks{service=\"web\",state=\"running\"}") == Some(&2.0)
            && s.get("shoal_worker_tasks{state=\"running\"}") == Some(&2.0)
    });
    let (_, after) = scrape(&addr);
    assert_eq!(value(&after, "shoal_store_objects{kind=\"service\"}"), 1.0);
    for moved in
        ["shoal_raft_applied_index", "shoal_raft_proposal_duration_seconds_count", "shoal_raft_entry_ops_count"]
    {
        assert!(value(&after, moved) > value(&before, moved), "{moved} moved");
    }
    assert!(
        value(&after, "shoal_scheduler_decisions_total") >= value(&before, "shoal_scheduler_decisions_total") + 2.0
    );
    assert!(value(&after, "shoal_scheduler_pass_duration_seconds_count") >= 1.0);
    assert!(value(&after, "shoal_worker_task_start_duration_seconds_count") >= 2.0);
    assert!(value(&after, "shoal_dispatcher_assignment_fanout_duration_seconds_count") >= 1.0);
    assert_eq!(value(&after, "shoal_scheduler_pending_tasks{reason=\"no_suitable_node\"}"), 0.0);
    assert_eq!(value(&after, "shoal_orchestrator_restarts_total"), 0.0);
    assert_eq!(value(&after, "shoal_raft_apply_lag_entries"), 0.0);

    // A task no node may run waits, counted by its reason; a task that
    // keeps failing is restarted, counted once each time.
    let stuck = ["--constraint", "node.labels.zone==nowhere"];
    node.ok(&[&["service", "create", "--detach", "--name", "stuck"][..], &stuck, &["sleep", "1000"]].concat());
    let failing = ["--restart-delay", "0s", "--restart-max-attempts", "2"];
    node.ok(&[&["service", "create", "--detach", "--name", "bad"][..], &failing, &["sh", "-c", "exit 3"]].concat());
    wait_until(WAIT, "the stuck task counted as pending, bad's restarts counted", || {
        let (_, s) = scrape(&addr);
        s.get("shoal_scheduler_pending_tasks{reason=\"no_suitable_node\"}") == Some(&1.0)
            && s.get("shoal_orchestrator_restarts_total") == Some(&2.0)
    });

    // A bad address is a usage error, named.
    let out = std::process::Command::new(common::SHOAL).args(["daemon", "--metrics-addr", "nowhere"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--metrics-addr"));
}
