//! The events kept: the newest ones, at most so many and so old, each
//! numbered in the order it was applied so a stream can go on from the
//! last one it sent.

use std::collections::VecDeque;
use std::time::Duration;

use parking_lot::Mutex;
use shoal_proto::Event;
use tokio::sync::watch;

use super::Recorded;

/// How much history a manager keeps (`shoal daemon --events-max`,
/// `--events-max-age`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    pub max_events: usize,
    pub max_age: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits { max_events: 10_000, max_age: Duration::from_secs(24 * 3600) }
    }
}

/// A numbered event, as streams send it.
pub type Numbered = (u64, Event);

/// The kept events, newest last; shared by the store that appends them
/// and the streams that read them.
pub struct EventLog {
    inner: Mutex<Inner>,
    /// The number of the newest event (0: none yet).
    newest: watch::Sender<u64>,
}

struct Inner {
    events: VecDeque<(u64, Recorded)>,
    limits: Limits,
}

impl Default for EventLog {
    fn default() -> EventLog {
        EventLog::new(Limits::default())
    }
}

impl EventLog {
    pub fn new(limits: Limits) -> EventLog {
        EventLog { inner: Mutex::new(Inner { events: VecDeque::new(), limits }), newest: watch::channel(0).0 }
    }

    /// Whether any event is kept (`--events-max 0`: none, and none is
    /// derived).
    pub fn keeps(&self) -> bool {
        self.inner.lock().limits.max_events > 0
    }

    /// Keeps at most what `limits` allow from now on.
    pub fn set_limits(&self, limits: Limits) {
        let mut inner = self.inner.lock();
        inner.limits = limits;
        inner.prune(shoal_proto::now_nanos());
    }

    /// Appends `events` (in the order applied), forgets what is beyond the
    /// limits at `now` (unix ns), and wakes the streams.
    pub fn append(&self, events: Vec<Recorded>, now: i64) {
        if events.is_empty() {
            return;
        }
        let mut inner = self.inner.lock();
        let mut number = *self.newest.borrow();
        for event in events {
            number += 1;
            inner.events.push_back((number, event));
        }
        inner.prune(now);
        // Under the lock: `since` sees the events and their number together.
        self.newest.send_replace(number);
    }

    /// The kept events proposed at or after `since` (unix ns), and the
    /// number of the newest one (to go on from with [`EventLog::after`]).
    pub fn since(&self, since: i64) -> (Vec<Numbered>, u64) {
        let inner = self.inner.lock();
        let newest = *self.newest.borrow();
        let kept = inner.events.iter().filter(|(_, e)| e.time >= since).map(|(n, e)| (*n, e.event())).collect();
        (kept, newest)
    }

    /// The newest `count` kept events, oldest first, and the number of the
    /// newest one.
    pub fn newest(&self, count: usize) -> (Vec<Numbered>, u64) {
        let inner = self.inner.lock();
        let start = inner.events.len().saturating_sub(count);
        (inner.events.range(start..).map(|(n, e)| (*n, e.event())).collect(), *self.newest.borrow())
    }

    /// The kept events numbered after `number`.
    pub fn after(&self, number: u64) -> Vec<Numbered> {
        let inner = self.inner.lock();
        let start = inner.events.partition_point(|(n, _)| *n <= number);
        inner.events.range(start..).map(|(n, e)| (*n, e.event())).collect()
    }

    /// The number of the newest event, changed at each append.
    pub fn watch(&self) -> watch::Receiver<u64> {
        self.newest.subscribe()
    }
}

impl Inner {
    fn prune(&mut self, now: i64) {
        let oldest = now.saturating_sub(i64::try_from(self.limits.max_age.as_nanos()).unwrap_or(i64::MAX));
        while self.events.len() > self.limits.max_events || self.events.front().is_some_and(|(_, e)| e.time < oldest) {
            self.events.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(time: i64) -> Recorded {
        Recorded { kind: "task", action: "update", actor: String::new(), attributes: Vec::new(), time, index: 0 }
    }

    #[test]
    fn keeps_the_newest_within_count_and_age() {
        let log = EventLog::new(Limits { max_events: 3, max_age: Duration::from_nanos(100) });
        log.append(vec![at(10), at(20)], 50);
        log.append(vec![at(30), at(40)], 50);
        let (kept, newest) = log.since(0);
        assert_eq!(kept.iter().map(|(n, e)| (*n, e.time)).collect::<Vec<_>>(), [(2, 20), (3, 30), (4, 40)]);
        assert_eq!(newest, 4);
        assert_eq!(log.after(3).iter().map(|(n, _)| *n).collect::<Vec<_>>(), [4]);
        assert_eq!(log.newest(1).0.iter().map(|(n, _)| *n).collect::<Vec<_>>(), [4]);
        assert_eq!(log.newest(9).0.len(), 3);
        assert_eq!(log.since(30).0.len(), 2);
        // Older than 100 ns at time 135: gone.
        log.append(vec![at(135)], 135);
        assert_eq!(log.since(0).0.iter().map(|(_, e)| e.time).collect::<Vec<_>>(), [40, 135]);
        assert_eq!(*log.watch().borrow(), 5);
        log.set_limits(Limits { max_events: 1, max_age: Duration::MAX });
        assert_eq!(log.since(0).0.len(), 1);
        assert!(log.keeps());
        log.set_limits(Limits { max_events: 0, max_age: Duration::MAX });
        assert!(!log.keeps() && log.since(0).0.is_empty());
    }
}
