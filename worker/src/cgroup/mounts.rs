//! Reading where cgroups are mounted (`/proc/self/mountinfo`) and which
//! cgroup a process is in (`/proc/self/cgroup`).

use std::path::{Path, PathBuf};

/// A cgroup filesystem mounted on this node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupMount {
    pub point: PathBuf,
    /// The path inside the hierarchy that is mounted there.
    pub root: String,
    /// cgroup2 (else cgroup v1).
    pub v2: bool,
    /// v1: the mount options, controller names among them.
    pub options: Vec<String>,
}

/// The cgroup mounts listed in a mountinfo text.
pub fn cgroup_mounts(mountinfo: &str) -> Vec<CgroupMount> {
    let mut mounts = Vec::new();
    for line in mountinfo.lines() {
        // "36 25 0:31 / /sys/fs/cgroup/cpu rw,relatime shared:13 - cgroup cgroup rw,cpu"
        let Some((before, after)) = line.split_once(" - ") else { continue };
        let fields: Vec<&str> = before.split(' ').collect();
        let rest: Vec<&str> = after.split(' ').collect();
        let (Some(root), Some(point), Some(fstype)) = (fields.get(3), fields.get(4), rest.first()) else { continue };
        let v2 = match *fstype {
            "cgroup2" => true,
            "cgroup" => false,
            _ => continue,
        };
        let options = rest.get(2).map_or_else(Vec::new, |o| o.split(',').map(String::from).collect());
        mounts.push(CgroupMount { point: PathBuf::from(unescape(point)), root: unescape(root), v2, options });
    }
    mounts
}

/// Undoes mountinfo's octal escapes (`\040` for a space).
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .and_then(|d| std::str::from_utf8(d).ok())
            .and_then(|d| u8::from_str_radix(d, 8).ok());
        match (bytes[i], octal) {
            (b'\\', Some(byte)) => {
                out.push(byte);
                i += 4;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One line of `/proc/<pid>/cgroup`: the hierarchy's controllers (empty
/// for v2's) and the process's cgroup in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    pub controllers: Vec<String>,
    pub path: String,
}

/// The lines of a `/proc/<pid>/cgroup` text.
pub fn memberships(text: &str) -> Vec<Membership> {
    text.lines()
        .filter_map(|line| {
            // "4:memory:/a/b", "2:cpu,cpuacct:/", "0::/user.slice"
            let mut parts = line.splitn(3, ':');
            let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
            let controllers = controllers.split(',').filter(|c| !c.is_empty()).map(String::from).collect();
            Some(Membership { controllers, path: path.to_string() })
        })
        .collect()
}

/// The directory of cgroup `path` (as `/proc/<pid>/cgroup` gives it) in
/// the hierarchy mounted at `mount` from `root`; `None` if that mount
/// does not show it.
pub fn dir_of(mount: &Path, root: &str, path: &str) -> Option<PathBuf> {
    let relative = if root == "/" { Some(path) } else { path.strip_prefix(root) }?;
    if !relative.is_empty() && !relative.starts_with('/') {
        return None;
    }
    Some(mount.join(relative.trim_start_matches('/')))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_v1_and_v2_mounts() {
        let text = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:7 - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 /docker/abc /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
41 31 0:38 / /sys/fs/cgroup/my\\040dir rw,relatime - cgroup2 cgroup2 rw,nsdelegate
22 1 8:1 / / rw - ext4 /dev/sda1 rw";
        let mounts = cgroup_mounts(text);
        assert_eq!(mounts.len(), 3);
        assert_eq!(mounts[0].point, PathBuf::from("/sys/fs/cgroup/cpu,cpuacct"));
        assert_eq!(mounts[0].options, ["rw", "cpu", "cpuacct"]);
        assert!(!mounts[0].v2);
        assert_eq!(mounts[1].root, "/docker/abc");
        assert_eq!(mounts[2].point, PathBuf::from("/sys/fs/cgroup/my dir"));
        assert!(mounts[2].v2);
    }

    #[test]
    fn reads_a_process_s_cgroups() {
        let lines = memberships("4:memory:/process_api/e7\n2:cpu,cpuacct:/\n9:name=systemd:/\n0::/user.slice\n");
        assert_eq!(lines[0], Membership { controllers: vec!["memory".into()], path: "/process_api/e7".into() });
        assert_eq!(lines[1].controllers, ["cpu", "cpuacct"]);
        assert_eq!(lines[3], Membership { controllers: vec![], path: "/user.slice".into() });
    }

    #[test]
    fn maps_a_cgroup_to_its_directory() {
        let mount = Path::new("/sys/fs/cgroup/memory");
        assert_eq!(dir_of(mount, "/", "/a/b"), Some(mount.join("a/b")));
        assert_eq!(dir_of(mount, "/", "/"), Some(mount.to_path_buf()));
        assert_eq!(dir_of(mount, "/docker/x", "/docker/x/t"), Some(mount.join("t")));
        assert_eq!(dir_of(mount, "/docker/x", "/docker/x"), Some(mount.to_path_buf()));
        assert_eq!(dir_of(mount, "/docker/x", "/docker/xy"), None);
        assert_eq!(dir_of(mount, "/docker/x", "/other"), None);
    }
}
