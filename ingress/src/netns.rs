//! Named network namespaces, kept as `ip netns` keeps them: an empty file
//! under [`DIR`] with the namespace bind-mounted over it, so it lives
//! with no process in it and `ip netns list` shows it.
//!
//! Entering a namespace changes only the calling thread, so work done
//! inside one runs on a thread of its own ([`run_in`]); a socket opened
//! there stays in that namespace after the thread is gone.

use std::fs::File;
use std::path::{Path, PathBuf};

use nix::mount::{MntFlags, MsFlags, mount, umount2};
use nix::sched::{CloneFlags, setns, unshare};

/// Where named namespaces live.
pub const DIR: &str = "/run/netns";

/// Why a namespace could not be made, entered or removed.
#[derive(Debug, thiserror::Error)]
pub enum NetnsError {
    #[error("{what} {path}: {source}")]
    Io { what: &'static str, path: PathBuf, source: std::io::Error },
    #[error("{what} {path}: {source}")]
    Sys { what: &'static str, path: PathBuf, source: nix::Error },
    #[error("a thread working in namespace {0} panicked")]
    Panicked(PathBuf),
}

/// The path of namespace `name`.
pub fn path(name: &str) -> PathBuf {
    Path::new(DIR).join(name)
}

/// The file namespace `name` is mounted on, made empty; `None` when the
/// namespace is already there.
fn mount_point(name: &str) -> Result<Option<PathBuf>, NetnsError> {
    let path = path(name);
    if is_namespace(&path) {
        return Ok(None);
    }
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| NetnsError::Io { what: "creating", path, source }
    };
    std::fs::create_dir_all(DIR).map_err(io(Path::new(DIR)))?;
    File::create(&path).map_err(io(&path))?;
    Ok(Some(path))
}

/// Names the namespace at `existing` (e.g. `/proc/PID/ns/net` of a
/// container's process) `name`: it lives on under that name once the
/// process is gone. An existing `name` is kept.
pub fn pin(name: &str, existing: &Path) -> Result<PathBuf, NetnsError> {
    let Some(path) = mount_point(name)? else { return Ok(path(name)) };
    if let Err(source) = mount(Some(existing), &path, None::<&str>, MsFlags::MS_BIND, None::<&str>) {
        let _ = std::fs::remove_file(&path);
        return Err(NetnsError::Sys { what: "mounting the network namespace at", path, source });
    }
    Ok(path)
}

/// Makes namespace `name` (an existing one is kept) and returns its path.
pub fn create(name: &str) -> Result<PathBuf, NetnsError> {
    let Some(path) = mount_point(name)? else { return Ok(path(name)) };
    let target = path.clone();
    let made = std::thread::spawn(move || {
        let sys = |what| {
            let path = target.clone();
            move |source| NetnsError::Sys { what, path, source }
        };
        unshare(CloneFlags::CLONE_NEWNET).map_err(sys("making a network namespace for"))?;
        mount(Some("/proc/thread-self/ns/net"), &target, None::<&str>, MsFlags::MS_BIND, None::<&str>)
            .map_err(sys("mounting the network namespace at"))
    })
    .join()
    .map_err(|_| NetnsError::Panicked(path.clone()))?;
    if let Err(e) = made {
        let _ = std::fs::remove_file(&path);
        return Err(e);
    }
    Ok(path)
}

/// Removes namespace `name`; one that does not exist is not an error. The
/// namespace itself goes once no process or socket uses it any more.
pub fn remove(name: &str) -> Result<(), NetnsError> {
    let path = path(name);
    if !path.exists() {
        return Ok(());
    }
    match umount2(&path, MntFlags::MNT_DETACH) {
        Ok(()) | Err(nix::Error::EINVAL) => {}
        Err(source) => return Err(NetnsError::Sys { what: "unmounting the network namespace at", path, source }),
    }
    std::fs::remove_file(&path).map_err(|source| NetnsError::Io { what: "removing", path, source })
}

/// Whether `path` holds a mounted network namespace.
pub fn is_namespace(path: &Path) -> bool {
    let (Ok(ns), Ok(dir)) = (std::fs::metadata(path), std::fs::metadata(path.parent().unwrap_or(Path::new("/"))))
    else {
        return false;
    };
    use std::os::unix::fs::MetadataExt;
    // A bind-mounted namespace file sits on the nsfs filesystem, not on
    // the directory's.
    ns.dev() != dir.dev()
}

/// Moves the calling thread into the namespace at `path`.
pub fn enter(path: &Path) -> Result<(), NetnsError> {
    let file =
        File::open(path).map_err(|source| NetnsError::Io { what: "opening", path: path.to_path_buf(), source })?;
    setns(file, CloneFlags::CLONE_NEWNET).map_err(|source| NetnsError::Sys {
        what: "entering the network namespace",
        path: path.to_path_buf(),
        source,
    })
}

/// Runs `f` on a thread of its own inside the namespace at `path`.
pub fn run_in<T: Send + 'static>(path: &Path, f: impl FnOnce() -> T + Send + 'static) -> Result<T, NetnsError> {
    let target = path.to_path_buf();
    std::thread::spawn(move || {
        enter(&target)?;
        Ok(f())
    })
    .join()
    .map_err(|_| NetnsError::Panicked(path.to_path_buf()))?
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Namespaces need root; without it the test says so and passes.
    pub(crate) fn root() -> bool {
        let root = nix::unistd::Uid::effective().is_root();
        if !root {
            eprintln!("skipped: needs root");
        }
        root
    }

    #[test]
    fn a_namespace_is_made_entered_and_removed() {
        if !root() {
            return;
        }
        let name = format!("shoal-test-{}", std::process::id());
        let path = create(&name).unwrap();
        assert!(is_namespace(&path));
        // Made again: the same one.
        assert_eq!(create(&name).unwrap(), path);
        let inside = std::fs::read_link("/proc/thread-self/ns/net").unwrap();
        let there = run_in(&path, || std::fs::read_link("/proc/thread-self/ns/net").unwrap()).unwrap();
        assert_ne!(inside, there, "the thread ran in the other namespace");
        remove(&name).unwrap();
        assert!(!path.exists());
        remove(&name).unwrap();
    }
}
