//! What the benches that start real daemons share: timing a leader's
//! failover on a cluster of managers.

use std::time::{Duration, Instant};

use super::common::{Cluster, Node, wait_until};

const WAIT: Duration = Duration::from_secs(60);

/// Whether `node` sees one leader and the two other managers reachable.
pub fn settled(node: &Node) -> bool {
    let out = node.shoal(&["node", "ls", "--format", "{{.ManagerStatus}}"]);
    let text = String::from_utf8_lossy(&out.stdout);
    out.status.success() && text.lines().filter(|l| *l == "Reachable").count() == 2 && text.contains("Leader")
}

/// `trials` times: `kill -9` the raft leader, then `service create`
/// through the two survivors in turn (each attempt a CLI process) until
/// one is acknowledged; the old leader is restarted and the cluster
/// settles before the next trial. The times from kill to acknowledgement
/// (`VERBOSE=1` prints every failed attempt).
pub fn leader_failover(cluster: &mut Cluster, trials: usize, label: &str) -> Vec<Duration> {
    let mut samples = Vec::new();
    for trial in 0..trials {
        let leader = cluster.leader().hostname.clone();
        let old = cluster.managers.iter().position(|m| m.hostname == leader).unwrap();
        cluster.managers[old].kill9();
        let killed = Instant::now();
        for i in 1.. {
            let target = &cluster.managers[(old + 1 + i % 2) % 3];
            let name = format!("{label}-t{trial}-{i}");
            let out =
                target.shoal(&["service", "create", "--detach", "--replicas", "0", "--name", &name, "sleep", "9"]);
            if out.status.success() {
                break;
            }
            if std::env::var_os("VERBOSE").is_some() {
                let err = String::from_utf8_lossy(&out.stderr);
                eprintln!("{:>5} ms via {}: {}", killed.elapsed().as_millis(), target.hostname, err.trim());
            }
            assert!(killed.elapsed() < WAIT, "no write accepted after the leader was killed");
        }
        samples.push(killed.elapsed());
        cluster.managers[old].restart();
        let back = &cluster.managers[old];
        wait_until(WAIT, "the old leader back and every manager reachable", || settled(back));
    }
    samples
}
