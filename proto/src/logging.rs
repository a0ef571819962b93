//! How much of a task's output a node keeps: Docker's json-file options
//! (`--log-opt max-size=10m --log-opt max-file=3`) read from the task
//! spec's [`LogDriver`]. Without options a task keeps at most three files
//! of 10 MiB (Docker keeps everything by default; a task that logs
//! without end would fill its node).

use crate::LogDriver;

/// The one log driver: output kept on the node, read by `service logs`.
pub const JSON_FILE: &str = "json-file";
/// Largest log file of a task unless its service says otherwise.
pub const DEFAULT_MAX_SIZE: u64 = 10 << 20;
/// Log files kept per task (the current one and the rotated ones).
pub const DEFAULT_MAX_FILES: u32 = 3;
/// Most log files a task may keep.
pub const MAX_FILES: u32 = 100;

/// What a node keeps of a task's output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogLimits {
    /// Bytes per file before it rotates; `None`: one file, never rotated.
    pub max_size: Option<u64>,
    /// Files kept, the current one included.
    pub max_files: u32,
}

impl Default for LogLimits {
    fn default() -> Self {
        LogLimits { max_size: Some(DEFAULT_MAX_SIZE), max_files: DEFAULT_MAX_FILES }
    }
}

impl LogLimits {
    /// The limits a task spec's log driver sets (`None`: the defaults);
    /// an error names the option and what was expected.
    pub fn of(driver: Option<&LogDriver>) -> Result<LogLimits, String> {
        let Some(driver) = driver else { return Ok(LogLimits::default()) };
        if !driver.name.is_empty() && driver.name != JSON_FILE {
            return Err(format!("--log-driver: only {JSON_FILE} is supported, got {:?}", driver.name));
        }
        let mut limits = LogLimits::default();
        for (key, value) in &driver.options {
            match key.as_str() {
                "max-size" if value.trim() == "-1" => limits.max_size = None,
                "max-size" => {
                    let size = crate::parse_size(value).map_err(|e| format!("--log-opt max-size: {e}"))?;
                    limits.max_size = (size > 0).then_some(size as u64);
                }
                "max-file" => {
                    let files = value.trim().parse::<u32>().ok().filter(|n| (1..=MAX_FILES).contains(n));
                    limits.max_files = files.ok_or_else(|| {
                        format!("--log-opt max-file: expected a number from 1 to {MAX_FILES}, got {value:?}")
                    })?;
                }
                other => {
                    return Err(format!(
                        "--log-opt: unknown option {other:?} (the {JSON_FILE} driver takes max-size and max-file)"
                    ));
                }
            }
        }
        Ok(limits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn driver(name: &str, options: &[(&str, &str)]) -> LogDriver {
        LogDriver { name: name.into(), options: options.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect() }
    }

    #[test]
    fn options_are_read_as_docker_reads_them() {
        assert_eq!(LogLimits::of(None), Ok(LogLimits::default()));
        let limits = LogLimits::of(Some(&driver("json-file", &[("max-size", "1k"), ("max-file", "5")]))).unwrap();
        assert_eq!(limits, LogLimits { max_size: Some(1024), max_files: 5 });
        let unlimited = LogLimits::of(Some(&driver("", &[("max-size", "-1")]))).unwrap();
        assert_eq!(unlimited.max_size, None);
        let err = |d: LogDriver| LogLimits::of(Some(&d)).unwrap_err();
        assert_eq!(err(driver("syslog", &[])), "--log-driver: only json-file is supported, got \"syslog\"");
        assert!(err(driver("", &[("max-file", "0")])).starts_with("--log-opt max-file: expected a number"));
        assert!(err(driver("", &[("max-size", "big")])).starts_with("--log-opt max-size: expected a size"));
        assert!(err(driver("", &[("tag", "x")])).starts_with("--log-opt: unknown option \"tag\""));
    }
}
