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
