//! `service logs`: each task's output, tail, follow.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{Node, wait_until};

#[test]
fn logs_show_each_tasks_output_and_follow_streams() {
    let node = Node::init("node-a");
    let script = "echo start-$SLOT; sleep 0.3; echo oops >&2; while true; do sleep 0.2; if [ -e $DIR/go ]; then echo after-$SLOT; rm -f $DIR/go; fi; done";
    let dir = node.data_dir().display().to_string();
    node.ok(&[
        "service",
        "create",
        "--name",
        "talk",
        "--replicas",
        "2",
        "--env",
        &format!("DIR={dir}"),
        "sh",
        "-c",
        script,
    ]);
    wait_until(Duration::from_secs(20), "both tasks' output", || {
        let out = node.shoal(&["service", "logs", "talk"]);
        String::from_utf8_lossy(&out.stdout).matches("start-").count() == 2
            && String::from_utf8_lossy(&out.stderr).matches("oops").count() == 2
    });
    let out = node.shoal(&["service", "logs", "talk"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let ids: Vec<String> = node.ok(&["service", "ps", "-q", "talk"]).lines().map(str::to_string).collect();
    for line in stdout.lines() {
        let (prefix, text) = line.split_once("    | ").expect("a `    | ` separator");
        assert!(prefix.starts_with("talk.1.") || prefix.starts_with("talk.2."), "{line}");
        assert!(prefix.ends_with("@node-a"), "{line}");
        assert!(ids.iter().any(|id| prefix.contains(id.as_str())), "{line}");
        assert!(text.starts_with("start-"), "{line}");
    }
    assert_eq!(stderr.matches("| oops").count(), 2, "stderr goes to stderr: {stderr}");

    // --tail 1 per task: the last line, which is stderr's.
    let tail = node.shoal(&["service", "logs", "--tail", "1", "talk"]);
    assert!(tail.stdout.is_empty());
    assert_eq!(String::from_utf8_lossy(&tail.stderr).lines().count(), 2);
    // -t adds timestamps.
    let stamped = node.ok(&["service", "logs", "-t", "talk"]);
    assert!(stamped.lines().all(|l| l.starts_with("20") && l.contains('T')), "{stamped}");

    // --since: only what came after.
    assert!(node.ok(&["service", "logs", "--since", "2100-01-01T00:00:00Z", "talk"]).is_empty());
    assert_eq!(node.ok(&["service", "logs", "--since", "10m", "talk"]).matches("start-").count(), 2);
    assert!(node.fails(2, &["service", "logs", "--since", "yesterday", "talk"]).contains("--since"));

    // --follow: a new line appears while following.
    let mut follow = Command::new(common::SHOAL)
        .args([
            "--host",
            &format!("unix://{}", node.socket().display()),
            "service",
            "logs",
            "-f",
            "--tail",
            "0",
            "talk",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(follow.stdout.take().unwrap()).lines();
    std::thread::sleep(Duration::from_millis(500));
    std::fs::write(node.data_dir().join("go"), "").unwrap();
    let line = lines.next().expect("a followed line").unwrap();
    assert!(line.contains("| after-"), "{line}");
    let _ = follow.kill();
    let _ = follow.wait();

    // A task reference shows only that task.
    let one = node.ok(&["service", "logs", &ids[0]]);
    assert!(one.lines().count() >= 1 && one.lines().all(|l| l.contains(&ids[0])), "{one}");
    assert!(node.fails(1, &["service", "logs", "nope"]).contains("no such service or task: nope"));
}

/// Peak resident memory of a process, in bytes.
fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() * 1024
}

#[test]
fn logs_rotate_at_their_limit_and_a_huge_log_is_tailed_from_its_end() {
    let node = Node::init("node-a");
    // A task that writes 2,000 lines: a log of 2 files of 4 KiB at most.
    let script = "i=0; while [ $i -lt 2000 ]; do echo line-$i-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx; i=$((i+1)); done; sleep 1000";
    node.ok(&[
        "service",
        "create",
        "--name",
        "chatty",
        "--log-opt",
        "max-size=4k",
        "--log-opt",
        "max-file=2",
        "sh",
        "-c",
        script,
    ]);
    let id = node.ok(&["service", "ps", "-q", "--no-trunc", "chatty"]).trim().to_string();
    let dir = node.data_dir().join("worker/tasks").join(&id);
    wait_until(Duration::from_secs(30), "the last line logged", || {
        node.ok(&["service", "logs", "--tail", "1", "chatty"]).contains("line-1999-")
    });
    let logs: Vec<u64> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("log"))
        .map(|e| e.metadata().unwrap().len())
        .collect();
    assert_eq!(logs.len(), 2, "log and log.1 kept: {logs:?}");
    assert!(logs.iter().all(|len| *len <= 4096), "{logs:?}");
    let kept = node.ok(&["service", "logs", "chatty"]);
    assert!(kept.lines().count() < 200, "only what the files hold");
    assert!(kept.lines().last().unwrap().contains("line-1999-"), "in order, to the end: {kept}");
    let inspect = node.ok(&["service", "inspect", "--format", "{{json .Spec.TaskTemplate.LogDriver}}", "chatty"]);
    assert!(inspect.contains(r#""max-size":"4k""#) && inspect.contains(r#""max-file":"2""#), "{inspect}");
    let err = node.fails(1, &["service", "update", "--log-opt", "max-file=0", "chatty"]);
    assert!(err.contains("--log-opt max-file: expected a number from 1 to 100"), "{err}");
    let err = node.fails(1, &["service", "create", "--log-driver", "gelf", "sleep", "9"]);
    assert!(err.contains("--log-driver: only json-file is supported"), "{err}");

    // 300 MB of output in one file (no limit): `--tail 1` reads its end.
    node.ok(&["service", "create", "--name", "huge", "--log-opt", "max-size=-1", "sleep", "1000"]);
    let id = node.ok(&["service", "ps", "-q", "--no-trunc", "huge"]).trim().to_string();
    let log = node.data_dir().join("worker/tasks").join(&id).join("log");
    wait_until(Duration::from_secs(30), "the task running", || log.parent().unwrap().join("pid").exists());
    {
        use std::io::Write;
        let mut out =
            std::io::BufWriter::new(std::fs::OpenOptions::new().create(true).append(true).open(&log).unwrap());
        let filler = "x".repeat(1000);
        let now = shoal_proto::now_nanos();
        for i in 0..300_000 {
            writeln!(out, "{} o {i} {filler}", now + i).unwrap();
        }
        writeln!(out, "{} o the last line", now + 300_000).unwrap();
    }
    let daemon = node.pid();
    let before = peak_rss(daemon);
    let tail = node.ok(&["service", "logs", "--tail", "1", "huge"]);
    assert!(tail.trim_end().ends_with("| the last line"), "{tail}");
    let grown = peak_rss(daemon).saturating_sub(before);
    assert!(grown < 64 << 20, "the daemon's peak memory grew by {} MB for --tail 1", grown >> 20);
}

#[test]
fn logs_keep_coming_from_the_nodes_that_answer() {
    let mut cluster = common::Cluster::new(1, 1);
    let manager = &cluster.managers[0];
    let script = "i=0; while true; do echo tick-$i; i=$((i+1)); sleep 0.2; done";
    manager.ok(&["service", "create", "--name", "ticks", "--mode", "global", "sh", "-c", script]);
    wait_until(Duration::from_secs(30), "output from both nodes", || {
        let out = manager.ok(&["service", "logs", "ticks"]);
        out.contains("@manager-1") && out.contains("@worker-1")
    });
    let mut follow = Command::new(common::SHOAL)
        .args([
            "--host",
            &format!("unix://{}", manager.socket().display()),
            "service",
            "logs",
            "-f",
            "--tail",
            "0",
            "ticks",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(follow.stdout.take().unwrap());
    let stderr = BufReader::new(follow.stderr.take().unwrap());
    let (tx, rx) = std::sync::mpsc::channel::<(bool, String)>();
    let err_tx = tx.clone();
    std::thread::spawn(move || stdout.lines().map_while(Result::ok).for_each(|l| drop(tx.send((false, l)))));
    std::thread::spawn(move || stderr.lines().map_while(Result::ok).for_each(|l| drop(err_tx.send((true, l)))));
    let wait_for = |what: &str, f: &dyn Fn(bool, &str) -> bool| {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let (warning, line) = rx.recv_timeout(left).unwrap_or_else(|_| panic!("timed out waiting for {what}"));
            if f(warning, &line) {
                return line;
            }
        }
    };
    wait_for("a line from the worker", &|w, l| !w && l.contains("@worker-1"));

    // The worker's daemon dies: a warning, and the manager's lines go on.
    cluster.workers[0].kill9();
    let warning = wait_for("a warning naming the worker", &|w, l| w && l.contains("worker-1"));
    assert!(warning.contains("cannot read the logs of node worker-1"), "{warning}");
    wait_for("the manager's lines after the warning", &|w, l| !w && l.contains("@manager-1"));
    // A read without --follow says the same and shows what it can.
    let out = manager.shoal(&["service", "logs", "ticks"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("@manager-1"));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Warning: cannot read the logs of node worker-1"));

    // Back: read again, from where it stopped (its task ran on meanwhile).
    cluster.workers[0].restart();
    wait_for("news that the worker is read again", &|w, l| w && l.contains("reading the logs of node worker-1"));
    wait_for("the worker's lines again", &|w, l| !w && l.contains("@worker-1"));
    let _ = follow.kill();
    let _ = follow.wait();
}
