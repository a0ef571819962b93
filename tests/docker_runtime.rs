//! The docker runtime end to end on the machine's Docker Engine: a
//! cluster made where the engine answers runs images by default; a
//! service's tasks become containers named and labelled as Swarm's are,
//! converge, scale, are replaced when killed and go when the service
//! does; a missing image, a command that cannot start and a non-zero exit
//! become the task's error in Docker's words; `service logs` reads what
//! the engine kept of a container's output, also after a restart of
//! shoal. Images are busybox, made by the test; every container the
//! test's image made goes with it.

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::images::{BusyboxImage, Volume, docker};
use common::{Node, wait_until};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(60);
const ENGINE: &str = "unix:///var/run/docker.sock";

/// A node of its own cluster that runs containers of the machine's engine.
fn node(hostname: &str) -> Node {
    let node = Node::start_with_docker(hostname, None, "127.0.0.1", Some(ENGINE));
    node.ok(&["node", "init"]);
    node
}

/// The containers of `service` made from `image` (running only unless `all`).
fn containers(image: &BusyboxImage, service: &str, all: bool) -> BTreeSet<String> {
    let (image_label, service_label) =
        (format!("label={}", image.label), format!("label=io.shoal.service.name={service}"));
    let mut args = vec!["ps", "-q", "--no-trunc", "--filter", &image_label, "--filter", &service_label];
    if all {
        args.push("-a");
    }
    docker(&args).lines().map(String::from).collect()
}

fn inspect(id: &str) -> Value {
    serde_json::from_str::<Vec<Value>>(&docker(&["inspect", id])).unwrap().remove(0)
}

