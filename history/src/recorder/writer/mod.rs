//! The writer thread: takes whole batches off the queue and writes each in one transaction.
//!
//! Under sustained load, consecutive batches share one open transaction ([`group`]: group
//! commit). A batch the store refuses takes the path of [`refused`]: retries with backoff, the
//! spill file while the store keeps refusing (replayed in order once it works again), and
//! splitting in halves to isolate records refused with a permanent error (only those are lost,
//! counted and reported by `flush`).

mod group;
mod refused;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::merge::{merge_same_ids, IdMap};
use super::metrics::Metrics;
use super::origin::Origin;
use super::queue::Shared;
use super::retry::Retry;
use super::spill::Spill;
use crate::event::Event;
use crate::store::HistoryStore;

/// How many events, for how long, the writer may stage before it commits.
#[derive(Clone, Copy, Debug)]
pub(super) struct GroupCommit {
    pub max_events: usize,
    pub max_age: Duration,
}

/// The most memory a group's staged events may hold (by the queue's approximate sizes) before
/// it commits, whatever `max_events` allows: the writer keeps them until the commit succeeds,
/// so this bounds the recorder's memory under sustained load with large records.
pub(super) const GROUP_MAX_BYTES: usize = 16 << 20;

/// Batches staged in the store's open transaction, not yet committed. They stay in memory
/// until the commit succeeds: if it fails, they are written again like any batch the store
/// refused (retried, then spilled), never counted as lost for the failed commit alone.
struct Group {
    events: u64,
    /// The memory the staged events hold, approximately.
    bytes: usize,
    staged: Vec<Vec<Event>>,
    /// The sequence number of the last event staged.
    upto: u64,
    since: Instant,
}

pub(super) struct Writer {
    shared: Arc<Shared>,
    store: Arc<dyn HistoryStore>,
    flush_interval: Duration,
    group_commit: GroupCommit,
    group: Option<Group>,
    retry: Retry,
    spill: Option<Spill>,
    /// Whether spill files hold events not yet in the store.
    spill_pending: bool,
    /// When to try replaying them next, and the wait after that if it fails.
    next_probe: Option<Instant>,
    probe_backoff: Duration,
    /// Reused by `merge_same_ids`.
    last_of: IdMap,
    /// Emptied batch buffers, reused for the next batches taken off the queue.
    spare: Vec<Vec<Event>>,
    /// The host and service set on events that have none.
    origin: Origin,
    metrics: Metrics,
}

/// How many emptied batch buffers the writer keeps for reuse.
const SPARE_BUFFERS: usize = 4;

struct GoneOnDrop(Arc<Shared>);

impl Drop for GoneOnDrop {
    fn drop(&mut self) {
        let mut st = self.0.lock();
        st.writer_gone = true;
        drop(st);
        self.0.subscribers.close();
        self.0.progress.notify_all();
        self.0.room.notify_all();
    }
}

enum Work {
    /// Events to write, the sequence number of the last, whether a flush waits, and the
    /// memory the events hold (approximately).
    Batch(Vec<Event>, u64, bool, usize),
    /// Time (or a flush) to move spilled events into the store.
    Replay,
}

impl Writer {
    pub(super) fn new(
        shared: Arc<Shared>,
        store: Arc<dyn HistoryStore>,
        flush_interval: Duration,
        group_commit: GroupCommit,
        retry: Retry,
        spill: Option<Spill>,
        origin: Origin,
    ) -> Writer {
        let spill_pending = spill.as_ref().is_some_and(Spill::is_pending);
        Writer {
            shared,
            store,
            flush_interval,
            group_commit,
            group: None,
            retry,
            spill,
            spill_pending,
            next_probe: spill_pending.then(Instant::now),
            probe_backoff: retry.initial_backoff,
            last_of: IdMap::default(),
            spare: Vec::new(),
            origin,
            metrics: Metrics::new(),
        }
    }

