//! Files replaced whole: readers see the old content or the new, never
//! part. Writers may race (joining and the role follower both save the
//! membership; renewal and a role change both save certificates): each
//! writes a temporary file of its own, and they rename one at a time.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use anyhow::{Context, Result};

/// Replaces `path` with `data`, with permission bits `mode`.
pub fn write(path: &Path, data: &[u8], mode: u32) -> Result<()> {
    static RENAMING: parking_lot::Mutex<()> = parking_lot::Mutex::new(());
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.{:016x}.tmp", rand::random::<u64>()));
    let _one_at_a_time = RENAMING.lock();
    std::fs::write(&tmp, data).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(mode))?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))
}
