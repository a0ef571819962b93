//! The control requests whose batches the store applied last, by the id
//! the forwarding manager gave them. A manager whose forwarded write lost
//! its answer (the leader stopped) reads here, once the next leader's
//! entries reach it, whether the write happened: part of the replicated
//! state (and of snapshots), so every manager answers the same.

use std::collections::{HashSet, VecDeque};

/// How many request ids are remembered.
pub const REMEMBERED: usize = 10_000;

/// The last [`REMEMBERED`] request ids applied, oldest first.
#[derive(Debug, Default, Clone)]
pub struct Requests {
    order: VecDeque<String>,
    ids: HashSet<String>,
}

impl Requests {
    /// Records that request `id`'s batch was applied.
    pub fn record(&mut self, id: String) {
        if !self.ids.insert(id.clone()) {
            return;
        }
        self.order.push_back(id);
        while self.order.len() > REMEMBERED {
            if let Some(old) = self.order.pop_front() {
                self.ids.remove(&old);
            }
        }
    }

    /// Whether request `id`'s batch was applied (among the last ones).
    pub fn applied(&self, id: &str) -> bool {
        self.ids.contains(id)
    }

    /// Oldest first, for a snapshot.
    pub fn to_vec(&self) -> Vec<String> {
        self.order.iter().cloned().collect()
    }
}

impl FromIterator<String> for Requests {
    fn from_iter<I: IntoIterator<Item = String>>(iter: I) -> Requests {
        let mut requests = Requests::default();
        iter.into_iter().for_each(|id| requests.record(id));
        requests
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_ones_are_remembered() {
        let mut requests: Requests = (0..REMEMBERED + 5).map(|i| i.to_string()).collect();
        assert!(!requests.applied("4") && requests.applied("5"));
        assert!(requests.applied(&(REMEMBERED + 4).to_string()));
        requests.record("5".into());
        assert_eq!(requests.to_vec().len(), REMEMBERED, "recorded once");
        assert_eq!(requests.to_vec()[0], "5");
    }
}
