//! Jobs on a real cluster: a replicated job runs its completions at most
//! `--max-concurrent` at a time and is never restarted once complete; a
//! global job runs once on every node; a job that keeps failing makes
//! `service create` fail once its restart policy gives up.

mod common;

use common::Cluster;

#[test]
fn jobs_run_to_completion_and_stay_done() {
    let cluster = Cluster::new(1, 1);
    let manager = &cluster.managers[0];
    let err = manager.fails(1, &["service", "create", "--max-concurrent", "2", "sh", "-c", "true"]);
    assert!(err.contains("--max-concurrent: can only be used with replicated-job mode"), "{err}");

    // Waits for the job to complete, as `docker service create` does.
    manager.ok(&[
        "service",
        "create",
        "--name",
        "batch",
        "--mode",
        "replicated-job",
        "--replicas",
        "4",
        "--max-concurrent",
        "2",
        "sh",
        "-c",
        "sleep 0.2",
    ]);
    let states = manager.ok(&["service", "ps", "--format", "{{.Name}} {{.CurrentState}}", "batch"]);
    let mut names: Vec<&str> = states.lines().map(|l| l.split(' ').next().unwrap()).collect();
    names.sort();
    assert_eq!(
        names,
        ["batch.1", "batch.2", "batch.3", "batch.4"],
        "one task per completion, none restarted: {states}"
    );
    assert!(states.lines().all(|l| l.contains(" Complete ")), "{states}");
    let ls = manager.json_lines(&["service", "ls", "--format", "json"]);
    assert_eq!(
        (ls[0]["Mode"].as_str(), ls[0]["Replicas"].as_str()),
        (Some("replicated job"), Some("0/0 (4/4 completed)"))
    );
    let mode = manager.ok(&["service", "inspect", "--format", "{{json .Spec.Mode}}", "batch"]);
    assert_eq!(mode.trim(), r#"{"ReplicatedJob":{"MaxConcurrent":2,"TotalCompletions":4}}"#);

    manager.ok(&["service", "create", "--name", "once", "--mode", "global-job", "sh", "-c", "true"]);
    let nodes = manager.ok(&["service", "ps", "--format", "{{.Node}} {{.CurrentState}}", "once"]);
    let mut on: Vec<&str> =
        nodes.lines().filter(|l| l.contains(" Complete ")).map(|l| l.split(' ').next().unwrap()).collect();
    on.sort();
    assert_eq!(on, ["manager-1", "worker-1"], "{nodes}");

    let err = manager.fails(
        1,
        &[
            "service",
            "create",
            "--name",
            "broken",
            "--mode",
            "replicated-job",
            "--restart-max-attempts",
            "1",
            "--restart-delay",
            "0s",
            "sh",
            "-c",
            "exit 3",
        ],
    );
    assert!(err.contains("stopped for good"), "{err}");
    let failed = manager.ok(&["service", "ps", "--format", "{{.CurrentState}}", "broken"]);
    assert_eq!(failed.lines().filter(|l| l.starts_with("Failed")).count(), 2, "tried, retried once, gave up: {failed}");
}