#[test]
fn image_services_converge_scale_are_replaced_and_go() {
    // Declared first, dropped last: the node stops before its containers go.
    let image = BusyboxImage::import("runtime", &["sleep", "sh"]);
    let node = node("node-a");
    let default = node.ok(&["cluster", "inspect", "--format", "{{.Spec.DefaultRuntime}}"]);
    assert_eq!(default.trim(), "docker", "the engine answers at init: images by default");
    let runtimes = node.ok(&["node", "inspect", "--format", "{{json .Description.Engine.Runtimes}}", "self"]);
    assert_eq!(runtimes.trim(), r#"["process","docker"]"#);

    node.ok(&[
        "service",
        "create",
        "--detach",
        "--name",
        "web",
        "--replicas",
        "3",
        "--env",
        "A=1",
        &image.name,
        "sleep",
        "1000",
    ]);
    wait_until(WAIT, "3 running containers", || containers(&image, "web", false).len() == 3);
    wait_until(WAIT, "3/3", || node.replicas("web") == "3/3");

    // Named and labelled as Swarm names them, made from the spec.
    let node_id = node.id();
    let tasks = node.tasks("web");
    let running = containers(&image, "web", false);
    for id in &running {
        let c = inspect(id);
        let labels = &c["Config"]["Labels"];
        assert_eq!(labels["io.shoal.node.id"], node_id.as_str());
        assert_eq!(labels["io.shoal.service.name"], "web");
        let task_id = labels["io.shoal.task.id"].as_str().unwrap();
        let task = tasks.iter().find(|t| t["ID"] == task_id).expect("a task of the service");
        let name = format!("/web.{}.{task_id}", task["Slot"]);
        assert_eq!(c["Name"], name.as_str());
        assert_eq!(labels["io.shoal.task.name"], &name[1..]);
        assert_eq!(c["Config"]["Cmd"], serde_json::json!(["sleep", "1000"]));
        assert!(c["Config"]["Env"].as_array().unwrap().iter().any(|e| e == "A=1"));
        assert_eq!(c["HostConfig"]["LogConfig"]["Type"], "json-file");
        assert_eq!(task["Status"]["ContainerStatus"]["PID"], c["State"]["Pid"], "the task's pid is the container's");
        assert_eq!(task["Status"]["ContainerStatus"]["ContainerID"], id.as_str());
    }

    // A container killed behind shoal's back fails its task; another replaces it.
    let killed = running.iter().next().unwrap().clone();
    docker(&["kill", &killed]);
    wait_until(WAIT, "a replacement", || {
        let now = containers(&image, "web", false);
        now.len() == 3 && !now.contains(&killed)
    });
    let failed = node.tasks("web").into_iter().find(|t| t["Status"]["State"] == "failed").expect("the killed task");
    assert_eq!(failed["Status"]["Err"], "task: non-zero exit (137)");

    node.ok(&["service", "scale", "--detach", "web=1"]);
    wait_until(WAIT, "1 running container", || containers(&image, "web", false).len() == 1);
    node.ok(&["service", "rm", "web"]);
    wait_until(WAIT, "no container left", || containers(&image, "web", true).is_empty());
}

#[test]
fn what_goes_wrong_is_said_in_dockers_words() {
    let image = BusyboxImage::import("runtime-errors", &["sleep", "sh"]);
    let node = node("node-b");
    let err = |service: &str| {
        let mut err = String::new();
        wait_until(WAIT, &format!("{service} fails"), || {
            let tasks = node.tasks(service);
            err =
                tasks.first().map(|t| t["Status"]["Err"].as_str().unwrap_or_default().to_string()).unwrap_or_default();
            tasks.first().is_some_and(|t| t["Status"]["State"] == "failed")
        });
        err
    };
    let create = |name: &str, args: &[&str]| {
        let mut all = vec!["service", "create", "--detach", "--restart-condition", "none", "--name", name];
        all.extend_from_slice(args);
        node.ok(&all);
    };
    // A registry on a loopback port nothing listens on: the pull fails at once.
    create("missing", &["127.0.0.1:9/nosuch:1"]);
    let missing = err("missing");
    assert!(missing.starts_with("No such image: 127.0.0.1:9/nosuch:1 (pulling it failed: "), "{missing}");

    create("unstartable", &[&image.name, "/nonexistent"]);
    let unstartable = err("unstartable");
    assert!(unstartable.starts_with("starting container failed: "), "{unstartable}");
    assert!(unstartable.contains("/nonexistent"), "{unstartable}");

    create("three", &[&image.name, "sh", "-c", "exit 3"]);
    assert_eq!(err("three"), "task: non-zero exit (3)");
    let exited = containers(&image, "three", true);
    assert_eq!(exited.len(), 1, "kept while its task is, as Swarm keeps it");
    assert_eq!(inspect(exited.iter().next().unwrap())["State"]["ExitCode"], 3);
}

#[test]
fn service_logs_read_the_containers_output_also_after_a_restart() {
    let image = BusyboxImage::import("runtime-logs", &["sh", "sleep"]);
    let mut node = node("node-c");
    let script = "echo out-1; echo err-1 >&2; while [ ! -e /go ]; do sleep 0.1; done; echo after; sleep 1000";
    node.ok(&["service", "create", "--detach", "--name", "talk", &image.name, "sh", "-c", script]);
    wait_until(WAIT, "its first lines", || {
        let out = node.shoal(&["service", "logs", "talk"]);
        String::from_utf8_lossy(&out.stdout).contains("| out-1")
            && String::from_utf8_lossy(&out.stderr).contains("| err-1")
    });
    let out = node.ok(&["service", "logs", "talk"]);
    let line = out.lines().next().unwrap();
    let task = node.ok(&["service", "ps", "-q", "talk"]);
    assert!(line.starts_with("talk.1.") && line.contains(task.trim()) && line.contains("@node-c"), "{line}");

    // Followed, a line written after the stream began comes through.
    let mut follow = Command::new(common::SHOAL)
        .args(["--host", &format!("unix://{}", node.socket().display()), "service", "logs", "-f", "talk"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(follow.stdout.take().unwrap()).lines();
    let first = lines.next().expect("a line").unwrap();
    assert!(first.ends_with("| out-1"), "{first}");
    let container = containers(&image, "talk", false).pop_first().unwrap();
    docker(&["exec", &container, "sh", "-c", ": > /go"]);
    let next = lines.next().expect("a followed line").unwrap();
    assert!(next.ends_with("| after"), "{next}");
    let _ = follow.kill();
    let _ = follow.wait();

    // Nothing is lost across a restart of shoal: the engine kept it all.
    node.restart();
    let out = node.shoal(&["service", "logs", "talk"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).lines().map(|l| l.rsplit("| ").next().unwrap()).collect::<Vec<_>>(),
        ["out-1", "after"]
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("| err-1"), "stderr goes to stderr");
    assert!(node.ok(&["service", "logs", "--tail", "1", "talk"]).ends_with("| after\n"));
    let stamped = node.ok(&["service", "logs", "-t", "talk"]);
    assert!(stamped.lines().all(|l| l.starts_with("20") && l.contains('T')), "{stamped}");
    assert!(node.ok(&["service", "logs", "--since", "2100-01-01T00:00:00Z", "talk"]).is_empty());
}

#[test]
fn mounts_and_limits_reach_the_container() {
    // Dropped last: the volume goes once the image's containers have.
    let volume = Volume(format!("shoal-test-vol-{}", rand::random::<u32>()));
    let image = BusyboxImage::import("runtime-mounts", &["sh", "sleep", "cat"]);
    let node = node("node-d");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("f"), "from-the-node").unwrap();
    let bind = format!("type=bind,source={},target=/data,readonly", dir.path().display());
    let vol = format!("type=volume,source={},target=/v", volume.0);
    // Counts its starts in the volume; tells whether the bind is writable.
    let script = "n=$(( $(cat /v/n 2>/dev/null || echo 0) + 1 )); echo $n > /v/n; echo start-$n; cat /data/f; echo; \
                  if (: > /data/x) 2>/dev/null; then echo writable; else echo read-only; fi; sleep 1000";
    node.ok(&[
        "service",
        "create",
        "--detach",
        "--name",
        "store",
        "--mount",
        &bind,
        "--mount",
        &vol,
        "--mount",
        "type=tmpfs,target=/scratch",
        "--limit-cpu",
        "0.5",
        "--limit-memory",
        "64m",
        &image.name,
        "sh",
        "-c",
        script,
    ]);
    let logs = || node.ok(&["service", "logs", "store"]);
    wait_until(WAIT, "its first start", || logs().contains("| read-only"));
    let out = logs();
    assert!(out.contains("| start-1") && out.contains("| from-the-node"), "{out}");

    let first = containers(&image, "store", false).pop_first().unwrap();
    let c = inspect(&first);
    assert_eq!(c["HostConfig"]["NanoCpus"], 500_000_000);
    assert_eq!(c["HostConfig"]["Memory"], 64 << 20);
    let kinds: Vec<&str> =
        c["HostConfig"]["Mounts"].as_array().unwrap().iter().map(|m| m["Type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["bind", "volume", "tmpfs"]);

    // The volume's data outlives the task: its replacement counts on.
    docker(&["kill", &first]);
    wait_until(WAIT, "the replacement's start", || logs().contains("| start-2"));

    // A bind of a path the node lacks fails the task, as in Swarm.
    node.ok(&[
        "service",
        "create",
        "--detach",
        "--restart-condition",
        "none",
        "--name",
        "nobind",
        "--mount",
        "type=bind,source=/no/such/dir,target=/data",
        &image.name,
        "sleep",
        "1000",
    ]);
    wait_until(WAIT, "nobind fails", || node.tasks("nobind").first().is_some_and(|t| t["Status"]["State"] == "failed"));
    let err = node.tasks("nobind")[0]["Status"]["Err"].as_str().unwrap().to_string();
    assert!(err.contains("bind source path does not exist: /no/such/dir"), "{err}");
}

#[test]
fn volumes_are_made_with_their_driver_options_and_tmpfs_with_its_size_and_mode() {
    let volume = Volume(format!("shoal-test-volopt-{}", rand::random::<u32>()));
    let image = BusyboxImage::import("runtime-mount-options", &["sh", "sleep", "stat", "df"]);
    let node = node("node-o");
    // A volume of the local driver that is a 2 MiB tmpfs, labelled.
    let vol = format!(
        "type=volume,source={},target=/v,volume-driver=local,volume-opt=type=tmpfs,volume-opt=device=tmpfs,\
         \"volume-opt=o=size=2m,mode=0700\",volume-label=team=a",
        volume.0
    );
    let script = "echo mode-$(stat -c %a /scratch); df -k /scratch /v | sed 1d; sleep 1000";
    node.ok(&[
        "service",
        "create",
        "--detach",
        "--name",
        "opts",
        "--mount",
        &vol,
        "--mount",
        "type=tmpfs,target=/scratch,tmpfs-size=1m,tmpfs-mode=1770",
        // Anonymous: the engine makes one for the task, removed with it.
        "--mount",
        "type=volume,target=/anon",
        &image.name,
        "sh",
        "-c",
        script,
    ]);
    let logs = || node.ok(&["service", "logs", "opts"]);
    wait_until(WAIT, "its output", || logs().contains("/v"));
    let out = logs();
    assert!(out.contains("| mode-1770"), "the tmpfs's mode: {out}");
    let df = out.lines().filter_map(|l| l.split_once("| ")).map(|(_, line)| line).filter(|l| l.starts_with("tmpfs"));
    let sizes: Vec<&str> = df.filter_map(|l| l.split_whitespace().nth(1)).collect();
    assert_eq!(sizes, ["1024", "2048"], "1 MiB tmpfs, 2 MiB volume: {out}");

    let made: Value = serde_json::from_str::<Vec<Value>>(&docker(&["volume", "inspect", &volume.0])).unwrap().remove(0);
    assert_eq!(made["Driver"], "local");
    assert_eq!(made["Options"], serde_json::json!({ "type": "tmpfs", "device": "tmpfs", "o": "size=2m,mode=0700" }));
    assert_eq!(made["Labels"]["team"], "a");
    let spec = node.json_lines(&["service", "inspect", "--format", "json", "opts"]).remove(0);
    let mounts = &spec["Spec"]["TaskTemplate"]["ContainerSpec"]["Mounts"];
    assert_eq!(mounts[0]["VolumeOptions"]["DriverConfig"]["Name"], "local");
    assert_eq!(mounts[0]["VolumeOptions"]["Labels"]["team"], "a");
    assert_eq!(mounts[1]["TmpfsOptions"], serde_json::json!({ "SizeBytes": 1 << 20, "Mode": 0o1770 }));
    assert_eq!((&mounts[2]["Type"], mounts[2].get("Source")), (&"volume".into(), None), "anonymous");
    let task = containers(&image, "opts", false).pop_first().unwrap();
    let anonymous = inspect(&task)["Mounts"].as_array().unwrap().iter().find(|m| m["Destination"] == "/anon").cloned();
    let anonymous = anonymous.expect("the task has its anonymous volume");
    assert_eq!(anonymous["Type"], "volume");
    let name = anonymous["Name"].as_str().unwrap().to_string();
    node.ok(&["service", "rm", "opts"]);
    wait_until(WAIT, "the anonymous volume to go with its task", || {
        !docker(&["volume", "ls", "-q"]).lines().any(|v| v == name)
    });
}

#[test]
fn the_images_health_check_is_honoured_overridden_or_off() {
    let healthcheck = r#"HEALTHCHECK --interval=1s --retries=2 CMD ["sh", "-c", "[ -e /ok ]"]"#;
    let image = BusyboxImage::import_with("runtime-health", &["sh", "sleep"], &[healthcheck]);
    let node = node("node-e");
    let state = |service: &str| -> Vec<String> {
        let rows = node.json_lines(&["service", "ps", "--format", "json", service]);
        let live = rows.iter().filter(|t| t["DesiredState"] == "Running");
        live.map(|t| t["CurrentState"].as_str().unwrap_or_default().to_string()).collect()
    };
    let create = |name: &str, args: &[&str]| {
        let mut all = vec!["service", "create", "--detach", "--name", name];
        all.extend_from_slice(args);
        node.ok(&all);
    };
    // The image's check passes once /ok is there.
    create("img", &[&image.name, "sh", "-c", ": > /ok; sleep 1000"]);
    // The spec's replaces the image's (which would fail here).
    create("own", &["--health-cmd", "exit 0", "--health-interval", "1s", &image.name, "sleep", "1000"]);
    // Turned off: no health at all.
    create("off", &["--no-healthcheck", &image.name, "sleep", "1000"]);
    // The image's check fails: unhealthy, the task fails and is replaced.
    create("sick", &[&image.name, "sleep", "1000"]);
    for healthy in ["img", "own"] {
        wait_until(WAIT, &format!("{healthy} healthy"), || {
            state(healthy).iter().any(|s| s.starts_with("Running (healthy)"))
        });
    }
    wait_until(WAIT, "sick replaced", || {
        node.tasks("sick")
            .iter()
            .any(|t| t["Status"]["State"] == "failed" && t["Status"]["Err"] == "unhealthy container")
    });
    let off = state("off");
    assert!(off.len() == 1 && off[0].starts_with("Running") && !off[0].contains('('), "{off:?}");
    let container = containers(&image, "img", false).pop_first().unwrap();
    assert_eq!(inspect(&container)["State"]["Health"]["Status"], "healthy", "the engine's own check");
}

#[test]
fn updates_wait_for_the_images_health_check_and_a_sick_image_rolls_back() {
    let good = r#"HEALTHCHECK --interval=1s --retries=2 CMD ["true"]"#;
    let good = BusyboxImage::import_with("runtime-rollout", &["sh", "sleep", "true"], &[good]);
    let sick = r#"HEALTHCHECK --interval=1s --retries=2 CMD ["false"]"#;
    let sick = BusyboxImage::import_with("runtime-rollout-sick", &["sh", "sleep", "false"], &[sick]);
    let node = node("node-h");
    node.ok(&[
        "service",
        "create",
        "--name",
        "web",
        "--replicas",
        "2",
        "--update-failure-action",
        "rollback",
        "--update-monitor",
        "4s",
        "--stop-signal",
        "SIGKILL",
        &good.name,
        "sleep",
        "1000",
    ]);
    assert_eq!(node.replicas("web"), "2/2");

    // One at a time (parallelism 1): the second old task goes only once
    // the first new container passed the image's check.
    node.ok(&["service", "update", "--env-add", "V=2", "web"]);
    let mut new: Vec<Value> = containers(&good, "web", false).iter().map(|id| inspect(id)).collect();
    assert_eq!(new.len(), 2);
    assert!(new.iter().all(|c| c["Config"]["Env"].as_array().unwrap().iter().any(|e| e == "V=2")));
    let at = |time: &str| humantime::parse_rfc3339(time).unwrap_or_else(|e| panic!("{time}: {e}"));
    new.sort_by_key(|c| at(c["Created"].as_str().unwrap()));
    // The engine's first check runs one interval (1 s) after the start:
    // the second cannot have been made before.
    let (first_started, second_made) =
        (new[0]["State"]["StartedAt"].as_str().unwrap(), new[1]["Created"].as_str().unwrap());
    let gap = at(second_made).duration_since(at(first_started)).unwrap_or_default();
    assert!(gap >= Duration::from_secs(1), "first new one started {first_started}, second made {second_made}");

    // The sick image never becomes healthy: the update rolls back to the
    // good image and its env.
    let err = node.fails(1, &["service", "update", "--image", &sick.name, "web"]);
    assert!(err.contains("rolled back"), "{err}");
    wait_until(WAIT, "the rollback to complete", || {
        let s = node.json_lines(&["service", "inspect", "--format", "json", "web"]).remove(0);
        s["UpdateStatus"]["State"] == "rollback_completed"
    });
    wait_until(WAIT, "two healthy containers of the good image", || {
        let running = containers(&good, "web", false);
        let healthy = running.iter().filter(|id| {
            let c = inspect(id);
            c["State"]["Health"]["Status"] == "healthy"
                && c["Config"]["Env"].as_array().unwrap().iter().any(|e| e == "V=2")
        });
        healthy.count() == 2 && containers(&sick, "web", false).is_empty()
    });
}

#[test]
fn a_container_past_its_memory_limit_is_oom_killed() {
    let image = BusyboxImage::import("runtime-oom", &["tail"]);
    let node = node("node-f");
    node.ok(&[
        "service",
        "create",
        "--detach",
        "--name",
        "hog",
        "--restart-condition",
        "none",
        "--limit-memory",
        "16m",
        &image.name,
        "tail",
        "/dev/zero",
    ]);
    wait_until(WAIT, "hog fails", || node.tasks("hog").first().is_some_and(|t| t["Status"]["State"] == "failed"));
    let err = node.tasks("hog")[0]["Status"]["Err"].as_str().unwrap().to_string();
    assert_eq!(err, "OOMKilled: the task used more than its memory limit (16MiB): non-zero exit (137)");
    let hog = containers(&image, "hog", true).pop_first().unwrap();
    assert_eq!(inspect(&hog)["State"]["OOMKilled"], true);
}

#[test]
fn entrypoint_init_read_only_and_engine_options_reach_the_container() {
    let image = BusyboxImage::import("runtime-entrypoint", &["sh", "sleep", "cat"]);
    let node = node("node-g");
    let script = "if (: > /x) 2>/dev/null; then echo writable; else echo read-only; fi; echo pid1=$(cat /proc/1/comm); sleep 1000";
    node.ok(&[
        "service",
        "create",
        "--detach",
        "--name",
        "entry",
        "--entrypoint",
        "sh -c",
        "--init",
        "--read-only",
        &image.name,
        script,
    ]);
    wait_until(WAIT, "its output", || node.ok(&["service", "logs", "entry"]).contains("| pid1="));
    let out = node.ok(&["service", "logs", "entry"]);
    assert!(out.contains("| read-only") && out.contains("| pid1=docker-init"), "{out}");
    let spec = node.ok(&["service", "inspect", "--format", "{{json .Spec.TaskTemplate.ContainerSpec}}", "entry"]);
    let spec: Value = serde_json::from_str(&spec).unwrap();
    assert_eq!(
        (&spec["Command"], &spec["Init"], &spec["ReadOnly"]),
        (&serde_json::json!(["sh", "-c"]), &Value::Bool(true), &Value::Bool(true))
    );
    // Docker's container options: the engine gets them, the container
    // lives by them.
    let show = "cat /etc/hosts /etc/resolv.conf; echo somaxconn=$(cat /proc/sys/net/core/somaxconn); \
        echo nofile=$(ulimit -n); sleep 1000";
    node.ok(&[
        "service",
        "create",
        "--detach",
        "--name",
        "opts",
        "--host",
        "db:10.9.8.7",
        "--dns",
        "127.0.0.1",
        "--dns-search",
        "example.test",
        "--dns-option",
        "timeout:2",
        "--sysctl",
        "net.core.somaxconn=512",
        "--cap-add",
        "net_admin",
        "--cap-drop",
        "MKNOD",
        "--ulimit",
        "nofile=100:200",
        "-t",
        &image.name,
        "sh",
        "-c",
        show,
    ]);
    wait_until(WAIT, "opts' output", || node.ok(&["service", "logs", "opts"]).contains("nofile="));
    let out = node.ok(&["service", "logs", "opts"]).replace('\r', "");
    for seen in [
        "10.9.8.7\tdb",
        "nameserver 127.0.0.1",
        "search example.test",
        "options timeout:2",
        "somaxconn=512",
        "nofile=100",
    ] {
        assert!(out.contains(seen), "{seen}: {out}");
    }
    let container = inspect(&containers(&image, "opts", false).pop_first().unwrap());
    let host = &container["HostConfig"];
    assert_eq!(host["ExtraHosts"], serde_json::json!(["db:10.9.8.7"]));
    assert_eq!(host["CapAdd"], serde_json::json!(["CAP_NET_ADMIN"]));
    assert_eq!(host["CapDrop"], serde_json::json!(["CAP_MKNOD"]));
    assert_eq!(host["Ulimits"], serde_json::json!([{ "Name": "nofile", "Soft": 100, "Hard": 200 }]));
    assert_eq!(container["Config"]["Tty"], true);
    let spec = node.ok(&["service", "inspect", "--format", "{{json .Spec.TaskTemplate.ContainerSpec}}", "opts"]);
    let spec: Value = serde_json::from_str(&spec).unwrap();
    assert_eq!(spec["Hosts"], serde_json::json!(["10.9.8.7 db"]));
    assert_eq!(spec["DNSConfig"]["Search"], serde_json::json!(["example.test"]));
    assert_eq!((&spec["Sysctls"]["net.core.somaxconn"], &spec["TTY"]), (&"512".into(), &true.into()));
    let pretty = node.ok(&["service", "inspect", "--pretty", "opts"]);
    for shown in [
        "Capabilities:\n Add: CAP_NET_ADMIN\n Drop: CAP_MKNOD\n",
        "SysCtls:\n net.core.somaxconn: 512\n",
        "Ulimits:\n nofile: 100:200\n",
    ] {
        assert!(pretty.contains(shown), "as docker lays it out: {shown:?} in {pretty}");
    }
    // Bad values are named at create, and nothing is made.
    let err = node.fails(1, &["service", "create", "--sysctl", "vm.swappiness=1", &image.name]);
    assert!(err.contains("sysctl: vm.swappiness is not in a namespace of the task's own"), "{err}");
    let err = node.fails(2, &["service", "create", "--host", "db", &image.name]);
    assert!(err.contains("--host") && err.contains("expected HOST:IP"), "{err}");

    // The process runtime says plainly it has no container for them.
    node.ok(&[
        "service",
        "create",
        "--detach",
        "--name",
        "proc",
        "--runtime",
        "process",
        "--restart-condition",
        "none",
        "--init",
        "sleep",
        "1000",
    ]);
    wait_until(WAIT, "proc fails", || node.tasks("proc").first().is_some_and(|t| t["Status"]["State"] == "failed"));
    let err = node.tasks("proc")[0]["Status"]["Err"].as_str().unwrap().to_string();
    assert_eq!(err, "--init is for images (--runtime docker): the process runtime has no container");
}
