//! The simulated nodes together: what they saw, counted for the bench
//! (sessions opened and when, heartbeats, tasks reported Running and
//! acknowledged), and a handle to make any of them vanish.

use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::runtime::Runtime;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::node::SimNode;

/// How many nodes join at once.
const JOINING_AT_ONCE: usize = 32;

pub struct Fleet {
    /// Between a task's Starting and Running reports.
    pub delay: Duration,
    started: Instant,
    running: AtomicI64,
    sessions_opened: AtomicUsize,
    sessions_ended: AtomicUsize,
    heartbeats: AtomicUsize,
    heartbeats_failed: AtomicUsize,
    /// The slowest heartbeat answer since the last look, in microseconds.
    slowest_heartbeat_us: AtomicU64,
    /// Network maps received, and their bytes.
    maps: AtomicUsize,
    map_bytes: AtomicUsize,
    /// When each node last opened a session.
    opened_at: Mutex<Vec<Option<Instant>>>,
}

/// The nodes, each running until its token is cancelled.
pub struct Nodes {
    stops: Vec<CancellationToken>,
}

impl Fleet {
    pub fn new(delay: Duration) -> Arc<Fleet> {
        Arc::new(Fleet {
            delay,
            started: Instant::now(),
            running: AtomicI64::new(0),
            sessions_opened: AtomicUsize::new(0),
            sessions_ended: AtomicUsize::new(0),
            heartbeats: AtomicUsize::new(0),
            heartbeats_failed: AtomicUsize::new(0),
            slowest_heartbeat_us: AtomicU64::new(0),
            maps: AtomicUsize::new(0),
            map_bytes: AtomicUsize::new(0),
            opened_at: Mutex::new(Vec::new()),
        })
    }

    pub fn session_opened(&self, index: usize) {
        self.sessions_opened.fetch_add(1, Ordering::Relaxed);
        let mut opened = self.opened_at.lock().unwrap();
        if opened.len() <= index {
            opened.resize(index + 1, None);
        }
        opened[index] = Some(Instant::now());
    }

    pub fn session_ended(&self) {
        self.sessions_ended.fetch_add(1, Ordering::Relaxed);
    }

    pub fn heartbeat(&self, took: Duration, ok: bool) {
        self.heartbeats.fetch_add(1, Ordering::Relaxed);
        if !ok {
            self.heartbeats_failed.fetch_add(1, Ordering::Relaxed);
        }
        self.slowest_heartbeat_us.fetch_max(took.as_micros() as u64, Ordering::Relaxed);
    }

    pub fn map_received(&self, bytes: usize) {
        self.maps.fetch_add(1, Ordering::Relaxed);
        self.map_bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    /// (network maps received, their bytes), and the counters reset.
    pub fn take_maps(&self) -> (usize, usize) {
        (self.maps.swap(0, Ordering::Relaxed), self.map_bytes.swap(0, Ordering::Relaxed))
    }

    pub fn running_changed(&self, by: i64) {
        if by != 0 {
            self.running.fetch_add(by, Ordering::Relaxed);
        }
    }

    /// Tasks the nodes reported Running (and the managers acknowledged).
    pub fn running(&self) -> i64 {
        self.running.load(Ordering::Relaxed)
    }

    pub fn sessions_opened(&self) -> usize {
        self.sessions_opened.load(Ordering::Relaxed)
    }

    pub fn sessions_ended(&self) -> usize {
        self.sessions_ended.load(Ordering::Relaxed)
    }

    /// (heartbeats sent, failed, slowest answer), and the counters reset.
    pub fn take_heartbeats(&self) -> (usize, usize, Duration) {
        let sent = self.heartbeats.swap(0, Ordering::Relaxed);
        let failed = self.heartbeats_failed.swap(0, Ordering::Relaxed);
        let slowest = Duration::from_micros(self.slowest_heartbeat_us.swap(0, Ordering::Relaxed));
        (sent, failed, slowest)
    }

    /// For each of `indexes`, when it last opened a session after
    /// `since` (None: not yet).
    pub fn opened_since(&self, indexes: impl Iterator<Item = usize>, since: Instant) -> Vec<Option<Duration>> {
        let opened = self.opened_at.lock().unwrap();
        indexes.map(|i| opened.get(i).copied().flatten().filter(|at| *at > since).map(|at| at - since)).collect()
    }

    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }
}

impl Nodes {
    /// Joins `count` nodes through `remote` with `token`, each starting
    /// its session as soon as it joined.
    pub fn join(rt: &Runtime, fleet: Arc<Fleet>, remote: &str, token: &str, count: usize) -> Nodes {
        let gate = Arc::new(Semaphore::new(JOINING_AT_ONCE));
        let joins: Vec<_> = (0..count)
            .map(|index| {
                let (remote, token, gate) = (remote.to_string(), token.to_string(), gate.clone());
                let (fleet, stop) = (fleet.clone(), CancellationToken::new());
                let handle = rt.spawn({
                    let stop = stop.clone();
                    async move {
                        let node = {
                            let _turn = gate.acquire().await;
                            let mut tries = 0;
                            loop {
                                match SimNode::join(&remote, &token, index).await {
                                    Ok(node) => break node,
                                    Err(status) if tries < 5 => {
                                        tries += 1;
                                        eprintln!("  sim-{index}: join failed ({}), again", status.message());
                                        tokio::time::sleep(Duration::from_millis(500)).await;
                                    }
                                    Err(status) => panic!("sim-{index} cannot join: {}", status.message()),
                                }
                            }
                        };
                        tokio::spawn(node.run(fleet, stop));
                    }
                });
                (handle, stop)
            })
            .collect();
        let mut nodes = Nodes { stops: Vec::new() };
        for (handle, stop) in joins {
            rt.block_on(handle).expect("a node joined");
            nodes.stops.push(stop);
        }
        nodes
    }

    pub fn len(&self) -> usize {
        self.stops.len()
    }

    /// Nodes `range` stop at once, without a word to the managers.
    pub fn vanish(&self, range: std::ops::Range<usize>) {
        for stop in &self.stops[range] {
            stop.cancel();
        }
    }
}

impl Drop for Nodes {
    fn drop(&mut self) {
        for stop in &self.stops {
            stop.cancel();
        }
    }
}
