//! `--secret` and `--config` as the Docker CLI takes them: a name, or
//! comma-separated fields `source`/`src`, `target`, `uid`, `gid`, `mode`.
//! The mode is read as octal (`0400`, `400`) whatever its leading digit:
//! Docker reads `400` as decimal 400, which is never what was meant.

use shoal_proto::FileReference;

/// Parses one `--secret` / `--config` value. The source goes in `id` and
/// `name` as given: the manager resolves it.
pub fn parse(text: &str) -> Result<FileReference, String> {
    let mut r = FileReference::default();
    if !text.contains('=') {
        (r.id, r.name) = (text.to_string(), text.to_string());
        return non_empty(r, text);
    }
    for field in super::mount::fields(text)? {
        let Some((key, value)) = field.split_once('=') else {
            return Err(format!("expected KEY=VALUE fields (source, target, uid, gid, mode), got {field:?}"));
        };
        let number = |v: &str| v.parse::<u32>().map_err(|_| format!("{key}: expected a number, got {v:?}"));
        match key.trim() {
            "source" | "src" => (r.id, r.name) = (value.to_string(), value.to_string()),
            "target" => r.target = value.to_string(),
            "uid" => r.uid = number(value)?,
            "gid" => r.gid = number(value)?,
            "mode" => {
                let mode = u32::from_str_radix(value, 8)
                    .ok()
                    .filter(|m| *m <= 0o777)
                    .ok_or_else(|| format!("mode: expected permission bits in octal like 0400, got {value:?}"))?;
                r.mode = Some(mode);
            }
            other => return Err(format!("unknown field {other:?} (expected source, target, uid, gid, mode)")),
        }
    }
    non_empty(r, text)
}

fn non_empty(r: FileReference, text: &str) -> Result<FileReference, String> {
    if r.id.is_empty() {
        return Err(format!("source: a name is required, got {text:?}"));
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_long_forms() {
        let r = parse("db_pw").unwrap();
        assert_eq!((r.id.as_str(), r.name.as_str(), r.target.as_str(), r.mode), ("db_pw", "db_pw", "", None));
        let r = parse("source=cert,target=/etc/ssl/cert.pem,uid=101,gid=102,mode=0400").unwrap();
        assert_eq!(
            (r.name.as_str(), r.target.as_str(), r.uid, r.gid, r.mode),
            ("cert", "/etc/ssl/cert.pem", 101, 102, Some(0o400))
        );
        assert_eq!(parse("src=a,mode=440").unwrap().mode, Some(0o440));
    }

    #[test]
    fn bad_fields_are_named() {
        assert_eq!(
            parse("source=a,mode=999").unwrap_err(),
            "mode: expected permission bits in octal like 0400, got \"999\""
        );
        assert_eq!(
            parse("source=a,mode=1777").unwrap_err(),
            "mode: expected permission bits in octal like 0400, got \"1777\""
        );
        assert_eq!(parse("source=a,uid=root").unwrap_err(), "uid: expected a number, got \"root\"");
        assert!(parse("target=/x").unwrap_err().starts_with("source: a name is required"));
        assert!(parse("source=a,owner=1").unwrap_err().starts_with("unknown field \"owner\""));
        assert!(parse("").is_err());
    }
}
