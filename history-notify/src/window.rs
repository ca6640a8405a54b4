//! The sliding window of a window rule: the finished events of the last `over`, by id (a
//! record seen again replaces its sample), with the failure count and the durations kept
//! sorted, so the failure rate costs O(1) and the p95 one walk to its rank.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use history::{Event, EventId, EventStatus};

#[derive(Clone, Copy, Debug)]
struct Sample {
    failed: bool,
    duration_us: Option<u64>,
}

/// The finished events of the last `over`.
#[derive(Debug, Default)]
pub(crate) struct Window {
    over_us: i64,
    by_time: BTreeMap<(i64, EventId), Sample>,
    by_id: HashMap<EventId, i64>,
    failures: u64,
    durations: BTreeSet<(u64, EventId)>,
}

/// When a finished event counts in a window: when it finished.
fn event_time_us(event: &Event) -> i64 {
    event
        .finished_at
        .unwrap_or(event.started_at)
        .timestamp_micros()
}

/// Whether a finished event counts as a failure.
fn is_failure(status: EventStatus) -> bool {
    matches!(status, EventStatus::Failed | EventStatus::Interrupted)
}

impl Window {
    pub(crate) fn new(over: Duration) -> Window {
        Window {
            over_us: i64::try_from(over.as_micros()).unwrap_or(i64::MAX),
            ..Window::default()
        }
    }

    /// Adds a finished event (replacing an earlier sample of its id). Returns whether it is
    /// inside the window at `now_us`.
    pub(crate) fn add(&mut self, event: &Event, now_us: i64) -> bool {
        if !event.status.is_terminal() {
            return false;
        }
        self.remove(event.id);
        let at = event_time_us(event);
        if at < now_us.saturating_sub(self.over_us) {
            return false;
        }
        let sample = Sample {
            failed: is_failure(event.status),
            duration_us: event.duration.map(|d| d.as_micros() as u64),
        };
        if sample.failed {
            self.failures += 1;
        }
        if let Some(d) = sample.duration_us {
            self.durations.insert((d, event.id));
        }
        self.by_time.insert((at, event.id), sample);
        self.by_id.insert(event.id, at);
        true
    }

    fn remove(&mut self, id: EventId) {
        if let Some(at) = self.by_id.remove(&id) {
            if let Some(old) = self.by_time.remove(&(at, id)) {
                self.forget(id, old);
            }
        }
    }

    fn forget(&mut self, id: EventId, sample: Sample) {
        if sample.failed {
            self.failures -= 1;
        }
        if let Some(d) = sample.duration_us {
            self.durations.remove(&(d, id));
        }
    }

    /// Drops the samples older than the window at `now_us`.
    pub(crate) fn prune(&mut self, now_us: i64) {
        let cutoff = now_us.saturating_sub(self.over_us);
        while let Some(entry) = self.by_time.first_entry() {
            if entry.key().0 >= cutoff {
                break;
            }
            let ((_, id), sample) = entry.remove_entry();
            self.by_id.remove(&id);
            self.forget(id, sample);
        }
    }

    /// Finished events in the window.
    pub(crate) fn len(&self) -> u64 {
        self.by_time.len() as u64
    }

    /// The share of failures among the finished events (0 when there are none).
    pub(crate) fn failure_rate(&self) -> f64 {
        match self.len() {
            0 => 0.0,
            n => self.failures as f64 / n as f64,
        }
    }

    /// The nearest-rank 95th-percentile duration (as `history::stats` defines it) and how many
    /// durations it was taken from.
    pub(crate) fn p95(&self) -> Option<(Duration, u64)> {
        let n = self.durations.len() as u64;
        if n == 0 {
            return None;
        }
        let rank = (95 * n).div_ceil(100).max(1);
        self.durations
            .iter()
            .nth((rank - 1) as usize)
            .map(|(d, _)| (Duration::from_micros(*d), n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use history::EventType;

    fn finished(status: EventStatus, ms: u64, at_us: i64) -> Event {
        let mut e = Event::new(EventType::VmCreate, "op");
        e.status = status;
        e.duration = Some(Duration::from_millis(ms));
        e.finished_at = chrono::DateTime::from_timestamp_micros(at_us);
        e
    }

    #[test]
    fn rate_and_p95_follow_the_window_and_replacements() {
        let now = 1_000_000_000_000i64;
        let mut w = Window::new(Duration::from_secs(60));
        let mut failed = Vec::new();
        for i in 0..100u64 {
            let status = if i % 4 == 0 {
                EventStatus::Failed
            } else {
                EventStatus::Success
            };
            let e = finished(status, i + 1, now - 1_000);
            if status == EventStatus::Failed {
                failed.push(e.clone());
            }
            assert!(w.add(&e, now));
        }
        assert_eq!(w.len(), 100);
        assert!((w.failure_rate() - 0.25).abs() < 1e-9);
        assert_eq!(w.p95(), Some((Duration::from_millis(95), 100)));
        // A record seen again replaces its sample.
        let mut fixed = failed[0].clone();
        fixed.status = EventStatus::Success;
        w.add(&fixed, now);
        assert_eq!(w.len(), 100);
        assert!((w.failure_rate() - 0.24).abs() < 1e-9);
        // Too old to count, then everything ages out.
        assert!(!w.add(&finished(EventStatus::Failed, 1, now - 61_000_000), now));
        w.prune(now + 61_000_000);
        assert_eq!((w.len(), w.failure_rate(), w.p95()), (0, 0.0, None));
    }
}
