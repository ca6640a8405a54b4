//! [`RetentionSchedule`]: a retention policy applied at an interval.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::Duration;

use super::Retention;
use crate::store::HistoryStore;

/// A background thread that applies a retention policy at an interval, e.g. beside a
/// recorder over the same store. Dropping the handle stops it (waiting for a purge under way).
///
/// The policy is built afresh for every run, so relative ages stay relative:
///
/// ```
/// use std::{sync::Arc, time::Duration};
/// use history::retention::{Retention, RetentionSchedule};
/// use history::MemoryStore;
///
/// let store = Arc::new(MemoryStore::new());
/// let schedule = RetentionSchedule::start(store.clone(), Duration::from_secs(3600), || {
///     Retention::older_than(Duration::from_secs(90 * 86_400))
/// })?;
/// drop(schedule); // stops the thread
/// # Ok::<(), history::Error>(())
/// ```
#[derive(Debug)]
pub struct RetentionSchedule {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
    runs: Arc<AtomicU64>,
}

impl RetentionSchedule {
    /// Runs `policy()` on `store` every `interval` (the first run after one interval). A failed
    /// run is logged and retried at the next interval.
    pub fn start<S: HistoryStore + ?Sized>(
        store: Arc<S>,
        interval: Duration,
        policy: impl Fn() -> Retention + Send + 'static,
    ) -> Result<RetentionSchedule, crate::Error> {
        let (stop, stopped) = mpsc::channel::<()>();
        let runs = Arc::new(AtomicU64::new(0));
        let counter = runs.clone();
        let thread = std::thread::Builder::new()
            .name("history-retention".into())
            .spawn(move || {
                while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(interval) {
                    match store.purge(&policy()) {
                        Ok(r) => tracing::debug!(deleted = r.deleted, "history: retention run"),
                        Err(e) => tracing::warn!("history: retention run failed: {e}"),
                    }
                    counter.fetch_add(1, Ordering::Release);
                }
            })?;
        Ok(RetentionSchedule {
            stop: Some(stop),
            thread: Some(thread),
            runs,
        })
    }

    /// How many runs have finished.
    pub fn runs(&self) -> u64 {
        self.runs.load(Ordering::Acquire)
    }
}

impl Drop for RetentionSchedule {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::retention::Retention;
    use crate::{Event, EventStatus, EventType, Filter, MemoryStore};

    #[test]
    fn a_schedule_purges_repeatedly_until_dropped() {
        let store = std::sync::Arc::new(MemoryStore::new());
        let mut failed = Event::new(EventType::VmStart, "a");
        failed.status = EventStatus::Failed;
        store
            .write_batch(&[failed, Event::new(EventType::VmStart, "b")])
            .unwrap();
        let schedule = RetentionSchedule::start(store.clone(), Duration::from_millis(5), || {
            Retention::matching(Filter::new().status(EventStatus::Failed))
        })
        .unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while schedule.runs() < 2 {
            assert!(
                std::time::Instant::now() < deadline,
                "the schedule never ran"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
        assert_eq!(store.len(), 1);
        drop(schedule);
    }
}
