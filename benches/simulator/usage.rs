//! CPU time and resident memory of a process, from /proc.

use std::time::{Duration, Instant};

/// Clock ticks per second of /proc/PID/stat's times (Linux: always 100
/// on the kernels this runs on; `getconf CLK_TCK`).
const TICKS: f64 = 100.0;

/// The user+system CPU seconds `pid` used so far.
pub fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command (which may hold spaces) in parentheses.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of stat, 12 and 13 after ')'.
    (tick(11) + tick(12)) / TICKS
}

/// Resident memory of `pid`, in MB.
pub fn rss_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0);
    kb / 1024.0
}

/// The share of one CPU each of `pids` used during `window`.
pub fn cpu_over(pids: &[u32], window: Duration) -> Vec<f64> {
    let before: Vec<f64> = pids.iter().map(|p| cpu_seconds(*p)).collect();
    let started = Instant::now();
    std::thread::sleep(window);
    let took = started.elapsed().as_secs_f64();
    pids.iter().zip(before).map(|(p, b)| (cpu_seconds(*p) - b) / took).collect()
}
