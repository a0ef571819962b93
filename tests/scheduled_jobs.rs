//! Scheduled jobs (`--schedule`): a job runs each time it is due, each
//! run's tasks kept in `service ps`; a run due while the last one still
//! goes is skipped, started beside it or started instead of it, as
//! `--schedule-overlap` (or compose's `x-shoal-schedule`) says; and runs
//! missed while no manager led are caught up by one run, not a burst.

mod common;

use std::time::{Duration, Instant};

use common::{Node, wait_until};

const WAIT: Duration = Duration::from_secs(30);

/// The run a scheduled job is on (0: none yet).
fn runs(node: &Node, service: &str) -> u64 {
    let out = node.ok(&["service", "inspect", "--format", "{{json .}}", service]);
    let service: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    service["JobStatus"]["JobIteration"]["Index"].as_u64().unwrap_or(0)
}

/// The states of `service`'s tasks, as `service ps` prints them.
fn states(node: &Node, service: &str) -> Vec<String> {
    let out = node.ok(&["service", "ps", "--format", "{{.CurrentState}}", service]);
    out.lines().map(|l| l.split(' ').next().unwrap_or_default().to_string()).collect()
}

fn count(states: &[String], state: &str) -> usize {
    states.iter().filter(|s| *s == state).count()
}

#[test]
fn a_job_every_two_seconds_runs_three_times_in_about_six() {
    let node = Node::init("cron-1");
    let err = node.fails(2, &["service", "create", "--mode", "replicated-job", "--schedule", "@every 1ms", "true"]);
    assert!(err.contains("--schedule") && err.contains("at least 1s"), "{err}");
    let err = node.fails(1, &["service", "create", "--schedule", "@every 2s", "true"]);
    assert!(err.contains("--schedule: only a job"), "{err}");
    let err = node.fails(2, &["service", "create", "--schedule-timezone", "Nowhere/Town", "true"]);
    assert!(err.contains("--schedule-timezone") && err.contains("unknown time zone"), "{err}");

    let start = Instant::now();
    // Returns at once: the job runs when due, not now.
    node.ok(&[
        "service",
        "create",
        "--name",
        "tock",
        "--mode",
        "replicated-job",
        "--schedule",
        "@every 2s",
        "--schedule-overlap",
        "forbid",
        "sh",
        "-c",
        "true",
    ]);
    assert_eq!(runs(&node, "tock"), 0, "no run before the first due time");
    assert!(states(&node, "tock").is_empty());
    wait_until(WAIT, "three runs of tock complete", || count(&states(&node, "tock"), "Complete") == 3);
    let took = start.elapsed();
    // Three runs due at 2, 4 and 6 s: never sooner (the look-ups add a little).
    assert!(took >= Duration::from_millis(5500), "three runs took {took:?}");
    assert!(runs(&node, "tock") >= 3);
    let pretty = node.ok(&["service", "inspect", "--pretty", "tock"]);
    assert!(pretty.contains("Schedule:\t@every 2s (UTC, overlap forbid)"), "{pretty}");
    let schedule = node.ok(&["service", "inspect", "--format", "{{json .Spec.Schedule}}", "tock"]);
    assert_eq!(schedule.trim(), r#"{"Cron":"@every 2s","TimeZone":"UTC","Overlap":"forbid"}"#);
    // Each run is listed; the service stands at its last run's completions.
    let ls = node.json_lines(&["service", "ls", "--format", "json", "--filter", "name=tock"]);
    assert_eq!(ls[0]["Replicas"], "0/0 (1/1 completed)", "{ls:?}");

    // Unscheduled: it runs once more, now, and no longer on the schedule.
    node.ok(&["service", "update", "--schedule", "", "tock"]);
    let after = runs(&node, "tock");
    wait_until(WAIT, "the unscheduled job's one run complete", || {
        node.json_lines(&["service", "ls", "--format", "json", "--filter", "name=tock"])[0]["Replicas"]
            == "0/0 (1/1 completed)"
    });
    assert_eq!(runs(&node, "tock"), after, "no run on the schedule any more");
}

#[test]
fn overlapping_runs_are_skipped_kept_or_replaced() {
    let node = Node::init("cron-2");
    // One from a compose file, with shoal's extension.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("stack.yml");
    let compose = "services:\n  both:\n    image: sleep\n    command: \"1000\"\n    deploy: { mode: replicated-job }\n    \
                   x-shoal-schedule: { cron: '@every 1s', overlap: allow }\n";
    std::fs::write(&file, compose).unwrap();
    node.ok(&["stack", "deploy", "-c", file.to_str().unwrap(), "jobs"]);
    for (name, overlap) in [("skip", "forbid"), ("instead", "replace")] {
        node.ok(&[
            "service",
            "create",
            "--name",
            name,
            "--mode",
            "replicated-job",
            "--schedule",
            "@every 1s",
            "--schedule-overlap",
            overlap,
            "sleep",
            "1000",
        ]);
    }
    wait_until(WAIT, "allow: two runs going at once", || count(&states(&node, "jobs_both"), "Running") >= 2);
    wait_until(WAIT, "replace: a later run going, the earlier one stopped", || {
        let states = states(&node, "instead");
        runs(&node, "instead") >= 2 && count(&states, "Running") == 1 && count(&states, "Shutdown") >= 1
    });
    wait_until(WAIT, "forbid: runs due meanwhile skipped", || {
        node.ok(&["service", "inspect", "--pretty", "skip"]).contains("Skipped:")
    });
    let skip = states(&node, "skip");
    assert_eq!((runs(&node, "skip"), count(&skip, "Running")), (1, 1), "one run, still going: {skip:?}");
}

#[test]
fn runs_missed_while_no_manager_led_are_caught_up_by_one() {
    let mut node = Node::init("cron-3");
    node.ok(&[
        "service",
        "create",
        "--name",
        "beat",
        "--mode",
        "replicated-job",
        "--schedule",
        "@every 2s",
        "sh",
        "-c",
        "true",
    ]);
    wait_until(WAIT, "beat's first run", || runs(&node, "beat") >= 1);
    let before = runs(&node, "beat");
    node.kill9();
    // Down for at least four due times.
    let down = Instant::now();
    wait_until(WAIT, "four due times passing", || down.elapsed() >= Duration::from_secs(8));
    node.restart();
    wait_until(WAIT, "the catch-up run", || {
        node.shoal(&["service", "ls"]).status.success() && runs(&node, "beat") > before
    });
    assert_eq!(runs(&node, "beat"), before + 1, "one run for the four missed");
    wait_until(WAIT, "the next run on the schedule", || runs(&node, "beat") >= before + 2);
    assert_eq!(runs(&node, "beat"), before + 2, "then one run per due time");
}
