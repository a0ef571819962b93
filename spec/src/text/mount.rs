//! `--mount` as the Docker CLI takes it: comma-separated `KEY=VALUE`
//! fields, a field in double quotes when its value holds a comma
//! (`"volume-opt=o=addr=10.0.0.1,rw"`).
//!
//! - `type=bind|volume|tmpfs` (volume when absent), `source`/`src`,
//!   `target`/`destination`/`dst`, `readonly`/`ro` (bare or `=true|false`);
//! - volumes: `volume-driver`, `volume-opt=KEY=VALUE` and
//!   `volume-label=KEY=VALUE` (repeated), `volume-nocopy`;
//! - tmpfs: `tmpfs-size` (`64m`), `tmpfs-mode` (octal, `1770`);
//! - binds: `bind-propagation` (`rslave`...).

use shoal_proto::{BindOptions, Mount, MountType, TmpfsOptions, VolumeOptions};

/// Parses one `--mount` value.
pub fn parse(text: &str) -> Result<Mount, String> {
    let mut m = Mount { r#type: MountType::Volume as i32, ..Default::default() };
    let mut volume = VolumeOptions::default();
    let mut tmpfs = TmpfsOptions::default();
    let mut bind = BindOptions::default();
    let (mut volume_keys, mut tmpfs_keys, mut bind_keys) = (Vec::new(), Vec::new(), Vec::new());
    for field in fields(text)? {
        let (key, value) = field.split_once('=').map_or((field.as_str(), None), |(k, v)| (k, Some(v)));
        let key = key.trim();
        let flag = |value: Option<&str>| match value {
            None | Some("true" | "1") => Ok(true),
            Some("false" | "0") => Ok(false),
            Some(other) => Err(format!("{key}: expected true or false, got {other:?}")),
        };
        let pair = |value: Option<&str>| match value.and_then(|v| v.split_once('=')) {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            _ => Err(format!("{key}: expected {key}=KEY=VALUE, got {field:?}")),
        };
        if key.starts_with("volume-") {
            volume_keys.push(key.to_string());
        } else if key.starts_with("tmpfs-") {
            tmpfs_keys.push(key.to_string());
        } else if key.starts_with("bind-") {
            bind_keys.push(key.to_string());
        }
        match (key, value) {
            ("type", Some(kind)) => {
                m.r#type = MountType::from_name(kind)
                    .ok_or_else(|| format!("type: expected bind, volume or tmpfs, got {kind:?}"))?
                    as i32;
            }
            ("source" | "src", Some(v)) => m.source = v.to_string(),
            ("target" | "destination" | "dst", Some(v)) => m.target = v.to_string(),
            ("readonly" | "ro", value) => m.read_only = flag(value)?,
            ("volume-driver", Some(v)) => volume.driver = v.to_string(),
            ("volume-nocopy", value) => volume.no_copy = flag(value)?,
            ("volume-opt", value) => {
                let (k, v) = pair(value)?;
                volume.driver_options.insert(k, v);
            }
            ("volume-label", value) => {
                let (k, v) = pair(value)?;
                volume.labels.insert(k, v);
            }
            ("tmpfs-size", Some(v)) => {
                tmpfs.size_bytes = shoal_proto::parse_size(v).map_err(|e| format!("tmpfs-size: {e}"))?;
            }
            ("tmpfs-mode", Some(v)) => {
                tmpfs.mode = u32::from_str_radix(v, 8)
                    .ok()
                    .filter(|mode| *mode <= 0o7777)
                    .ok_or_else(|| format!("tmpfs-mode: expected octal permission bits like 1770, got {v:?}"))?;
            }
            ("bind-propagation", Some(v)) => {
                bind.propagation = shoal_proto::bind_propagation(v).map_err(|e| format!("bind-propagation: {e}"))?;
            }
            (key, _) => {
                return Err(format!(
                    "unknown or malformed field {key:?} (expected type, source, target, readonly, volume-driver, \
                     volume-opt, volume-label, volume-nocopy, tmpfs-size, tmpfs-mode, bind-propagation): {text:?}"
                ));
            }
        }
    }
    if m.target.is_empty() {
        return Err(format!("target is required: {text:?}"));
    }
    let kind = m.r#type();
    // Docker's rule: options of one type of mount never ride on another.
    for (keys, of) in
        [(&volume_keys, MountType::Volume), (&tmpfs_keys, MountType::Tmpfs), (&bind_keys, MountType::Bind)]
    {
        if let Some(key) = keys.first()
            && kind != of
        {
            return Err(format!("{key}: only a {} mount takes it, this one is {}", of.name(), kind.name()));
        }
    }
    match kind {
        MountType::Volume if volume != VolumeOptions::default() => m.volume_options = Some(volume),
        MountType::Tmpfs if tmpfs != TmpfsOptions::default() => m.tmpfs_options = Some(tmpfs),
        MountType::Bind if bind != BindOptions::default() => m.bind_options = Some(bind),
        _ => {}
    }
    Ok(m)
}

/// The comma-separated fields of `text`, a double-quoted stretch kept
/// whole (the quotes dropped), as Go's CSV reader splits them for Docker.
pub(super) fn fields(text: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    for c in text.chars() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(std::mem::take(&mut field)),
            c => field.push(c),
        }
    }
    if quoted {
        return Err(format!("unterminated quote: {text:?}"));
    }
    out.push(field);
    Ok(out.into_iter().filter(|f| !f.is_empty()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_keys_and_aliases() {
        let m = parse("type=bind,src=/a,dst=/b,ro").unwrap();
        assert_eq!(
            (m.r#type(), m.source.as_str(), m.target.as_str(), m.read_only),
            (MountType::Bind, "/a", "/b", true)
        );
        assert!(!parse("type=bind,src=/a,dst=/b,readonly=false").unwrap().read_only);
        assert_eq!(parse("target=/t").unwrap().r#type(), MountType::Volume);
        assert!(parse("type=nfs,target=/t").unwrap_err().starts_with("type: expected"));
        assert!(parse("type=bind,source=/a").unwrap_err().starts_with("target is required"));
        assert!(parse("type=bind,size=1,target=/t").unwrap_err().contains("\"size\""));
        assert!(parse("type=bind,ro=maybe,target=/t").unwrap_err().starts_with("ro: expected true or false"));
    }

    #[test]
    fn volume_options() {
        let m = parse(
            r#"source=db,target=/d,volume-driver=local,volume-opt=type=tmpfs,"volume-opt=o=size=1m,uid=1",volume-label=team=a,volume-nocopy"#,
        )
        .unwrap();
        let v = m.volume_options.unwrap();
        assert_eq!(v.driver, "local");
        assert_eq!(v.driver_options.get("type").map(String::as_str), Some("tmpfs"));
        assert_eq!(v.driver_options.get("o").map(String::as_str), Some("size=1m,uid=1"), "a quoted comma");
        assert_eq!(v.labels.get("team").map(String::as_str), Some("a"));
        assert!(v.no_copy);
        assert!(parse("source=db,target=/d").unwrap().volume_options.is_none());
        assert_eq!(
            parse("source=db,target=/d,volume-opt=novalue").unwrap_err(),
            "volume-opt: expected volume-opt=KEY=VALUE, got \"volume-opt=novalue\""
        );
        assert_eq!(
            parse("type=bind,source=/a,target=/d,volume-nocopy").unwrap_err(),
            "volume-nocopy: only a volume mount takes it, this one is bind"
        );
        assert!(parse("target=/d,\"volume-opt=o=x").unwrap_err().starts_with("unterminated quote"));
    }

    #[test]
    fn tmpfs_options() {
        let t = parse("type=tmpfs,target=/t,tmpfs-size=64m,tmpfs-mode=1770").unwrap().tmpfs_options.unwrap();
        assert_eq!((t.size_bytes, t.mode), (64 << 20, 0o1770));
        assert!(parse("type=tmpfs,target=/t,tmpfs-mode=999").unwrap_err().starts_with("tmpfs-mode: expected octal"));
        assert!(parse("type=tmpfs,target=/t,tmpfs-size=lots").unwrap_err().starts_with("tmpfs-size: expected a size"));
        assert_eq!(
            parse("source=v,target=/t,tmpfs-size=1m").unwrap_err(),
            "tmpfs-size: only a tmpfs mount takes it, this one is volume"
        );
    }

    #[test]
    fn bind_propagation() {
        let b = parse("type=bind,src=/a,dst=/b,bind-propagation=rslave").unwrap().bind_options.unwrap();
        assert_eq!(b.propagation, "rslave");
        assert!(
            parse("type=bind,src=/a,dst=/b,bind-propagation=up").unwrap_err().starts_with("bind-propagation: expected")
        );
        assert_eq!(
            parse("source=v,target=/t,bind-propagation=shared").unwrap_err(),
            "bind-propagation: only a bind mount takes it, this one is volume"
        );
    }
}
