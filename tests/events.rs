//! `shoal events` on a cluster of three managers: a live stream sees a
//! service made, scaled and removed as they happen; afterwards every
//! manager gives the same history (`--since`/`--until`), in Docker's
//! shape: the scale says `replicas.old`/`replicas.new`, a drain
//! `availability.old`/`availability.new`, tasks their states; and the
//! history stays the same on the managers left after the leader is
//! killed. Bad filters are named.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{Cluster, wait_until};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(30);

/// Unix seconds now, as `--since`/`--until` take them.
fn now() -> String {
    let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
    format!("{}.{:09}", d.as_secs(), d.subsec_nanos())
}

/// A running `shoal events`, killed when dropped.
struct Stream {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Stream {
    /// The next line that satisfies `want`, within [`WAIT`].
    fn until(&self, what: &str, want: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self.lines.recv_timeout(left).unwrap_or_else(|_| panic!("no event {what} within {WAIT:?}"));
            let event: Value = serde_json::from_str(&line).expect("a JSON event");
            if want(&event) {
                return event;
            }
        }
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn attr<'a>(event: &'a Value, key: &str) -> &'a str {
    event["Actor"]["Attributes"][key].as_str().unwrap_or_default()
}

/// (action, name, and what changed) of each event.
fn summary(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| {
            let changed: Vec<String> = ["replicas", "availability", "state"]
                .iter()
                .filter(|k| !attr(e, &format!("{k}.new")).is_empty())
                .map(|k| format!("{k}={}->{}", attr(e, &format!("{k}.old")), attr(e, &format!("{k}.new"))))
                .collect();
            format!(
                "{} {} {} {}",
                e["Type"].as_str().unwrap(),
                e["Action"].as_str().unwrap(),
                attr(e, "name"),
                changed.join(",")
            )
        })
        .collect()
}

#[test]
fn events_are_streamed_kept_alike_on_every_manager_and_filtered() {
    let mut cluster = Cluster::new(3, 0);
    let first = &cluster.managers[0];
    let since = now();
    let mut child = cluster.managers[1]
        // From `since`: what happens before the stream is set up is not lost.
        .command(&["events", "--since", &since, "--filter", "type=service", "--format", "json"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("shoal events");
    let stdout = child.stdout.take().unwrap();
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let live = Stream { child, lines };

    first.ok(&["service", "create", "--detach", "--name", "web", "sleep", "1000"]);
    let created = live.until("service create web", |e| e["Action"] == "create" && attr(e, "name") == "web");
    assert_eq!((&created["Type"], &created["scope"]), (&"service".into(), &"swarm".into()));
    assert!(created["timeNano"].as_i64().unwrap() / 1_000_000_000 == created["time"].as_i64().unwrap());
    wait_until(WAIT, "web running", || first.replicas("web") == "1/1");
    first.ok(&["service", "scale", "--detach", "web=3"]);
    let scaled = live.until("of the scale", |e| attr(e, "replicas.new") == "3");
    assert_eq!((attr(&scaled, "replicas.old"), attr(&scaled, "name")), ("1", "web"));
    first.ok(&["node", "update", "--availability", "drain", "manager-3"]);
    wait_until(WAIT, "web's three tasks running", || first.replicas("web") == "3/3");
    first.ok(&["service", "rm", "web"]);
    live.until("service remove web", |e| e["Action"] == "remove" && attr(e, "name") == "web");
    drop(live);

    // The same history on every manager.
    let until = now();
    let history = |node: &common::Node, filters: &[&str]| {
        let mut args = vec!["events", "--since", &since, "--until", &until, "--format", "json"];
        args.extend_from_slice(filters);
        node.json_lines(&args)
    };
    let services = summary(&history(first, &["--filter", "type=service"]));
    assert_eq!(services.first().map(String::as_str), Some("service create web "), "{services:#?}");
    assert!(services.contains(&"service update web replicas=1->3".to_string()), "{services:#?}");
    assert_eq!(services.last().map(String::as_str), Some("service remove web "), "{services:#?}");
    let drained = summary(&history(first, &["--filter", "type=node", "--filter", "event=update"]));
    assert!(drained.contains(&"node update manager-3 availability=active->drain".to_string()), "{drained:#?}");
    let tasks = summary(&history(first, &["--filter", "service=web", "--filter", "type=task"]));
    assert!(tasks.iter().any(|t| t.starts_with("task update web.") && t.ends_with("->running")), "{tasks:#?}");
    let everything = history(first, &[]);
    for other in &cluster.managers[1..] {
        assert_eq!(history(other, &[]), everything, "{} says otherwise", other.hostname);
    }
    // The default form, as docker prints it.
    let plain = first.ok(&[
        "events",
        "--since",
        &since,
        "--until",
        &until,
        "--filter",
        "event=create",
        "--filter",
        "type=service",
    ]);
    let line = plain.lines().next().unwrap_or_default();
    assert!(line.contains("Z service create ") && line.ends_with(" (name=web)"), "{plain}");

    // The leader killed: the others keep the same history.
    let leader = cluster.leader().hostname.clone();
    let at = cluster.managers.iter().position(|m| m.hostname == leader).unwrap();
    cluster.managers[at].kill9();
    let left: Vec<&common::Node> =
        cluster.managers.iter().enumerate().filter(|(i, _)| *i != at).map(|(_, m)| m).collect();
    wait_until(WAIT, "a new leader", || left[0].shoal(&["node", "ls"]).status.success());
    for node in &left {
        assert_eq!(history(node, &[]), everything, "{} after the leader went", node.hostname);
    }

    // Filters are checked.
    let first = left[0];
    let err = first.fails(1, &["events", "--filter", "type=container", "--until", &until]);
    assert!(err.contains("invalid type filter \"container\"") && err.contains("type=task"), "{err}");
    let err = first.fails(1, &["events", "--filter", "colour=red", "--until", &until]);
    assert!(err.contains("invalid filter \"colour\""), "{err}");
    let err = first.fails(2, &["events", "--since", "yesterday-ish"]);
    assert!(err.contains("--since"), "{err}");
}
