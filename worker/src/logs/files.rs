//! Reading a task's log files: `log`, and `log.1`, `log.2`... once it
//! rotated (the higher the number, the older). The files are read through
//! handles opened up front, so a rotation while reading loses nothing;
//! `--tail` is found by scanning back from the end, and everything is
//! read in chunks of bounded size, whatever the size of the log.

use std::collections::VecDeque;
use std::fs::File;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use shoal_proto::LogLine;
use shoal_proto::logging::MAX_FILES;

use super::decode;

/// Bytes read at once.
const CHUNK: usize = 64 * 1024;

/// The path of rotated file `n` (0: the current one).
pub fn rotated(path: &Path, n: u32) -> PathBuf {
    if n == 0 {
        return path.to_path_buf();
    }
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{n}"));
    PathBuf::from(name)
}

/// One open file and how far it has been read.
struct Segment {
    file: File,
    offset: u64,
    inode: u64,
}

impl Segment {
    fn open(path: &Path) -> io::Result<Option<Segment>> {
        match File::open(path) {
            Ok(file) => {
                let inode = file.metadata()?.ino();
                Ok(Some(Segment { file, offset: 0, inode }))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn len(&self) -> io::Result<u64> {
        Ok(self.file.metadata()?.len())
    }

    fn read_at(&self, at: u64, buf: &mut [u8]) -> io::Result<usize> {
        std::os::unix::fs::FileExt::read_at(&self.file, buf, at)
    }
}

/// A task's log, read oldest record first.
pub struct LogFiles {
    task_id: String,
    /// The current file's path (`DIR/log`).
    path: PathBuf,
    /// Oldest first; the last one is the file being written, unless the
    /// log rotated since it was opened.
    segments: VecDeque<Segment>,
    /// The start of a record whose end is not written yet.
    partial: Vec<u8>,
}

impl LogFiles {
    /// Opens the task's files as they are now.
    pub fn open(task_id: &str, path: &Path) -> io::Result<LogFiles> {
        let mut segments = VecDeque::new();
        for n in (0..MAX_FILES).rev() {
            if let Some(segment) = Segment::open(&rotated(path, n))? {
                segments.push_back(segment);
            }
        }
        Ok(LogFiles { task_id: task_id.to_string(), path: path.to_path_buf(), segments, partial: Vec::new() })
    }

    /// Starts reading at the last `tail` complete records.
    pub fn seek_tail(&mut self, tail: u64) -> io::Result<()> {
        // The start of the tail is just past the (tail + 1)-th newline from
        // the end (the last newline ends the last complete record).
        let mut newlines = 0;
        let mut buf = vec![0u8; CHUNK];
        for i in (0..self.segments.len()).rev() {
            let mut end = self.segments[i].len()?;
            while end > 0 {
                let start = end.saturating_sub(CHUNK as u64);
                let n = (end - start) as usize;
                let got = self.segments[i].read_at(start, &mut buf[..n])?;
                for at in (0..got).rev() {
                    if buf[at] != b'\n' {
                        continue;
                    }
                    newlines += 1;
                    if newlines == tail + 1 {
                        self.segments.drain(..i);
                        self.segments[0].offset = start + at as u64 + 1;
                        return Ok(());
                    }
                }
                end = start;
            }
        }
        Ok(()) // fewer records than `tail`: all of them
    }

    /// The next complete records (about a chunk's worth); empty once
    /// everything written so far has been read.
    pub fn next_chunk(&mut self) -> io::Result<Vec<LogLine>> {
        let mut buf = vec![0u8; CHUNK];
        loop {
            if self.segments.is_empty() {
                // No file yet: the task has not written anything.
                match Segment::open(&self.path)? {
                    Some(segment) => self.segments.push_back(segment),
                    None => return Ok(Vec::new()),
                }
            }
            let Some(front) = self.segments.front_mut() else { continue };
            let got = front.read_at(front.offset, &mut buf)?;
            front.offset += got as u64;
            let inode = front.inode;
            if got > 0 {
                self.partial.extend_from_slice(&buf[..got]);
                let Some(end) = self.partial.iter().rposition(|b| *b == b'\n') else { continue };
                let complete: Vec<u8> = self.partial.drain(..=end).collect();
                let lines: Vec<LogLine> =
                    complete.split(|b| *b == b'\n').filter_map(|r| decode(&self.task_id, r)).collect();
                if lines.is_empty() {
                    continue;
                }
                return Ok(lines);
            }
            // At the end of this file: the next one, if the log rotated.
            if self.segments.len() > 1 {
                self.segments.pop_front();
                self.partial.clear(); // files end between records
                continue;
            }
            match Segment::open(&self.path)? {
                Some(current) if current.inode != inode => self.segments.push_back(current),
                _ => return Ok(Vec::new()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use shoal_proto::LogStream;

    use super::super::encode;
    use super::*;

    fn write(path: &Path, from: i64, to: i64) {
        let mut file = std::fs::OpenOptions::new().create(true).append(true).open(path).unwrap();
        for i in from..=to {
            file.write_all(&encode(i, LogStream::Stdout, format!("line {i}").as_bytes())).unwrap();
        }
    }

    fn drain(files: &mut LogFiles) -> Vec<i64> {
        let mut all = Vec::new();
        loop {
            let lines = files.next_chunk().unwrap();
            if lines.is_empty() {
                return all;
            }
            all.extend(lines.iter().map(|l| l.timestamp));
        }
    }

    #[test]
    fn every_file_is_read_in_order_and_the_tail_is_found_from_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        write(&rotated(&log, 2), 1, 3);
        write(&rotated(&log, 1), 4, 6);
        write(&log, 7, 9);
        assert_eq!(drain(&mut LogFiles::open("t", &log).unwrap()), (1..=9).collect::<Vec<_>>());
        for (tail, expected) in
            [(0, vec![]), (2, vec![8, 9]), (4, vec![6, 7, 8, 9]), (7, (3..=9).collect()), (50, (1..=9).collect())]
        {
            let mut files = LogFiles::open("t", &log).unwrap();
            files.seek_tail(tail).unwrap();
            assert_eq!(drain(&mut files), expected, "tail {tail}");
        }
    }

    #[test]
    fn a_rotation_while_following_loses_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        write(&log, 1, 2);
        let mut files = LogFiles::open("t", &log).unwrap();
        assert_eq!(drain(&mut files), vec![1, 2]);
        // More lines, a partial record, then the writer rotates.
        write(&log, 3, 4);
        std::fs::rename(&log, rotated(&log, 1)).unwrap();
        write(&log, 5, 5);
        assert_eq!(drain(&mut files), vec![3, 4, 5]);
        let record = encode(6, LogStream::Stdout, b"line 6");
        let mut file = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
        file.write_all(&record[..3]).unwrap();
        assert!(drain(&mut files).is_empty(), "a partial record waits for its end");
        file.write_all(&record[3..]).unwrap();
        assert_eq!(drain(&mut files), vec![6]);
    }

    #[test]
    fn a_huge_log_is_tailed_by_reading_its_end_only() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        // 8 MB of records: the tail is found in the last chunk.
        let mut file = std::io::BufWriter::new(std::fs::File::create(&log).unwrap());
        let filler = vec![b'x'; 1000];
        for i in 0..8_000 {
            file.write_all(&encode(i, LogStream::Stdout, &filler)).unwrap();
        }
        drop(file);
        let mut files = LogFiles::open("t", &log).unwrap();
        files.seek_tail(1).unwrap();
        assert!(files.segments[0].offset > 8_000_000 - 2 * CHUNK as u64);
        assert_eq!(drain(&mut files), vec![7_999]);
    }
}
