//! Images pulled from a registry that wants credentials: without
//! `--with-registry-auth` the task fails in Docker's words and nothing
//! runs; with it, the credentials of the client's Docker configuration
//! reach the node's engine, which pulls and runs the image; `service
//! inspect` never shows them. The registry is the test's own, on
//! 127.0.0.1, serving a busybox image.

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use base64::Engine;
use common::registry::Registry;
use common::{Node, wait_until};

const WAIT: Duration = Duration::from_secs(60);

#[test]
fn with_registry_auth_the_node_pulls_what_needs_credentials() {
    let (registry, image) = Registry::serve("registry-auth", &["sleep"], "shoal", "s3cret-pw");
    let (other, other_image) = Registry::serve("registry-auth-create", &["sleep"], "shoal", "0ther-pw");
    let node = Node::start_with_docker("node-r", None, "127.0.0.1", Some("unix:///var/run/docker.sock"));
    node.ok(&["node", "init"]);
    // The client's Docker configuration, as `docker login` leaves it.
    let config = tempfile::tempdir().unwrap();
    let encode = |text: &str| base64::engine::general_purpose::STANDARD.encode(text);
    let logged_in = serde_json::json!({ "auths": {
        registry.addr.to_string(): { "auth": encode("shoal:s3cret-pw") },
        format!("http://{}/v2/", other.addr): { "auth": encode("shoal:0ther-pw") },
    }});
    std::fs::write(config.path().join("config.json"), logged_in.to_string()).unwrap();
    let shoal = |args: &[&str]| {
        let out = node.command(args).env("DOCKER_CONFIG", config.path()).output().unwrap();
        assert!(out.status.success(), "shoal {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let authorized = |r: &Registry| r.authorized.load(Ordering::Relaxed);

    // Without: the engine is refused, the task fails, nothing runs.
    shoal(&["service", "create", "--detach", "--name", "anon", "--runtime", "docker", &image.name, "sleep", "1000"]);
    wait_until(WAIT, "the pull refused", || node.tasks("anon").iter().any(|t| t["Status"]["State"] == "failed"));
    let failed = node.tasks("anon").into_iter().find(|t| t["Status"]["State"] == "failed").unwrap();
    let err = failed["Status"]["Err"].as_str().unwrap();
    assert!(err.starts_with(&format!("No such image: {} (pulling it failed: ", image.name)), "{err}");
    assert!(registry.refused.load(Ordering::Relaxed) > 0);
    assert_eq!(authorized(&registry), 0);
    assert!(image.containers(true).is_empty());

    // An update sends the client's credentials: pulled with them, running.
    shoal(&["service", "update", "--detach", "--with-registry-auth", "anon"]);
    wait_until(WAIT, "anon 1/1", || node.replicas("anon") == "1/1");
    assert!(authorized(&registry) > 0, "the engine used the credentials");
    assert_eq!(image.containers(false).len(), 1);
    let inspect = shoal(&["service", "inspect", "anon"]);
    assert!(!inspect.contains(&encode("shoal:s3cret-pw")) && !inspect.contains("s3cret"), "no credentials: {inspect}");

    // So does a create (the configuration's key a URL of the registry).
    let args = ["service", "create", "--detach", "--name", "private", "--runtime", "docker", "--with-registry-auth"];
    shoal(&[&args[..], &[other_image.name.as_str(), "sleep", "1000"]].concat());
    wait_until(WAIT, "private 1/1", || node.replicas("private") == "1/1");
    assert!(authorized(&other) > 0);

    node.ok(&["service", "rm", "anon", "private"]);
    wait_until(WAIT, "no container left", || {
        image.containers(true).is_empty() && other_image.containers(true).is_empty()
    });
}
