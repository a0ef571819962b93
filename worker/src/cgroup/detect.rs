//! Finding the node's cgroup hierarchies and making the `shoal` parent in
//! each: what succeeds is what the node enforces, what fails is the
//! reason it reports.

use std::fs;
use std::path::Path;

use super::mounts::{CgroupMount, cgroup_mounts};
use super::{Cgroups, Controller, Hierarchy, PARENT, Version};

/// This node's cgroups, as far as this process can use them.
pub(super) fn detect() -> Cgroups {
    match fs::read_to_string("/proc/self/mountinfo") {
        Ok(text) => from_mounts(&cgroup_mounts(&text)),
        Err(e) => Cgroups::none(format!("reading /proc/self/mountinfo: {e}")),
    }
}

fn from_mounts(mounts: &[CgroupMount]) -> Cgroups {
    let limit_controllers = [Controller::Cpu, Controller::Memory, Controller::Pids];
    let v1_has = |c: Controller| mounts.iter().any(|m| !m.v2 && m.options.iter().any(|o| o == c.name()));
    if limit_controllers.iter().any(|c| v1_has(*c)) {
        return v1(mounts);
    }
    match mounts.iter().find(|m| m.v2) {
        Some(unified) => v2(unified),
        None => Cgroups::none("no cgroup filesystem is mounted"),
    }
}

/// One hierarchy per controller (cpu may share one with cpuacct).
fn v1(mounts: &[CgroupMount]) -> Cgroups {
    let mut hierarchies: Vec<Hierarchy> = Vec::new();
    let mut problems = Vec::new();
    for c in Controller::ALL {
        let Some(mount) = mounts.iter().find(|m| !m.v2 && m.options.iter().any(|o| o == c.name())) else {
            if c.limit().is_some() {
                problems.push(format!("{}: no cgroup v1 hierarchy has this controller", c.name()));
            }
            continue;
        };
        let parent = mount.point.join(PARENT);
        if let Err(e) = fs::create_dir_all(&parent) {
            problems.push(format!("{}: creating {}: {e}", c.name(), parent.display()));
            continue;
        }
        if c == Controller::Cpu && !parent.join("cpu.cfs_quota_us").exists() {
            problems.push("cpu: this kernel has no CFS bandwidth control (cpu.cfs_quota_us)".to_string());
            continue;
        }
        match hierarchies.iter_mut().find(|h| h.mount == mount.point) {
            Some(h) => h.controllers.push(c),
            None => hierarchies.push(Hierarchy {
                mount: mount.point.clone(),
                root: mount.root.clone(),
                controllers: vec![c],
            }),
        }
    }
    let message = problems.join("; ");
    if hierarchies.is_empty() {
        return Cgroups::none(message);
    }
    Cgroups { version: Some(Version::V1), hierarchies, message }
}

/// One hierarchy; the controllers must be enabled from the root down to
/// the `shoal` parent for task cgroups to have them. A v2 node without
/// any still kills a task's processes through its cgroup.
fn v2(unified: &CgroupMount) -> Cgroups {
    let parent = unified.point.join(PARENT);
    if let Err(e) = fs::create_dir_all(&parent) {
        return Cgroups::none(format!("creating {}: {e}", parent.display()));
    }
    let offered = fs::read_to_string(unified.point.join("cgroup.controllers")).unwrap_or_default();
    let mut controllers = Vec::new();
    let mut problems = Vec::new();
    for c in [Controller::Cpu, Controller::Memory, Controller::Pids] {
        if !offered.split_whitespace().any(|o| o == c.name()) {
            problems.push(format!("{}: the cgroup2 hierarchy does not offer this controller", c.name()));
            continue;
        }
        match enable(&unified.point, c).and_then(|()| enable(&parent, c)) {
            Ok(()) => controllers.push(c),
            Err(e) => problems.push(format!("{}: {e}", c.name())),
        }
    }
    let hierarchy = Hierarchy { mount: unified.point.clone(), root: unified.root.clone(), controllers };
    Cgroups { version: Some(Version::V2), hierarchies: vec![hierarchy], message: problems.join("; ") }
}

/// Enables controller `c` for the children of the cgroup at `dir`.
fn enable(dir: &Path, c: Controller) -> Result<(), String> {
    let file = dir.join("cgroup.subtree_control");
    let enabled = |text: &str| text.split_whitespace().any(|e| e == c.name());
    if fs::read_to_string(&file).is_ok_and(|t| enabled(&t)) {
        return Ok(());
    }
    super::write(&file, &format!("+{}", c.name())).map_err(|e| format!("enabling it in {}: {e}", file.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroup::mounts::cgroup_mounts;

    #[test]
    fn without_cgroup_mounts_nothing_is_enforced() {
        let none = from_mounts(&cgroup_mounts("22 1 8:1 / / rw - ext4 /dev/sda1 rw"));
        assert_eq!(none.support().message, "no cgroup filesystem is mounted");
        assert!(none.enforced().is_empty());
    }

    #[test]
    fn a_v1_hierarchy_that_cannot_be_written_is_reported() {
        let tmp = tempfile::tempdir().unwrap();
        let cpu = tmp.path().join("cpu");
        fs::create_dir(&cpu).unwrap();
        fs::write(cpu.join(PARENT), "a file where the parent should be").unwrap();
        let pids = tmp.path().join("pids");
        let text = format!(
            "1 0 0:1 / {} rw - cgroup cgroup rw,cpu\n2 0 0:2 / {} rw - cgroup cgroup rw,pids\n",
            cpu.display(),
            pids.display()
        );
        let found = from_mounts(&cgroup_mounts(&text));
        assert_eq!(found.enforced(), ["pids"]);
        let message = found.support().message;
        assert!(message.starts_with(&format!("cpu: creating {}/shoal: ", cpu.display())), "{message}");
        assert!(message.ends_with("memory: no cgroup v1 hierarchy has this controller"), "{message}");
        assert!(pids.join(PARENT).is_dir());
    }
}
