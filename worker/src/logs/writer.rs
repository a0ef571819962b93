//! Writing a task's log with Docker's json-file limits: once the current
//! file would pass `max-size`, it becomes `log.1` (`log.1` becomes
//! `log.2`, and so on), and the oldest beyond `max-file` files goes.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use shoal_proto::logging::LogLimits;

use super::files::rotated;

/// The task's current log file.
pub struct LogWriter {
    path: PathBuf,
    limits: LogLimits,
    out: BufWriter<File>,
    size: u64,
}

impl LogWriter {
    /// Appends to the log at `path` (created if missing).
    pub fn open(path: &Path, limits: LogLimits) -> io::Result<LogWriter> {
        let file = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
        let size = file.metadata()?.len();
        Ok(LogWriter { path: path.to_path_buf(), limits, out: BufWriter::new(file), size })
    }

    /// Writes one record, rotating first if it would pass the limit.
    pub fn write(&mut self, record: &[u8]) -> io::Result<()> {
        if let Some(max) = self.limits.max_size
            && self.size > 0
            && self.size + record.len() as u64 > max
        {
            self.rotate()?;
        }
        self.out.write_all(record)?;
        self.size += record.len() as u64;
        Ok(())
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    fn rotate(&mut self) -> io::Result<()> {
        self.out.flush()?;
        let files = self.limits.max_files.max(1);
        if files == 1 {
            std::fs::remove_file(&self.path)?;
        }
        for n in (1..files).rev() {
            match std::fs::rename(rotated(&self.path, n - 1), rotated(&self.path, n)) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        let file = std::fs::OpenOptions::new().create(true).append(true).open(&self.path)?;
        self.out = BufWriter::new(file);
        self.size = 0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_rotates_at_its_size_and_keeps_its_files() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        let mut writer = LogWriter::open(&log, LogLimits { max_size: Some(10), max_files: 3 }).unwrap();
        for record in ["aaaa\n", "bbbb\n", "cccc\n", "dddd\n", "eeee\n", "ffff\n", "gggg\n"] {
            writer.write(record.as_bytes()).unwrap();
        }
        writer.flush().unwrap();
        let read = |n| std::fs::read_to_string(rotated(&log, n)).unwrap();
        assert_eq!((read(2).as_str(), read(1).as_str(), read(0).as_str()), ("cccc\ndddd\n", "eeee\nffff\n", "gggg\n"));
        assert!(!rotated(&log, 3).exists(), "the oldest went");

        let single = dir.path().join("single");
        let mut writer = LogWriter::open(&single, LogLimits { max_size: Some(6), max_files: 1 }).unwrap();
        for record in ["aaaa\n", "bbbb\n"] {
            writer.write(record.as_bytes()).unwrap();
        }
        writer.flush().unwrap();
        assert_eq!(std::fs::read_to_string(&single).unwrap(), "bbbb\n");
        assert!(!rotated(&single, 1).exists());

        let unlimited = dir.path().join("unlimited");
        let mut writer = LogWriter::open(&unlimited, LogLimits { max_size: None, max_files: 3 }).unwrap();
        for _ in 0..100 {
            writer.write(b"0123456789\n").unwrap();
        }
        writer.flush().unwrap();
        assert_eq!(std::fs::metadata(&unlimited).unwrap().len(), 1100);
    }
}
