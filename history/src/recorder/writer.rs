//! The writer thread: takes whole batches off the queue and writes each in one transaction.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::queue::Shared;
use crate::event::{Event, EventId};
use crate::store::HistoryStore;

pub(super) struct Writer {
    pub shared: Arc<Shared>,
    pub store: Arc<dyn HistoryStore>,
    pub flush_interval: Duration,
    pub max_retries: u32,
}

impl Writer {
    pub fn run(self) {
        let mut spare: Vec<Event> = Vec::with_capacity(self.shared.batch_size);
        while let Some((mut batch, upto)) = self.next_batch(&mut spare) {
            merge_same_ids(&mut batch);
            self.write_with_retries(&batch);
            batch.clear();
            spare = batch;
            let mut st = self.shared.lock();
            st.durable = upto;
            drop(st);
            self.shared.progress.notify_all();
        }
        let mut st = self.shared.lock();
        st.writer_gone = true;
        drop(st);
        self.shared.progress.notify_all();
    }

    /// Waits for a batch worth writing: a full batch, a flush, a close, or the oldest event
    /// having waited the flush interval. `None` once closed and drained.
    fn next_batch(&self, spare: &mut Vec<Event>) -> Option<(Vec<Event>, u64)> {
        let shared = &self.shared;
        let mut st = shared.lock();
        loop {
            if st.queue.is_empty() {
                if st.closed {
                    return None;
                }
                shared.work.wait(&mut st);
                continue;
            }
            let due = st.oldest_at.map(|t| t + self.flush_interval);
            let now = Instant::now();
            if st.queue.len() >= shared.batch_size
                || st.closed
                || st.flush_target > st.durable
                || due.is_none_or(|d| d <= now)
            {
                break;
            }
            if let Some(d) = due {
                shared.work.wait_until(&mut st, d);
            }
        }
        let batch = std::mem::replace(&mut st.queue, std::mem::take(spare));
        st.oldest_at = None;
        let upto = st.enqueued;
        drop(st);
        shared.room.notify_all();
        Some((batch, upto))
    }

    fn write_with_retries(&self, batch: &[Event]) {
        let counters = &self.shared.counters;
        let mut attempt = 0u32;
        loop {
            match self.store.write_batch(batch) {
                Ok(()) => {
                    counters
                        .written
                        .fetch_add(batch.len() as u64, Ordering::Relaxed);
                    counters.batches.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                Err(e) => {
                    counters.write_errors.fetch_add(1, Ordering::Relaxed);
                    attempt += 1;
                    let retries = if e.is_transient() {
                        self.max_retries
                    } else {
                        self.max_retries.min(1)
                    };
                    if attempt > retries {
                        tracing::error!(
                            events = batch.len(),
                            attempts = attempt,
                            "history: giving up on a batch: {e}"
                        );
                        counters
                            .lost
                            .fetch_add(batch.len() as u64, Ordering::Release);
                        self.shared.lock().last_error = Some(e.to_string());
                        return;
                    }
                    tracing::warn!(attempt, "history: writing a batch failed, retrying: {e}");
                    self.shared.lock().last_error = Some(e.to_string());
                    let backoff =
                        Duration::from_millis(10u64 << attempt.min(7)).min(Duration::from_secs(1));
                    std::thread::sleep(backoff);
                }
            }
        }
    }
}

/// Keeps only the last record of each id, in place and in order: a call's in-progress record
/// and its final record in one batch cost one row write.
fn merge_same_ids(batch: &mut Vec<Event>) {
    if batch.len() < 2 {
        return;
    }
    let mut last: HashMap<EventId, usize> = HashMap::with_capacity(batch.len());
    for (i, e) in batch.iter().enumerate() {
        last.insert(e.id, i);
    }
    if last.len() == batch.len() {
        return;
    }
    let mut i = 0;
    batch.retain(|e| {
        let keep = last.get(&e.id) == Some(&i);
        i += 1;
        keep
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{EventStatus, EventType};

    #[test]
    fn merging_keeps_the_last_record_of_each_id() {
        let a = Event::new(EventType::VmStart, "a");
        let b = Event::new(EventType::VmStop, "b");
        let mut a2 = a.clone();
        a2.finish(EventStatus::Success);
        let mut batch = vec![a.clone(), b.clone(), a2.clone()];
        merge_same_ids(&mut batch);
        assert_eq!(batch, vec![b, a2]);
    }
}
