//! Mounts of the process runtime. The worker resolves a task's mounts
//! into a plan when it prepares the task (a bind source must exist, a
//! named volume is a directory the node keeps under its data dir, every
//! target must exist, a directory, or a file for a file's bind: the task
//! has no root filesystem of its own; only `/run/secrets`, in memory, is
//! made when missing); the
//! shim carries the plan out in a mount namespace of its own, private,
//! so the task sees its mounts and the node does not.

use std::path::{Path, PathBuf};

use nix::mount::{MsFlags, mount};
use nix::sched::{CloneFlags, unshare};
use serde::{Deserialize, Serialize};
use shoal_proto::{Mount, MountType};

/// One mount to make: `source` bound at `target`, or a tmpfs (no source)
/// with its `size=`/`mode=` options.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MountPlan {
    pub source: Option<PathBuf>,
    pub target: PathBuf,
    pub read_only: bool,
    #[serde(default)]
    pub tmpfs: Option<String>,
}

/// Resolves `mounts`; named volumes live in `volumes_dir` (created as
/// needed).
pub fn plan(mounts: &[Mount], volumes_dir: &Path) -> Result<Vec<MountPlan>, String> {
    let mut plans = Vec::new();
    for m in mounts {
        let target = PathBuf::from(&m.target);
        let file_bind = m.r#type() == MountType::Bind && Path::new(&m.source).is_file();
        if m.target == shoal_spec::files::SECRETS_DIR && !target.exists() {
            std::fs::create_dir_all(&target).map_err(|e| format!("creating {}: {e}", m.target))?;
        }
        if file_bind && !target.is_file() {
            return Err(format!(
                "mount target {} is not a file on this node: the process runtime mounts a secret or config over \
                 an existing file (or use the docker runtime)",
                m.target
            ));
        }
        if !file_bind && !target.is_dir() {
            return Err(format!("mount target {} does not exist on this node (or is not a directory)", m.target));
        }
        let source = match m.r#type() {
            MountType::Bind => {
                if let Some(b) = &m.bind_options
                    && !matches!(b.propagation.as_str(), "" | "private" | "rprivate")
                {
                    return Err(format!(
                        "bind {}: propagation {} needs the docker runtime (a process task's mounts are private to it)",
                        m.source, b.propagation
                    ));
                }
                let source = PathBuf::from(&m.source);
                if !source.exists() {
                    return Err(format!("bind source {} does not exist on this node", m.source));
                }
                Some(source)
            }
            MountType::Volume => {
                if m.source.is_empty() {
                    return Err(format!(
                        "anonymous volume at {}: needs the docker runtime (or give the volume a name)",
                        m.target
                    ));
                }
                if let Some(v) = &m.volume_options
                    && (!matches!(v.driver.as_str(), "" | "local") || !v.driver_options.is_empty())
                {
                    return Err(format!(
                        "volume {}: a volume driver and its options need the docker runtime (a process task's \
                         volume is a directory of the node)",
                        m.source
                    ));
                }
                let dir = volumes_dir.join(&m.source);
                std::fs::create_dir_all(&dir).map_err(|e| format!("creating volume {}: {e}", m.source))?;
                Some(dir)
            }
            MountType::Tmpfs => None,
        };
        let tmpfs = m.tmpfs_options.as_ref().map(tmpfs_data).filter(|data| !data.is_empty());
        plans.push(MountPlan { source, target, read_only: m.read_only, tmpfs });
    }
    Ok(plans)
}

/// The tmpfs mount's data: `size=BYTES,mode=OCTAL`, each when asked.
fn tmpfs_data(t: &shoal_proto::TmpfsOptions) -> String {
    let size = (t.size_bytes > 0).then(|| format!("size={}", t.size_bytes));
    let mode = (t.mode > 0).then(|| format!("mode={:o}", t.mode));
    [size, mode].into_iter().flatten().collect::<Vec<_>>().join(",")
}

