//! Mounts on the process runtime through the CLI: a task sees its bind
//! mount (read-only when asked), its named volume and its tmpfs, the node
//! does not; `--mount-add/-rm` roll the change out; a bind source missing
//! on the node fails the task with a clear reason.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{Node, wait_until};

const WAIT: Duration = Duration::from_secs(30);

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

#[test]
fn a_task_sees_its_mounts_and_the_node_does_not() {
    let node = Node::init("node-a");
    let dir = node.data_dir().join("m");
    let (src, bind, scratch, vol, out) =
        (dir.join("src"), dir.join("bind"), dir.join("tmp"), dir.join("vol"), dir.join("out"));
    for d in [&src, &bind, &scratch, &vol, &out] {
        std::fs::create_dir_all(d).unwrap();
    }
    std::fs::write(src.join("hello"), "from the node").unwrap();
    let script = format!(
        "cat {b}/hello > {o}/seen; touch {b}/x 2> {o}/ro && echo writable > {o}/ro; echo t > {t}/file; \
         ls {t} > {o}/tmpfs; echo kept >> {v}/data; exec sleep 1000",
        b = bind.display(),
        o = out.display(),
        t = scratch.display(),
        v = vol.display()
    );
    let mounts = [
        format!("type=bind,source={},target={},readonly", src.display(), bind.display()),
        format!("type=tmpfs,target={}", scratch.display()),
        format!("type=volume,source=data,target={}", vol.display()),
    ];
    node.ok(&[
        "service", "create", "--name", "web", "--mount", &mounts[0], "--mount", &mounts[1], "--mount", &mounts[2],
        "sh", "-c", &script,
    ]);
    wait_until(WAIT, "the task to write what it saw", || !read(&out.join("tmpfs")).is_empty());
    assert_eq!(read(&out.join("seen")), "from the node");
    assert!(read(&out.join("ro")).contains("Read-only file system"), "{}", read(&out.join("ro")));
    assert_eq!(read(&out.join("tmpfs")), "file\n");
    assert!(!scratch.join("file").exists() && !bind.join("hello").exists(), "the node sees none of the task's mounts");
    assert!(std::fs::read_dir(&vol).unwrap().next().is_none(), "nor its volume");

    let s = node.json_lines(&["service", "inspect", "--format", "json", "web"]).remove(0);
    let m = &s["Spec"]["TaskTemplate"]["ContainerSpec"]["Mounts"];
    assert_eq!((&m[0]["Type"], &m[0]["ReadOnly"], &m[2]["Source"]), (&"bind".into(), &true.into(), &"data".into()));

    // Without the bind mount, the new task finds nothing there; the volume
    // kept what the first one wrote.
    std::fs::remove_file(out.join("tmpfs")).unwrap();
    node.ok(&["service", "update", "--mount-rm", &bind.display().to_string(), "--update-monitor", "200ms", "web"]);
    wait_until(WAIT, "the new task to run", || !read(&out.join("tmpfs")).is_empty());
    assert_eq!(read(&out.join("seen")), "");
    let volume = node.data_dir().join("worker/volumes/data/data");
    assert_eq!(read(&volume), "kept\nkept\n");

    let missing = format!("type=bind,source={},target={}", dir.join("nope").display(), bind.display());
    node.ok(&[
        "service",
        "create",
        "-d",
        "--name",
        "ghost",
        "--restart-condition",
        "none",
        "--mount",
        &missing,
        "sleep",
        "1",
    ]);
    wait_until(WAIT, "the task to fail", || node.ok(&["service", "ps", "--no-trunc", "ghost"]).contains("bind source"));
    let ps = node.ok(&["service", "ps", "--no-trunc", "ghost"]);
    assert!(ps.contains(&format!("bind source {} does not exist on this node", dir.join("nope").display())), "{ps}");
    let err = node.fails(2, &["service", "create", "--mount", "type=nfs,target=/x", "sleep", "1"]);
    assert!(err.contains("--mount") && err.contains("expected bind, volume or tmpfs"), "{err}");
}