    pub(super) fn run(mut self) {
        // Even if the store panics, tell the waiting flushes that nobody will write any more.
        let _gone = GoneOnDrop(self.shared.clone());
        // Spill files found unreadable when the recorder opened them are reported now.
        self.after_spill_change();
        self.metrics.health(&self.shared);
        let mut spare: Vec<Event> = Vec::with_capacity(self.shared.batch_size);
        while let Some(work) = self.next_work(&mut spare) {
            match work {
                Work::Replay => {
                    self.commit_group();
                    self.replay();
                }
                Work::Batch(mut batch, upto, urgent, bytes) => {
                    self.metrics.queue_depth(batch.len());
                    let duplicates = merge_same_ids(&mut batch, &mut self.last_of);
                    let counters = &self.shared.counters;
                    counters.duplicates.fetch_add(duplicates, Ordering::Relaxed);
                    self.shared.backtraces.resolve(&mut batch);
                    self.origin.stamp(&mut batch);
                    if let Some(done) = self.deliver(batch, upto, urgent, bytes) {
                        self.recycle(done);
                        self.mark_durable(upto);
                    }
                }
            }
            self.metrics.health(&self.shared);
            if spare.capacity() == 0 {
                spare = self
                    .spare
                    .pop()
                    .unwrap_or_else(|| Vec::with_capacity(self.shared.batch_size));
            }
        }
        self.commit_group();
        // Closing: one last chance for spilled events; what stays is replayed on next open.
        if self.spill_pending {
            self.replay();
        }
        if let Some(spill) = self.spill.take() {
            if spill.is_pending() {
                tracing::warn!(
                    events = spill.pending_events(),
                    "history: the store is still failing; spilled events stay in the spill \
                     file until a recorder opens it again"
                );
            }
            spill.close();
        }
    }

    /// Waits for work: a full batch, a flush, a close, the oldest event having waited the
    /// flush interval, or a replay being due. `None` once closed and drained.
    fn next_work(&self, spare: &mut Vec<Event>) -> Option<Work> {
        let shared = &*self.shared;
        let mut st = shared.lock();
        loop {
            let now = Instant::now();
            let replay_due = self.spill_pending
                && (st.replay_wanted > st.replay_done || self.next_probe.is_some_and(|p| p <= now));
            let wake_for_probe = self.next_probe.filter(|_| self.spill_pending);
            if st.queue.is_empty() {
                if st.closed {
                    return None;
                }
                if replay_due {
                    return Some(Work::Replay);
                }
                match wake_for_probe {
                    Some(p) => {
                        shared.work.wait_until(&mut st, p);
                    }
                    None => shared.work.wait(&mut st),
                }
                continue;
            }
            let due = st.oldest_at.map_or(now, |t| t + self.flush_interval);
            if st.queue.len() >= shared.batch_size
                || st.closed
                || st.flush_target > st.durable
                || due <= now
            {
                break;
            }
            if replay_due {
                return Some(Work::Replay);
            }
            let until = wake_for_probe.map_or(due, |p| p.min(due));
            shared.work.wait_until(&mut st, until);
        }
        let batch = std::mem::replace(&mut st.queue, std::mem::take(spare));
        // Slots handed out until now point into `batch`: none may be replaced any more.
        st.generation += 1;
        st.oldest_at = None;
        let bytes = std::mem::take(&mut st.queued_bytes);
        let upto = st.enqueued;
        let urgent = st.flush_target >= upto || st.closed || st.replay_wanted > st.replay_done;
        drop(st);
        shared.room.notify_all();
        Some(Work::Batch(batch, upto, urgent, bytes))
    }

    /// Everything up to sequence number `upto` is durable (or counted as lost): wakes the
    /// flushes waiting for it.
    fn mark_durable(&self, upto: u64) {
        let mut st = self.shared.lock();
        st.durable = upto;
        drop(st);
        self.shared.progress.notify_all();
    }
}
