//! "Not the leader": how a manager that is not the raft leader refuses a
//! call only the leader serves (code `Unavailable`), and how a caller
//! recognises it: by a metadata entry, not by the message's words, with
//! the leader's address when the manager knows it.

use tonic::{Code, Status};

/// The metadata key of a refusal; its value is the leader's address
/// (empty when the manager does not know one).
pub const KEY: &str = "shoal-not-leader";

/// The refusal, naming the leader if known.
pub fn refusal(leader: Option<&str>) -> Status {
    let message = match leader {
        Some(addr) => format!("this manager is not the leader (the leader is {addr})"),
        None => "this manager is not the leader".to_string(),
    };
    let mut status = Status::unavailable(message);
    // An address that is not valid metadata is left out, not the mark.
    let value = leader.and_then(|l| l.parse().ok()).unwrap_or_else(|| tonic::metadata::MetadataValue::from_static(""));
    status.metadata_mut().insert(KEY, value);
    status
}

/// Whether `status` is a manager's "not the leader".
pub fn is_refusal(status: &Status) -> bool {
    status.code() == Code::Unavailable && status.metadata().contains_key(KEY)
}

/// The leader a refusal names, if it names one.
pub fn leader(status: &Status) -> Option<String> {
    let value = status.metadata().get(KEY)?.to_str().ok()?;
    (!value.is_empty()).then(|| value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_is_known_by_its_mark_and_names_the_leader() {
        let with = refusal(Some("10.0.0.1:4242"));
        assert!(is_refusal(&with));
        assert_eq!(leader(&with).as_deref(), Some("10.0.0.1:4242"));
        assert_eq!(with.message(), "this manager is not the leader (the leader is 10.0.0.1:4242)");
        let without = refusal(None);
        assert!(is_refusal(&without) && leader(&without).is_none());
        // The same words without the mark are not a refusal.
        assert!(!is_refusal(&Status::unavailable("this manager is not the leader")));
        assert!(!is_refusal(&Status::internal("x")));
    }

    #[test]
    fn the_mark_survives_the_wire() {
        let sent = refusal(Some("127.0.0.1:1"));
        let response = sent.into_http::<()>();
        let received = Status::from_header_map(response.headers()).unwrap();
        assert!(is_refusal(&received));
        assert_eq!(leader(&received).as_deref(), Some("127.0.0.1:1"));
    }
}
