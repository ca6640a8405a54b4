//! The writer thread: takes whole batches off the queue and writes each in one transaction.
//!
//! A batch the store refuses with a transient error is retried with backoff; while the store
//! keeps refusing, batches go to the spill file (when there is one) and are replayed in order
//! once the store works again. A batch refused with a permanent error is split in halves until
//! the offending records are isolated: only those are lost (counted and reported by `flush`).
//! Batches staged in a group whose commit fails (disk full, I/O error) are kept in memory
//! until then, and take the same path: retried, then spilled.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::merge::{merge_same_ids, IdMap};
use super::metrics::Metrics;
use super::origin::Origin;
use super::queue::Shared;
use super::retry::Retry;
use super::spill::{ReplayStop, Replayed, Spill};
use crate::event::Event;
use crate::store::{HistoryStore, StoreError};

/// How many events, for how long, the writer may stage before it commits.
#[derive(Clone, Copy, Debug)]
pub(super) struct GroupCommit {
    pub max_events: usize,
    pub max_age: Duration,
}

/// Batches staged in the store's open transaction, not yet committed. They stay in memory
/// until the commit succeeds: if it fails, they are written again like any batch the store
/// refused (retried, then spilled), never counted as lost for the failed commit alone.
struct Group {
    events: u64,
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
    /// Events to write, the sequence number of the last, and whether a flush waits.
    Batch(Vec<Event>, u64, bool),
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
                Work::Batch(mut batch, upto, urgent) => {
                    self.metrics.queue_depth(batch.len());
                    let duplicates = merge_same_ids(&mut batch, &mut self.last_of);
                    let counters = &self.shared.counters;
                    counters.duplicates.fetch_add(duplicates, Ordering::Relaxed);
                    self.shared.backtraces.resolve(&mut batch);
                    self.origin.stamp(&mut batch);
                    if let Some(done) = self.deliver(batch, upto, urgent) {
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
        st.queued_bytes = 0;
        let upto = st.enqueued;
        let urgent = st.flush_target >= upto || st.closed || st.replay_wanted > st.replay_done;
        drop(st);
        shared.room.notify_all();
        Some(Work::Batch(batch, upto, urgent))
    }

    /// Everything up to sequence number `upto` is durable (or counted as lost): wakes the
    /// flushes waiting for it.
    fn mark_durable(&self, upto: u64) {
        let mut st = self.shared.lock();
        st.durable = upto;
        drop(st);
        self.shared.progress.notify_all();
    }

    /// Gets `batch` into the store, or the spill file, or counts what could not be kept.
    /// `None`: the batch is staged in an open group, which keeps it and marks it durable when
    /// it commits; else the batch, delivered, for reuse.
    fn deliver(&mut self, batch: Vec<Event>, upto: u64, urgent: bool) -> Option<Vec<Event>> {
        if !self.spill_pending {
            match self.store.stage_batch(&batch) {
                Ok(()) => {
                    let group = self.group.get_or_insert_with(|| Group {
                        events: 0,
                        staged: Vec::new(),
                        upto,
                        since: Instant::now(),
                    });
                    group.events += batch.len() as u64;
                    group.staged.push(batch);
                    group.upto = upto;
                    if urgent || !self.keep_group_open() {
                        self.commit_group();
                    }
                    return None;
                }
                Err(e) => {
                    // What was staged before is committed (or written again) first, so the
                    // events keep their order; this batch takes the path with retries.
                    self.shared
                        .counters
                        .write_errors
                        .fetch_add(1, Ordering::Relaxed);
                    self.commit_group();
                    self.deliver_unstaged(&batch, urgent, Some(e));
                    return Some(batch);
                }
            }
        }
        self.commit_group();
        self.deliver_unstaged(&batch, urgent, None);
        Some(batch)
    }

    /// Keeps a delivered batch's buffer for a later batch (a few of them).
    fn recycle(&mut self, mut batch: Vec<Event>) {
        if self.spare.len() < SPARE_BUFFERS {
            batch.clear();
            self.spare.push(batch);
        }
    }

    /// Whether to stage the next batch into the open group rather than commit it now: only
    /// while a full batch already waits, nobody waits for durability, and the group is
    /// neither large nor old.
    fn keep_group_open(&self) -> bool {
        let Some(group) = &self.group else {
            return false;
        };
        if group.events >= self.group_commit.max_events as u64
            || group.since.elapsed() >= self.group_commit.max_age
        {
            return false;
        }
        let st = self.shared.lock();
        st.queue.len() >= self.shared.batch_size
            && !st.closed
            && st.flush_target <= st.durable
            && st.replay_wanted <= st.replay_done
    }

    /// Commits the open group, if any, and marks its events durable. If the commit fails,
    /// the group's events (kept until now) are written again with retries, then spilled,
    /// exactly like a batch the store refused.
    fn commit_group(&mut self) {
        let Some(group) = self.group.take() else {
            return;
        };
        let counters = &self.shared.counters;
        let started = self.metrics.start();
        let committed = self.store.commit_staged();
        self.metrics.commit_took(started);
        match committed {
            Ok(()) => {
                counters.written.fetch_add(group.events, Ordering::Relaxed);
                counters
                    .batches
                    .fetch_add(group.staged.len() as u64, Ordering::Relaxed);
                for mut batch in group.staged {
                    self.metrics.committed(&batch);
                    self.shared.subscribers.publish_owned(&mut batch);
                    self.recycle(batch);
                }
            }
            Err(e) => {
                counters.write_errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    events = group.events,
                    "history: committing a group of batches failed, writing them again: {e}"
                );
                let mut staged = group.staged.into_iter();
                let mut events = staged.next().unwrap_or_default();
                for batch in staged {
                    events.extend(batch);
                }
                // Whatever `merge_same_ids` left is still one record per id and batch; across
                // batches the store applies them in order.
                self.deliver_unstaged(&events, true, None);
                self.recycle(events);
            }
        }
        self.mark_durable(group.upto);
    }

