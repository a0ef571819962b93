//! Autolock end to end, on three managers: turned on, every manager wraps
//! its data key and TLS key by the unlock key (never written to disk); a
//! manager killed with -9 and restarted serves nothing and says so,
//! refuses a wrong key, and runs again with the right one, while the
//! other two keep serving; a rotated key unlocks a manager restarted
//! after the rotation; turned off, the keys are in their plain form
//! again and a restart needs nothing. No secret's data is in any file of
//! any manager's data dir, nor the unlock key.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Output, Stdio};
use std::time::Duration;

use common::{Cluster, Node, wait_until};

const WAIT: Duration = Duration::from_secs(30);

/// `shoal node unlock` on `node` with `key` on STDIN.
fn unlock(node: &Node, key: &str) -> Output {
    let mut child = node
        .command(&["node", "unlock"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(format!("{key}\n").as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

/// Whether `node`'s data key and TLS key are wrapped by an unlock key.
fn wrapped(node: &Node) -> bool {
    let data_key = std::fs::read(node.data_dir().join("data-key")).unwrap_or_default();
    let tls_key = std::fs::read_to_string(node.data_dir().join("certificates/key.pem")).unwrap_or_default();
    data_key.starts_with(b"SHOALDK2") && tls_key.starts_with("-----BEGIN SHOAL SEALED PRIVATE KEY-----")
}

fn plain(node: &Node) -> bool {
    let data_key = std::fs::read(node.data_dir().join("data-key")).unwrap_or_default();
    let tls_key = std::fs::read_to_string(node.data_dir().join("certificates/key.pem")).unwrap_or_default();
    data_key.starts_with(b"SHOALDK1") && tls_key.starts_with("-----BEGIN PRIVATE KEY-----")
}

/// Every file under `dir` holding `needle`.
fn holding(dir: &Path, needle: &[u8]) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(holding(&path, needle));
        } else if std::fs::read(&path).is_ok_and(|b| b.windows(needle.len()).any(|w| w == needle)) {
            found.push(path.display().to_string());
        }
    }
    found
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_restarted_manager_stays_locked_until_its_key_while_the_others_serve() {
    let mut cluster = Cluster::new(3, 0);
    let m1 = &cluster.managers[0];
    assert!(m1.fails(1, &["cluster", "unlock-key"]).contains("autolock is off"));
    let out = m1.ok(&["cluster", "update", "--autolock=true"]);
    let key = m1.ok(&["cluster", "unlock-key", "-q"]).trim().to_string();
    assert!(key.starts_with("SHOALKEY-1-") && out.contains(&key), "{out}");
    for m in &cluster.managers {
        wait_until(WAIT, "every manager's keys wrapped by the unlock key", || wrapped(m));
    }
    let password = format!("pw-{:032x}", rand::random::<u128>());
    let mut child =
        m1.command(&["secret", "create", "pw", "-"]).stdin(Stdio::piped()).stdout(Stdio::null()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(password.as_bytes()).unwrap();
    assert!(child.wait().unwrap().success());

    // Killed and restarted: locked, saying so; the others serve.
    let m3 = &mut cluster.managers[2];
    m3.kill9();
    m3.restart();
    let err = m3.fails(1, &["node", "ls"]);
    assert!(err.contains("this node is locked: run \"shoal node unlock\""), "{err}");
    let m1 = &cluster.managers[0];
    m1.ok(&["service", "create", "--detach", "--name", "still", "--runtime", "process", "sleep", "1000"]);
    wait_until(WAIT, "the service running while a manager is locked", || m1.replicas("still") == "1/1");

    // A wrong key is refused; junk too; the right one unlocks.
    let m3 = &cluster.managers[2];
    let wrong = unlock(m3, &format!("SHOALKEY-1-{}", "0".repeat(64)));
    assert_eq!(wrong.status.code(), Some(1));
    assert!(stderr(&wrong).contains("this is not the unlock key"), "{}", stderr(&wrong));
    assert!(stderr(&unlock(m3, "hunter2")).contains("not an unlock key"));
    assert!(m3.fails(1, &["node", "ls"]).contains("this node is locked"));
    let right = unlock(m3, &key);
    assert!(right.status.success(), "{}", stderr(&right));
    wait_until(WAIT, "the unlocked manager serving", || {
        let out = m3.shoal(&["node", "ls", "--format", "{{.Status}}"]);
        out.status.success() && String::from_utf8_lossy(&out.stdout).lines().filter(|l| *l == "Ready").count() == 3
    });
    assert!(m3.fails(1, &["node", "unlock"]).contains("this node is not locked"));

    // Rotated while manager-3 is down: a running manager opens with the
    // new key only; manager-3 with the old one, until it wraps again.
    cluster.managers[2].kill9();
    // Both files written again (the data key first, then the TLS key).
    let files = |m: &Node| ["data-key", "certificates/key.pem"].map(|f| std::fs::read(m.data_dir().join(f)).unwrap());
    let before = files(&cluster.managers[1]);
    let rotated = cluster.managers[0].ok(&["cluster", "unlock-key", "--rotate", "-q"]).trim().to_string();
    assert!(rotated != key && rotated.starts_with("SHOALKEY-1-"));
    let m2 = &mut cluster.managers[1];
    wait_until(WAIT, "the key wrapped again", || {
        let now = files(m2);
        now[0] != before[0] && now[1] != before[1]
    });
    m2.restart();
    assert!(stderr(&unlock(m2, &key)).contains("this is not the unlock key"));
    assert!(unlock(m2, &rotated).status.success());
    let m3 = &mut cluster.managers[2];
    let before = files(m3);
    m3.restart();
    assert!(stderr(&unlock(m3, &rotated)).contains("this is not the unlock key"), "it was down: the old key");
    assert!(unlock(m3, &key).status.success());
    wait_until(WAIT, "the late manager wrapped by the new key", || {
        let now = files(m3);
        now[0] != before[0] && now[1] != before[1]
    });
    m3.restart();
    assert!(unlock(m3, &rotated).status.success());

    // Neither a secret's data nor the unlock key is on any manager's disk.
    for m in &cluster.managers {
        assert_eq!(holding(&m.data_dir(), password.as_bytes()), Vec::<String>::new());
        assert_eq!(holding(&m.data_dir(), rotated.as_bytes()), Vec::<String>::new());
    }

    // Off: the keys are plain again, and a restart needs nothing.
    cluster.managers[0].ok(&["cluster", "update", "--autolock=false"]);
    for m in &cluster.managers {
        wait_until(WAIT, "every manager's keys in their plain form", || plain(m));
    }
    let m2 = &mut cluster.managers[1];
    m2.restart();
    wait_until(WAIT, "the restarted manager serving", || m2.shoal(&["node", "ls"]).status.success());
}

#[test]
fn init_with_autolock_prints_the_key_and_a_lone_manager_locks() {
    let mut node = Node::start("lone");
    let out = node.ok(&["node", "init", "--autolock"]);
    let key = node.ok(&["cluster", "unlock-key", "-q"]).trim().to_string();
    assert!(out.contains(&format!("    {key}\n")) && out.contains("shoal node unlock"), "{out}");
    assert!(wrapped(&node));
    node.restart();
    assert!(node.fails(1, &["service", "ls"]).contains("this node is locked"));
    assert!(unlock(&node, &key).status.success());
    wait_until(WAIT, "the node serving", || node.shoal(&["service", "ls"]).status.success());
}
