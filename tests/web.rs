//! `shoal daemon --web-addr`: the live web view, loaded in headless
//! Chromium against a real cluster. The page shows the nodes as columns
//! with their tasks as cards, the services, the pending tasks and the
//! events, and follows a scale and a drain without being reloaded. Off
//! loopback it is HTTPS for admin certificates only.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::browser::Browser;
use common::{Node, free_addr, http_get, wait_until};

const WAIT: Duration = Duration::from_secs(30);

/// The page's running cards of `service` in the column of `node`.
fn running_cards(page: &mut Browser, node: &str, service: &str) -> u64 {
    let expression = format!(
        r#"document.querySelectorAll('[data-node="{node}"] .card[data-state="running"][data-desired="running"][data-task^="{service}."]').length"#
    );
    page.eval(&expression).as_u64().unwrap_or(0)
}

fn text(page: &mut Browser, selector: &str) -> String {
    let expression = format!("document.querySelector('{selector}')?.textContent ?? ''");
    page.eval(&expression).as_str().unwrap_or_default().to_string()
}

#[test]
fn the_page_follows_the_cluster_live_in_a_real_browser() {
    let mut manager = Node::init("web-manager");
    let addr = free_addr();
    manager.restart_with(&[("SHOAL_WEB_ADDR", &addr)]);
    wait_until(WAIT, "the manager answering again", || manager.shoal(&["node", "ls"]).status.success());
    let worker = Node::join("web-worker", "127.0.0.1", &manager, "worker");
    manager.ok(&["service", "create", "--detach", "--name", "web", "--replicas", "2", "sleep", "1000"]);
    wait_until(WAIT, "web running", || manager.replicas("web") == "2/2");

    // Only loopback names: a page elsewhere cannot rebind its name to it.
    let (head, _) = http_get(&addr, "/api/state", "evil.example");
    assert!(head.starts_with("HTTP/1.1 421"), "{head}");
    let (head, page) = http_get(&addr, "/", &addr);
    assert!(head.starts_with("HTTP/1.1 200") && page.contains("/app.js"), "{head}\n{page}");
    assert!(head.to_ascii_lowercase().contains("content-security-policy: default-src 'self'"), "{head}");

    let mut page = Browser::open(&format!("http://{addr}/"));
    wait_until(WAIT, "the page showing web 2/2 on two nodes", || {
        text(&mut page, r#"[data-service="web"] .replicas"#) == "2/2"
            && running_cards(&mut page, "web-manager", "web") + running_cards(&mut page, "web-worker", "web") == 2
    });
    assert_eq!(text(&mut page, "#served-by"), "served by web-manager");
    let columns = page.eval("[...document.querySelectorAll('.node')].map(n => n.dataset.node).sort().join(',')");
    assert_eq!(columns, "web-manager,web-worker");
    assert!(
        text(&mut page, r#"[data-node="web-manager"] .meta"#).contains("leader"),
        "the manager's column says it leads"
    );
    // Marks this page: a reload would forget it.
    page.eval("window.unchanged = 42");
    wait_until(WAIT, "the live feed open", || text(&mut page, "#live") == "live");

    manager.ok(&["service", "scale", "web=4"]);
    wait_until(WAIT, "the page showing web 4/4", || {
        text(&mut page, r#"[data-service="web"] .replicas"#) == "4/4"
            && running_cards(&mut page, "web-manager", "web") + running_cards(&mut page, "web-worker", "web") == 4
    });

    manager.ok(&["node", "update", "--availability", "drain", "web-worker"]);
    wait_until(WAIT, "the page showing the worker drained and web's four tasks on the manager", || {
        let drained = page.eval(r#"document.querySelector('[data-node="web-worker"]')?.dataset.availability"#);
        drained == "Drain"
            && running_cards(&mut page, "web-worker", "web") == 0
            && running_cards(&mut page, "web-manager", "web") == 4
    });

    // A task no node may run waits in the pending list, with the reason.
    let no_node = ["--constraint", "node.labels.zone==nowhere"];
    manager.ok(&[&["service", "create", "--detach", "--name", "stuck"][..], &no_node, &["sleep", "1000"]].concat());
    wait_until(WAIT, "the page listing stuck.1 as pending with its reason", || {
        text(&mut page, r#"#pending [data-task="stuck.1"]"#).contains("no suitable node")
            && text(&mut page, "#pending-count") == "1"
    });
    let events = text(&mut page, "#events");
    for seen in ["service update web", "node update web-worker", "service create stuck"] {
        assert!(events.contains(seen), "{seen} among the events: {events}");
    }
    assert_eq!(page.eval("window.unchanged"), 42, "the page followed the cluster without a reload");

    // Kept with the test's other output; docs/web-view.png is one of them.
    let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("web-view.png");
    page.screenshot(&shot);
    let png = std::fs::read(&shot).unwrap();
    assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000, "a screenshot at {}", shot.display());
    eprintln!("screenshot: {}", shot.display());
    drop(worker);
}

/// `curl` of the view's state over HTTPS with the bundle in `certs`
/// (none: no client certificate): the body, or curl's complaint.
fn curl(port: u16, certs: Option<&Path>) -> Result<String, String> {
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "--fail", "--max-time", "10", "--resolve"]).arg(format!("shoal-manager:{port}:127.0.0.1"));
    if let Some(certs) = certs {
        cmd.arg("--cacert").arg(certs.join("ca.pem"));
        cmd.arg("--cert").arg(certs.join("cert.pem")).arg("--key").arg(certs.join("key.pem"));
    } else {
        cmd.arg("--insecure");
    }
    let out = cmd.arg(format!("https://shoal-manager:{port}/api/state")).output().expect("curl");
    let said = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    if out.status.success() { Ok(said(&out.stdout)) } else { Err(said(&out.stderr)) }
}

#[test]
fn off_loopback_the_view_is_https_for_admin_certificates_only() {
    let mut manager = Node::init("web-tls");
    let port = free_addr().rsplit_once(':').unwrap().1.parse::<u16>().unwrap();
    // Every address, loopback among them: not a loopback address.
    manager.restart_with(&[("SHOAL_WEB_ADDR", &format!("0.0.0.0:{port}"))]);
    wait_until(WAIT, "the manager answering again", || manager.shoal(&["node", "ls"]).status.success());

    let admin = manager.certs().join("admin");
    let state = curl(port, Some(&admin)).expect("an admin certificate is let in");
    assert!(state.contains(r#""hostname":"web-tls""#), "{state}");
    // The node's own certificate is the cluster's, but not an admin's.
    let refused = curl(port, Some(&manager.certs())).expect_err("a manager's certificate is refused");
    assert!(!refused.is_empty());
    curl(port, None).expect_err("no certificate: refused");
    let plain = Command::new("curl")
        .args(["-sS", "--max-time", "10", "-o", "/dev/null", "-w", "%{http_code}"])
        .arg(format!("http://127.0.0.1:{port}/api/state"))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&plain.stdout), "000", "plain HTTP is not served off loopback");

    // A revoked admin certificate is refused from then on.
    let scratch = tempfile::tempdir().unwrap();
    let bundle = scratch.path().join("ops");
    let id = manager.ok(&["cluster", "admin", "create", "--out", bundle.to_str().unwrap()]);
    curl(port, Some(&bundle)).expect("a new admin certificate is let in");
    manager.ok(&["cluster", "admin", "revoke", id.trim()]);
    curl(port, Some(&bundle)).expect_err("a revoked admin certificate is refused");
}
