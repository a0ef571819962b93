//! Fast succession: when the leader falls silent, one follower chosen in
//! advance starts the election as soon as the others will vote for it.
//!
//! openraft's followers refuse votes while their leader lease runs
//! (`election_timeout_max` since the leader last called), and each starts
//! an election only after that lease plus its own random election timeout:
//! with two survivors the vote often splits, and a new leader takes one to
//! three seconds. Here the followers, ranked by raft id with the silent
//! leader left out, take turns: the first elects once the lease is over
//! (plus one heartbeat of slack for clock skew between followers), the next
//! one election timeout later if there is still no leader (the first may be
//! gone too), and so on. A follower that refused its vote to a candidate
//! (whose log was shorter, or who asked while this follower's lease still
//! ran) elects as soon as its own lease is over, in a later term than the
//! candidate's. openraft's own timer stays the fallback.
//!
//! A busy machine must not pass for a dead leader (each spurious election
//! costs a leader change and a moment without writes): a follower whose
//! own loop ran late judges nothing for two heartbeats (calls that waited
//! while it was not running come in first), and before electing it asks
//! the leader whether it still leads (`Leading`). A leader that answers in
//! the follower's term, within the minimum election timeout, is alive:
//! the follower asks again after that timeout if it stays silent. A dead
//! leader refuses the connection at once; a frozen or cut-off one does
//! not answer in time.

use std::time::{Duration, Instant};

use openraft::ServerState;
use shoal_proto::LeadingRequest;
use shoal_proto::raft_client::RaftClient;
use shoal_proto::transport::{self, Credentials};
use tracing::{debug, info};

use super::{Contacts, Raft, RaftTiming};

/// Watches the leader until raft shuts down.
pub async fn run(raft: Raft, contacts: Contacts, timing: RaftTiming, credentials: Credentials) {
    let period = Duration::from_millis((timing.heartbeat_ms / 5).max(5));
    // A loop later than this was not running: it heard nothing meanwhile.
    let heartbeat = Duration::from_millis(timing.heartbeat_ms);
    let starved = period + heartbeat;
    let mut last_tick = Instant::now();
    // No judgement before this (after a delay of this loop, or a leader
    // that answered).
    let mut pause_until = last_tick;
    let mut metrics = raft.metrics();
    // The leader (and term) followed, and since when.
    let mut following: Option<(u64, u64, Instant)> = None;
    let mut elected_in_term = None;
    // The highest term of a candidate refused while following this
    // leader, and when the last refusal was.
    let mut refused: Option<(u64, Instant)> = None;
    let better_candidate = contacts.better_candidate();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(period) => {}
            _ = better_candidate.notified() => {}
        }
        if last_tick.elapsed() > starved {
            pause_until = Instant::now() + heartbeat * 2;
        }
        last_tick = Instant::now();
        let refused_now = contacts.take_refused_term().map(|term| (term, Instant::now()));
        if metrics.has_changed().is_err() {
            return; // raft has shut down
        }
        let (id, term, state, leader, successors, leader_addr) = {
            let m = metrics.borrow_and_update();
            let membership = m.membership_config.membership();
            let voters: Vec<u64> = membership.voter_ids().collect();
            let successors = m.current_leader.map(|l| voters.into_iter().filter(|v| *v != l).collect::<Vec<_>>());
            let addr = m.current_leader.and_then(|l| membership.get_node(&l)).map(|n| n.addr.clone());
            (m.id, m.current_term, m.state, m.current_leader, successors, addr)
        };
        let (Some(leader), Some(successors), ServerState::Follower) = (leader, successors, state) else {
            following = None;
            continue;
        };
        let since = match following {
            Some((l, t, since)) if l == leader && t == term => since,
            _ => {
                let now = Instant::now();
                following = Some((leader, term, now));
                refused = None;
                now
            }
        };
        if let Some((term, at)) = refused_now {
            refused = Some((refused.map_or(term, |(t, _)| t.max(term)), at));
        }
        let Some(rank) = successors.iter().position(|v| *v == id) else { continue };
        let heard = contacts.leader_last_called().map_or(since, |t| t.max(since));
        // Only a refusal while the leader is silent counts (not one of a
        // candidate that could not hear a leader still calling here).
        let refused_term = refused.filter(|(_, at)| *at >= heard).map(|(term, _)| term);
        let wait = if refused_term.is_some() { lease(&timing) } else { due(&timing, rank) };
        if heard.elapsed() < wait || elected_in_term == Some(term) || Instant::now() < pause_until {
            continue;
        }
        let probe = Duration::from_millis(timing.election_timeout_min_ms);
        if let Some(addr) = &leader_addr
            && leads(addr, &credentials, term, probe).await
        {
            debug!(silent_ms = heard.elapsed().as_millis() as u64, "the raft leader is slow, not gone: no election");
            pause_until = Instant::now() + probe;
            continue;
        }
        info!(
            silent_ms = heard.elapsed().as_millis() as u64,
            rank, "the raft leader fell silent: starting an election"
        );
        elected_in_term = Some(term);
        // Past the refused candidate's term, or it would not vote for us.
        refused = None;
        if elect_beyond(&raft, refused_term.unwrap_or(term)).await.is_err() {
            return;
        }
    }
}

/// Whether the manager at `addr` answers, within `timeout`, that it leads
/// in `term`.
async fn leads(addr: &str, credentials: &Credentials, term: u64, timeout: Duration) -> bool {
    let Ok(channel) = transport::channel(addr, credentials, transport::MANAGER_NAME) else { return false };
    let mut client = RaftClient::new(channel);
    match tokio::time::timeout(timeout, client.leading(LeadingRequest {})).await {
        Ok(Ok(answer)) => {
            let answer = answer.into_inner();
            answer.leader && answer.term == term
        }
        _ => false,
    }
}

/// Starts elections until this manager's term is past `term` (each one
/// takes the next term).
async fn elect_beyond(raft: &Raft, term: u64) -> Result<(), openraft::error::Fatal<u64>> {
    for _ in 0..3 {
        let now = raft.metrics().borrow().current_term;
        if now > term {
            break;
        }
        raft.trigger().elect().await?;
        let next = raft.wait(Some(Duration::from_millis(100)));
        let _ = next.metrics(|m| m.current_term > now, "the next term").await;
    }
    Ok(())
}

/// How long the leader must be silent before the follower of `rank` elects.
fn due(timing: &RaftTiming, rank: usize) -> Duration {
    lease(timing) + Duration::from_millis(timing.heartbeat_ms + rank as u64 * timing.election_timeout_min_ms)
}

/// openraft's leader lease: a follower refuses votes for that long after
/// the leader last called.
fn lease(timing: &RaftTiming) -> Duration {
    Duration::from_millis(timing.election_timeout_max_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_successor_elects_right_after_the_lease_the_next_ones_later() {
        let timing = RaftTiming { heartbeat_ms: 50, election_timeout_min_ms: 250, election_timeout_max_ms: 500 };
        assert_eq!(due(&timing, 0), Duration::from_millis(550));
        assert_eq!(due(&timing, 1), Duration::from_millis(800));
        assert_eq!(due(&timing, 2), Duration::from_millis(1050));
    }
}
