//! Real stack files deployed as `docker stack deploy` would run them:
//! the voting app's docker-stack.yml and Docker's get-started part 5
//! file (../shared/stacks, read as they are), their images stood in for
//! by busybox images tagged as the files name them, on two hosts
//! (network namespaces on one switch) sharing the machine's Docker
//! Engine. Every service converges, the published ports answer on both
//! nodes, and a container reaches another by its service name over the
//! stack's network. The WordPress secrets stack reads its secrets from
//! their files, and deployed again unchanged touches nothing; swarmprom
//! gets its configs and a `NODE_ID={{.Node.ID}}` expanded per task.

mod common;

use std::process::Command;
use std::time::Duration;

use common::hosts::{Hosts, cluster_with_docker, http_get};
use common::images::{BusyboxImage, PauseImages, Volume};
use common::wait_until;

const WAIT: Duration = Duration::from_secs(90);
const ENGINE: &str = "unix:///var/run/docker.sock";

/// A web server stand-in answering `what` at / on `port`.
fn web(name: &str, what: &str, port: &str) -> BusyboxImage {
    let cmd = format!(r#"CMD ["httpd", "-f", "-p", "{port}", "-h", "/www"]"#);
    BusyboxImage::stand_in(name, &["sh", "httpd"], &[&cmd], &[("/www/index.html", &format!("{what}\n"))])
}

#[test]
fn the_voting_app_runs_from_its_own_stack_file() {
    let stack = format!("vt{}", rand::random::<u16>());
    // Dropped last: containers go with the nodes, then images and volume.
    let _volume = Volume(format!("{stack}_db-data"));
    let _pause = PauseImages;
    let sleeper = |name: &str| BusyboxImage::stand_in(name, &["sh", "sleep"], &[r#"CMD ["sleep", "100000"]"#], &[]);
    let worker_loop = r#"CMD ["sh", "-c", "while true; do wget -q -O - http://vote/; sleep 1; done"]"#;
    let _images = [
        sleeper("redis:alpine"),
        sleeper("postgres:15-alpine"),
        web("dockersamples/examplevotingapp_vote:latest", "vote-page", "80"),
        web("dockersamples/examplevotingapp_result:latest", "result-page", "80"),
        BusyboxImage::stand_in(
            "dockersamples/examplevotingapp_worker:latest",
            &["sh", "sleep", "wget"],
            &[worker_loop],
            &[],
        ),
    ];
    let hosts = Hosts::new(2);
    let (a, _workers) = cluster_with_docker(&hosts, Some(ENGINE));

    let file = common::shared_stacks().join("voting-app/docker-stack.yml");
    a.ok(&["stack", "deploy", "--detach", "-c", file.to_str().unwrap(), &stack]);
    let replicas = |service: &str| a.replicas(&format!("{stack}_{service}"));
    wait_until(WAIT, "every service converged", || {
        [("redis", "1/1"), ("db", "1/1"), ("vote", "2/2"), ("result", "1/1"), ("worker", "2/2")]
            .iter()
            .all(|(service, want)| replicas(service) == *want)
    });
    for (i, node) in hosts.addrs.iter().enumerate() {
        for (port, page) in [("8080", "vote-page"), ("8081", "result-page")] {
            let url = format!("http://{node}:{port}/");
            wait_until(WAIT, &format!("{page} on host-{}", i + 1), || {
                http_get(&hosts.switch, &url).as_deref() == Some(page)
            });
        }
    }
    wait_until(WAIT, "the worker reaching vote by name", || {
        a.ok(&["service", "logs", &format!("{stack}_worker")]).contains("| vote-page")
    });
    let volumes = Command::new("docker").args(["volume", "inspect", &format!("{stack}_db-data")]).output().unwrap();
    assert!(volumes.status.success(), "the stack's named volume, NAME_vol");
}

/// A directory this test made where a stack file binds one, removed
/// with all in it when dropped (one that existed is left alone).
struct MadeDir(Option<std::path::PathBuf>);

impl MadeDir {
    /// Makes `path`; remembers the topmost directory it had to make.
    fn make(path: &str) -> MadeDir {
        let path = std::path::Path::new(path);
        let top = path.ancestors().filter(|p| !p.exists()).last().map(|p| p.to_path_buf());
        std::fs::create_dir_all(path).unwrap();
        MadeDir(top)
    }
}

impl Drop for MadeDir {
    fn drop(&mut self) {
        if let Some(top) = &self.0 {
            let _ = std::fs::remove_dir_all(top);
        }
    }
}

#[test]
fn the_get_started_stack_runs_from_its_own_file() {
    let stack = format!("gs{}", rand::random::<u16>());
    let _pause = PauseImages;
    // Its redis keeps its data in /home/docker/data on the node, which
    // must exist (as in Swarm: a bind source is never made).
    let _data = MadeDir::make("/home/docker/data");
    let redis = "#!/bin/sh\necho redis-data > /data/index.html\nexec httpd -f -p 6379 -h /data\n";
    let _images = [
        web("username/repo:tag", "get-started", "80"),
        web("dockersamples/visualizer:stable", "visualizer", "8080"),
        BusyboxImage::stand_in("redis:latest", &["sh", "httpd"], &[], &[("/usr/local/bin/redis-server", redis)]),
    ];
    let hosts = Hosts::new(2);
    let (a, _workers) = cluster_with_docker(&hosts, Some(ENGINE));

    let file = common::shared_stacks().join("get-started-part5/docker-compose.yml");
    a.ok(&["stack", "deploy", "--detach", "-c", file.to_str().unwrap(), &stack]);
    let replicas = |service: &str| a.replicas(&format!("{stack}_{service}"));
    wait_until(WAIT, "every service converged", || {
        [("web", "5/5"), ("visualizer", "1/1"), ("redis", "1/1")]
            .iter()
            .all(|(service, want)| replicas(service) == *want)
    });
    for (i, node) in hosts.addrs.iter().enumerate() {
        for (port, page) in [("80", "get-started"), ("8080", "visualizer"), ("6379", "redis-data")] {
            let url = format!("http://{node}:{port}/");
            wait_until(WAIT, &format!("{page} on host-{}", i + 1), || {
                http_get(&hosts.switch, &url).as_deref() == Some(page)
            });
        }
    }
    let written = std::fs::read_to_string("/home/docker/data/index.html").unwrap();
    assert_eq!(written, "redis-data\n", "redis wrote into the node's directory");
    // The limits the file asks of web reach its containers.
    let web = a.tasks(&format!("{stack}_web"));
    let id = web.iter().find_map(|t| t["Status"]["ContainerStatus"]["ContainerID"].as_str()).unwrap().to_string();
    let inspect = Command::new("docker")
        .args(["inspect", "--format", "{{.HostConfig.NanoCpus}} {{.HostConfig.Memory}}", &id])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&inspect.stdout).trim(), format!("100000000 {}", 50 << 20));
}

#[test]
fn the_wordpress_secrets_stack_reads_its_secrets_and_redeploys_untouched() {
    let stack = format!("wp{}", rand::random::<u16>());
    let _volume = Volume(format!("{stack}_db_data"));
    let _pause = PauseImages;
    // The WordPress stand-in serves the database password it reads from
    // its secret file; the MySQL one checks both of its files are there.
    let wordpress =
        "#!/bin/sh\nmkdir -p /www\ncat /run/secrets/db_password > /www/index.html\nexec httpd -f -p 80 -h /www\n";
    let mysql =
        "#!/bin/sh\ntest -s /run/secrets/db_root_password && test -s /run/secrets/db_password && exec sleep 100000\n";
    let _images = [
        BusyboxImage::stand_in(
            "wordpress:latest",
            &["sh", "httpd", "cat", "mkdir"],
            &[r#"CMD ["/start"]"#],
            &[("/start", wordpress)],
        ),
        BusyboxImage::stand_in("mysql:latest", &["sh", "sleep", "test"], &[r#"CMD ["/start"]"#], &[("/start", mysql)]),
    ];
    let hosts = Hosts::new(1);
    let (a, _workers) = cluster_with_docker(&hosts, Some(ENGINE));
    let dir = common::shared_stacks().join("wordpress-secrets");
    let file = dir.join("compose.yml");
    let password = std::fs::read_to_string(dir.join("db_password.txt")).unwrap();

    let out = a.ok(&["stack", "deploy", "--detach", "-c", file.to_str().unwrap(), &stack]);
    assert!(out.contains(&format!("Creating secret {stack}_db_password")), "{out}");
    let replicas = |service: &str| a.replicas(&format!("{stack}_{service}"));
    wait_until(WAIT, "both services converged", || replicas("db") == "1/1" && replicas("wordpress") == "1/1");
    let url = format!("http://{}:8000/", hosts.addrs[0]);
    wait_until(WAIT, "wordpress serving the password from its secret", || {
        http_get(&hosts.switch, &url).as_deref() == Some(password.trim())
    });

    // Deployed again, unchanged: nothing is created or updated.
    let version = |what: &[&str]| a.ok(what).trim().to_string();
    let secret_version =
        || version(&["secret", "inspect", "--format", "{{.Version.Index}}", &format!("{stack}_db_password")]);
    let service_version =
        || version(&["service", "inspect", "--format", "{{.Version.Index}}", &format!("{stack}_wordpress")]);
    let (before_secret, before_service) = (secret_version(), service_version());
    let out = a.ok(&["stack", "deploy", "--detach", "-c", file.to_str().unwrap(), &stack]);
    assert!(!out.contains("Creating secret"), "{out}");
    assert_eq!((secret_version(), service_version()), (before_secret.clone(), before_service));

    // A changed file is refused with the way out, and changes nothing.
    let changed = tempfile::tempdir().unwrap();
    for name in ["compose.yml", "db_root_password.txt"] {
        std::fs::copy(dir.join(name), changed.path().join(name)).unwrap();
    }
    std::fs::write(changed.path().join("db_password.txt"), "another").unwrap();
    let changed_file = changed.path().join("compose.yml");
    let err = a.fails(1, &["stack", "deploy", "--detach", "-c", changed_file.to_str().unwrap(), &stack]);
    assert!(err.contains(&format!("secret {stack}_db_password exists with other data")), "{err}");
    assert_eq!(secret_version(), before_secret);

    let out = a.ok(&["stack", "rm", &stack]);
    assert!(out.contains(&format!("Removing secret {stack}_db_password")), "{out}");
    assert!(!a.ok(&["secret", "ls"]).contains(&stack));
}

#[test]
fn swarmprom_deploys_with_its_configs_and_a_node_id_per_task() {
    let stack = format!("sp{}", rand::random::<u16>());
    let _volumes = ["prometheus", "grafana", "alertmanager"].map(|v| Volume(format!("{stack}_{v}")));
    let _pause = PauseImages;
    // Every image stood in for by a script that ignores its arguments;
    // the caddy one serves the Caddyfile it was given on 3000 (and
    // passes the stack's health check).
    let caddy = "#!/bin/sh\nmkdir -p /www\ncat /etc/caddy/Caddyfile > /www/index.html\nexec httpd -f -p 3000 -h /www\n";
    let sleeper = |name: &str| {
        let applets = ["sh", "sleep", "cat"];
        BusyboxImage::stand_in(
            name,
            &applets,
            &[r#"ENTRYPOINT ["/start"]"#],
            &[("/start", "#!/bin/sh\nexec sleep 100000\n")],
        )
    };
    let _images = [
        BusyboxImage::stand_in(
            "stefanprodan/caddy",
            &["sh", "cat", "mkdir", "httpd", "wget"],
            &[r#"ENTRYPOINT ["/start"]"#],
            // The stack's health check runs `curl -f URL`.
            &[("/start", caddy), ("/bin/curl", "#!/bin/sh\nexec wget -q -O /dev/null \"$2\"\n")],
        ),
        sleeper("google/cadvisor"),
        sleeper("stefanprodan/swarmprom-grafana:5.3.4"),
        sleeper("stefanprodan/swarmprom-alertmanager:v0.14.0"),
        sleeper("cloudflare/unsee:v0.8.0"),
        sleeper("stefanprodan/swarmprom-node-exporter:v0.16.0"),
        sleeper("stefanprodan/swarmprom-prometheus:v2.5.0"),
    ];
    let hosts = Hosts::new(1);
    let (a, _workers) = cluster_with_docker(&hosts, Some(ENGINE));
    let dir = common::shared_stacks().join("swarmprom");
    let file = dir.join("docker-compose.yml");
    let out = a.ok(&["stack", "deploy", "--detach", "-c", file.to_str().unwrap(), &stack]);
    assert!(out.contains(&format!("Creating config {stack}_node_rules")), "{out}");
    let services =
        ["dockerd-exporter", "cadvisor", "grafana", "alertmanager", "unsee", "node-exporter", "prometheus", "caddy"];
    wait_until(WAIT, "every service converged", || {
        services.iter().all(|s| a.replicas(&format!("{stack}_{s}")) == "1/1")
    });

    // NODE_ID={{.Node.ID}}, expanded on the node.
    let container = |service: &str| {
        let filter = format!("label=io.shoal.service.name={stack}_{service}");
        let out = Command::new("docker").args(["ps", "-q", "--filter", &filter]).output().unwrap();
        String::from_utf8_lossy(&out.stdout).lines().next().unwrap_or_default().to_string()
    };
    let env = Command::new("docker")
        .args(["inspect", "--format", "{{json .Config.Env}}", &container("node-exporter")])
        .output()
        .unwrap();
    let env = String::from_utf8_lossy(&env.stdout).into_owned();
    assert!(env.contains(&format!("\"NODE_ID={}\"", a.id())), "{env}");

    // The configs, as their files are (Prometheus' own {{ }} untouched).
    let rules = std::fs::read_to_string(dir.join("prometheus/rules/swarm_node.rules.yml")).unwrap();
    let read = Command::new("docker")
        .args(["exec", &container("prometheus"), "cat", "/etc/prometheus/swarm_node.rules.yml"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&read.stdout), rules);
    let caddyfile = std::fs::read_to_string(dir.join("caddy/Caddyfile")).unwrap();
    let url = format!("http://{}:3000/", hosts.addrs[0]);
    // Through the routing mesh; what it answered last, if it never fits.
    let deadline = std::time::Instant::now() + WAIT;
    let mut last = http_get(&hosts.switch, &url);
    while last.as_deref() != Some(caddyfile.trim()) && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
        last = http_get(&hosts.switch, &url);
    }
    assert_eq!(last.as_deref(), Some(caddyfile.trim()), "caddy serving its Caddyfile through the routing mesh");

    a.ok(&["stack", "rm", &stack]);
    assert!(!a.ok(&["config", "ls"]).contains(&stack));
}