    /// [`Writer::deliver`] without staging: retries, bisection, the spill file. `first`: the
    /// error of an attempt already made.
    fn deliver_unstaged(&mut self, batch: &[Event], urgent: bool, first: Option<StoreError>) {
        if self.spill_pending {
            // Newer records must not overtake spilled ones: replay first, or spill behind them.
            if urgent || self.next_probe.is_none_or(|p| p <= Instant::now()) {
                self.replay();
            }
            if self.spill_pending {
                self.spill(batch);
                return;
            }
        }
        if let Err((unwritten, e)) = self.write(batch, true, first) {
            let rest = &batch[unwritten..];
            if self.spill.is_some() {
                tracing::warn!(
                    events = rest.len(),
                    "history: the store keeps failing, spilling to disk: {e}"
                );
                self.spill(rest);
            } else {
                tracing::error!(
                    events = rest.len(),
                    "history: the store keeps failing, giving up on a batch: {e}"
                );
                self.lose(rest.len() as u64, e.to_string());
            }
        }
    }

    /// Writes `batch`, retrying transient errors (when `retry`) and splitting it to isolate
    /// records refused with a permanent error (those are lost). On a transient error that
    /// outlasts the retries: the index of the first record not written, and the error.
    fn write(
        &mut self,
        batch: &[Event],
        retry: bool,
        mut first: Option<StoreError>,
    ) -> Result<(), (usize, StoreError)> {
        let mut attempt = 0u32;
        loop {
            let e = match first.take() {
                // Counted where it happened.
                Some(e) => e,
                None => {
                    let started = self.metrics.start();
                    let written = self.store.write_batch(batch);
                    self.metrics.commit_took(started);
                    let counters = &self.shared.counters;
                    match written {
                        Ok(()) => {
                            let n = batch.len() as u64;
                            counters.written.fetch_add(n, Ordering::Relaxed);
                            counters.batches.fetch_add(1, Ordering::Relaxed);
                            self.metrics.committed(batch);
                            self.shared.subscribers.publish_copies(batch);
                            return Ok(());
                        }
                        Err(e) => {
                            counters.write_errors.fetch_add(1, Ordering::Relaxed);
                            e
                        }
                    }
                }
            };
            if e.is_transient() {
                if !retry || attempt >= self.retry.max_retries {
                    self.shared.lock().last_error = Some(e.to_string());
                    return Err((0, e));
                }
                attempt += 1;
                tracing::warn!(attempt, "history: writing a batch failed, retrying: {e}");
                std::thread::sleep(self.retry.backoff(attempt));
                continue;
            }
            if let [event] = batch {
                tracing::error!(id = %event.id, "history: the store refused an event: {e}");
                self.lose(1, e.to_string());
                return Ok(());
            }
            let mid = batch.len() / 2;
            self.write(&batch[..mid], retry, None)?;
            return self
                .write(&batch[mid..], retry, None)
                .map_err(|(i, e)| (mid + i, e));
        }
    }

