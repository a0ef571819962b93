//! Files replaced whole: readers see the old content or the new, never
//! part. Writers may race (joining holds the daemon's `changing` lock, but
//! the role follower saves a new manager list without it): each writes a
//! temporary file of its own, and they rename one at a time.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::{NodeError, Result};

/// Replaces `path` with `data`, with permission bits `mode`.
pub fn write(path: &Path, data: &[u8], mode: u32) -> Result<()> {
    static RENAMING: parking_lot::Mutex<()> = parking_lot::Mutex::new(());
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.{:016x}.tmp", rand::random::<u64>()));
    let _one_at_a_time = RENAMING.lock();
    let written = std::fs::write(&tmp, data)
        .and_then(|()| std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(mode)))
        .and_then(|()| std::fs::rename(&tmp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written.map_err(|e| NodeError::io("writing", path, e))
}

/// Deletes `path`; one already gone is no error.
pub fn remove(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(NodeError::io("removing", path, e)),
        _ => Ok(()),
    }
}
