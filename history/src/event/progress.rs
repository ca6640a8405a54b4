//! Stored state only moves forward: which of two records of one call a store keeps.

use super::{Event, EventStatus};

impl EventStatus {
    /// How far a call has got: in progress, then interrupted (a verdict crash
    /// recovery reaches without the call), then the outcomes the call reported itself.
    pub(crate) const fn progress_rank(&self) -> u8 {
        match self {
            EventStatus::InProgress => 0,
            EventStatus::Interrupted => 1,
            EventStatus::Success | EventStatus::Failed | EventStatus::Cancelled => 2,
        }
    }
}

impl Event {
    /// Whether this record of a call replaces `stored`, the record of the same id a store
    /// holds. Every [`HistoryStore`](crate::HistoryStore) applies this rule, so a resent or
    /// replayed older record never overwrites a newer one:
    ///
    /// - a record further along replaces one behind it: in progress, then
    ///   `interrupted`, then `success`, `failed` or `cancelled` (the call's own outcome
    ///   replaces the `interrupted` that crash recovery wrote for it, never the reverse);
    /// - a record behind the stored one never replaces it (an in-progress record arriving
    ///   after the final one is ignored);
    /// - between two unfinished records, the later written wins;
    /// - between two finished records of the same rank, the one that finished later wins, and
    ///   on a tie the later written (so writing the same record again changes nothing, and
    ///   a rewrite of a final record with the same end time replaces it).
    pub fn replaces(&self, stored: &Event) -> bool {
        let (new, old) = (self.status.progress_rank(), stored.status.progress_rank());
        if new != old {
            return new > old;
        }
        if !self.status.is_terminal() {
            return true;
        }
        self.finished_at.unwrap_or_default() >= stored.finished_at.unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::EventType;

    fn record(status: EventStatus, finished_secs: Option<i64>) -> Event {
        let mut e = Event::new(EventType::VmStart, "vm::start");
        e.status = status;
        e.finished_at = finished_secs.and_then(|s| chrono::DateTime::from_timestamp(s, 0));
        e
    }

    #[test]
    fn the_final_state_wins() {
        let started = record(EventStatus::InProgress, None);
        let done = record(EventStatus::Success, Some(10));
        let interrupted = record(EventStatus::Interrupted, Some(20));
        assert!(done.replaces(&started));
        assert!(!started.replaces(&done));
        assert!(done.replaces(&interrupted));
        assert!(!interrupted.replaces(&done));
        assert!(interrupted.replaces(&started));
        assert!(started.replaces(&started));
        assert!(done.replaces(&done));
        let earlier = record(EventStatus::Failed, Some(5));
        assert!(!earlier.replaces(&done));
        assert!(done.replaces(&earlier));
    }
}