    /// Appends to the spill file; what cannot be appended is lost.
    fn spill(&mut self, batch: &[Event]) {
        let Some(spill) = self.spill.as_mut() else {
            self.lose(batch.len() as u64, "no spill file".into());
            return;
        };
        match spill.append(batch) {
            Ok(()) => {
                self.shared
                    .counters
                    .spilled
                    .fetch_add(batch.len() as u64, Ordering::Relaxed);
            }
            Err(e) => {
                tracing::error!(
                    events = batch.len(),
                    "history: the store is failing and the spill file too: {e}"
                );
                self.lose(batch.len() as u64, format!("spill file: {e}"));
            }
        }
        self.after_spill_change();
        if self.spill_pending && self.next_probe.is_none() {
            self.next_probe = Some(Instant::now() + self.probe_backoff);
        }
    }

    /// One attempt to move spilled events into the store, in order.
    fn replay(&mut self) {
        let Some(mut spill) = self.spill.take() else {
            return;
        };
        let mut done = Replayed::default();
        let result = spill.replay(
            &mut |events| self.write(events, false, None).map_err(|(_, e)| e),
            &mut done,
        );
        self.spill = Some(spill);
        self.shared
            .counters
            .replayed
            .fetch_add(done.events, Ordering::Relaxed);
        if done.lost > 0 {
            let why = done
                .lost_why
                .take()
                .unwrap_or_else(|| "a spill frame could not be read".into());
            self.lose(done.lost, why);
        }
        match result {
            Ok(()) => {
                if done.events > 0 {
                    tracing::info!(events = done.events, "history: replayed spilled events");
                }
                self.next_probe = None;
                self.probe_backoff = self.retry.initial_backoff;
            }
            Err(stop) => {
                let e = match stop {
                    ReplayStop::Store(e) => e.to_string(),
                    ReplayStop::Io(e) => format!("reading the spill file: {e}"),
                };
                tracing::debug!("history: the store is still failing: {e}");
                self.next_probe = Some(Instant::now() + self.probe_backoff);
                self.probe_backoff = (self.probe_backoff * 2).min(self.retry.max_backoff);
            }
        }
        self.after_spill_change();
        let mut st = self.shared.lock();
        st.replay_done = st.replay_wanted;
        drop(st);
        self.shared.progress.notify_all();
    }

    fn after_spill_change(&mut self) {
        let unreadable = self.spill.as_mut().map_or(0, Spill::take_lost);
        if unreadable > 0 {
            self.lose(
                unreadable,
                "a spill file held no readable frame (kept aside as .corrupt-*)".into(),
            );
        }
        let pending = self.spill.as_ref().map_or(0, Spill::pending_events);
        self.spill_pending = pending > 0;
        self.shared.lock().spill_pending = pending;
    }

    fn lose(&self, count: u64, error: String) {
        let mut st = self.shared.lock();
        st.lost += count;
        st.last_error = Some(error);
    }
}
