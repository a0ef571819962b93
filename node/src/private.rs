//! The data dir and the control socket, private from the first moment:
//! the data dir holds the node's key and the raft log (mode 0700), the
//! socket gives full admin rights (mode 0600).
//!
//! A directory the daemon did not make is taken only if it is the
//! daemon's own (its uid) and empty or a shoal data dir already; its
//! mode is then made 0700 with a line in the log saying so. Anything else
//! (`--data-dir /tmp`, someone else's folder) is refused rather than
//! changed.

use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::Path;

use crate::{NodeError, Result};
use tokio::net::UnixListener;
use tracing::info;

/// What a shoal data dir holds (any of it marks one).
const MARKS: &[&str] = &["node.json", "lock", "raft", "certificates", "worker", "shoal.sock", "docker.sock"];

/// Makes `dir` (mode 0700), or takes an existing one as described above.
pub fn data_dir(dir: &Path) -> Result<()> {
    let meta = match std::fs::metadata(dir) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|e| NodeError::io("--data-dir: cannot create", dir, e));
        }
        Err(e) => return Err(NodeError::io("--data-dir: cannot read", dir, e)),
    };
    if !meta.is_dir() {
        return Err(NodeError::Refused(format!("--data-dir: {} is not a directory", dir.display())));
    }
    let uid = nix::unistd::geteuid().as_raw();
    if meta.uid() != uid {
        return Err(NodeError::Refused(format!(
            "--data-dir: {} belongs to uid {}, and this daemon runs as uid {uid}: give it a directory of its own",
            dir.display(),
            meta.uid()
        )));
    }
    let mode = meta.mode() & 0o7777;
    if mode == 0o700 {
        return Ok(());
    }
    let entries: Vec<String> = std::fs::read_dir(dir)
        .map_err(|e| NodeError::io("--data-dir: cannot read", dir, e))?
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect();
    if !entries.is_empty() && !entries.iter().any(|e| MARKS.contains(&e.as_str())) {
        return Err(NodeError::Refused(format!(
            "--data-dir: {} is not empty and holds no shoal data (mode {mode:04o}): give an empty or new \
             directory (the daemon makes it private, mode 0700)",
            dir.display()
        )));
    }
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .map_err(|e| NodeError::io("--data-dir: cannot make private", dir, e))?;
    info!(data_dir = %dir.display(), "made the data dir private: mode {mode:04o} -> 0700");
    Ok(())
}

/// Listens on a unix socket at `path` that is mode 0600 from the start:
/// it is bound in a fresh private folder beside `path`, given its mode
/// there, then moved into place.
pub fn socket(path: &Path) -> Result<UnixListener> {
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().ok_or_else(|| NodeError::Refused("the socket path names no file".into()))?;
    let staging = parent.join(format!(".{}.{}", name.to_string_lossy(), std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::DirBuilder::new().mode(0o700).create(&staging).map_err(|e| NodeError::io("cannot create", &staging, e))?;
    let bound = (|| {
        let staged = staging.join("sock");
        let listener = UnixListener::bind(&staged)?;
        std::fs::set_permissions(&staged, std::fs::Permissions::from_mode(0o600))?;
        let _ = std::fs::remove_file(path);
        std::fs::rename(&staged, path)?;
        Ok::<_, std::io::Error>(listener)
    })();
    let _ = std::fs::remove_dir_all(&staging);
    bound.map_err(|e| NodeError::io("cannot listen on", path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().mode() & 0o7777
    }

    #[test]
    fn a_foreign_folder_is_refused_a_new_or_own_one_made_private() {
        let root = tempfile::tempdir().unwrap();
        let new = root.path().join("a/b");
        data_dir(&new).unwrap();
        assert_eq!(mode(&new), 0o700);

        let foreign = root.path().join("foreign");
        std::fs::create_dir(&foreign).unwrap();
        std::fs::write(foreign.join("notes.txt"), "mine").unwrap();
        std::fs::set_permissions(&foreign, std::fs::Permissions::from_mode(0o755)).unwrap();
        let err = data_dir(&foreign).unwrap_err().to_string();
        assert!(err.contains("not empty and holds no shoal data (mode 0755)"), "{err}");
        assert_eq!(mode(&foreign), 0o755, "left as it was");

        let ours = root.path().join("ours");
        std::fs::create_dir(&ours).unwrap();
        std::fs::write(ours.join("node.json"), "{}").unwrap();
        std::fs::set_permissions(&ours, std::fs::Permissions::from_mode(0o755)).unwrap();
        data_dir(&ours).unwrap();
        assert_eq!(mode(&ours), 0o700);

        let file = root.path().join("file");
        std::fs::write(&file, "").unwrap();
        assert!(data_dir(&file).unwrap_err().to_string().contains("is not a directory"));
    }

    #[tokio::test]
    async fn the_socket_is_private_when_it_appears() {
        let root = tempfile::tempdir().unwrap();
        let path = root.path().join("s.sock");
        std::fs::write(&path, "stale").unwrap();
        let _listener = socket(&path).unwrap();
        assert_eq!(mode(&path), 0o600);
        assert!(std::os::unix::fs::FileTypeExt::is_socket(&std::fs::metadata(&path).unwrap().file_type()));
        let left: Vec<_> = std::fs::read_dir(root.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left, vec![std::ffi::OsString::from("s.sock")], "no staging folder left");
    }
}