/// Makes the mounts in a new mount namespace of this process (the shim,
/// before it starts the task: the task inherits it).
pub fn apply(plans: &[MountPlan]) -> Result<(), String> {
    if plans.is_empty() {
        return Ok(());
    }
    unshare(CloneFlags::CLONE_NEWNS).map_err(|e| format!("creating the task's mount namespace: {e}"))?;
    // Nothing mounted here propagates back to the node.
    mount(None::<&str>, "/", None::<&str>, MsFlags::MS_REC | MsFlags::MS_PRIVATE, None::<&str>)
        .map_err(|e| format!("making the task's mounts private: {e}"))?;
    for p in plans {
        let what = |e: nix::Error| format!("mounting at {}: {e}", p.target.display());
        let ro = if p.read_only { MsFlags::MS_RDONLY } else { MsFlags::empty() };
        match &p.source {
            Some(source) => {
                mount(Some(source), &p.target, None::<&str>, MsFlags::MS_BIND | MsFlags::MS_REC, None::<&str>)
                    .map_err(what)?;
                if p.read_only {
                    let flags = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY;
                    mount(None::<&str>, &p.target, None::<&str>, flags, None::<&str>).map_err(what)?;
                }
            }
            None => mount(Some("tmpfs"), &p.target, Some("tmpfs"), ro, p.tmpfs.as_deref()).map_err(what)?,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mount_of(kind: MountType, source: &str, target: &str) -> Mount {
        Mount { r#type: kind as i32, source: source.into(), target: target.into(), ..Default::default() }
    }

    #[test]
    fn plans_check_what_the_node_has() {
        let dir = tempfile::tempdir().unwrap();
        let (target, volumes) = (dir.path().join("t"), dir.path().join("volumes"));
        std::fs::create_dir(&target).unwrap();
        let t = target.to_str().unwrap();
        let err = plan(&[mount_of(MountType::Bind, "/no/such/dir", t)], &volumes).unwrap_err();
        assert_eq!(err, "bind source /no/such/dir does not exist on this node");
        let err = plan(&[mount_of(MountType::Tmpfs, "", "/no/such/target")], &volumes).unwrap_err();
        assert!(err.starts_with("mount target /no/such/target does not exist"), "{err}");
        let plans =
            plan(&[mount_of(MountType::Volume, "data", t), mount_of(MountType::Tmpfs, "", t)], &volumes).unwrap();
        assert_eq!(plans[0].source.as_deref(), Some(volumes.join("data").as_path()));
        assert!(volumes.join("data").is_dir(), "the volume is created");
        assert_eq!(plans[1].source, None);
        assert_eq!(plans[1].tmpfs, None);
    }

    #[test]
    fn tmpfs_options_are_its_data_and_volume_drivers_need_docker() {
        let dir = tempfile::tempdir().unwrap();
        let t = dir.path().to_str().unwrap();
        let mut tmpfs = mount_of(MountType::Tmpfs, "", t);
        tmpfs.tmpfs_options = Some(shoal_proto::TmpfsOptions { size_bytes: 1 << 20, mode: 0o1770 });
        let plans = plan(&[tmpfs], dir.path()).unwrap();
        assert_eq!(plans[0].tmpfs.as_deref(), Some("size=1048576,mode=1770"));
        let mut volume = mount_of(MountType::Volume, "db", t);
        volume.volume_options = Some(shoal_proto::VolumeOptions { driver: "nfs".into(), ..Default::default() });
        let err = plan(&[volume.clone()], dir.path()).unwrap_err();
        assert!(err.starts_with("volume db: a volume driver and its options need the docker runtime"), "{err}");
        volume.volume_options = Some(shoal_proto::VolumeOptions { no_copy: true, ..Default::default() });
        assert!(plan(&[volume], dir.path()).is_ok(), "labels and nocopy mean nothing here");
        let err = plan(&[mount_of(MountType::Volume, "", t)], dir.path()).unwrap_err();
        assert!(err.starts_with("anonymous volume at "), "{err}");
        let mut bind = mount_of(MountType::Bind, t, t);
        bind.bind_options = Some(shoal_proto::BindOptions { propagation: "rshared".into() });
        let err = plan(&[bind.clone()], dir.path()).unwrap_err();
        assert!(
            err.ends_with("propagation rshared needs the docker runtime (a process task's mounts are private to it)")
        );
        bind.bind_options = Some(shoal_proto::BindOptions { propagation: "rprivate".into() });
        assert!(plan(&[bind], dir.path()).is_ok());
    }
}
