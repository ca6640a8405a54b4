//! Group commit: under sustained load the writer stages consecutive batches in one open
//! store transaction and commits them together; a flush, a synchronous record or an idle
//! queue commits at once.

use std::sync::atomic::Ordering;
use std::time::Instant;

use super::{Group, Writer, GROUP_MAX_BYTES, SPARE_BUFFERS};
use crate::event::Event;

impl Writer {
    /// Gets `batch` (holding about `bytes` of memory) into the store, or the spill file, or
    /// counts what could not be kept. `None`: the batch is staged in an open group, which
    /// keeps it and marks it durable when it commits; else the batch, delivered, for reuse.
    pub(super) fn deliver(
        &mut self,
        batch: Vec<Event>,
        upto: u64,
        urgent: bool,
        bytes: usize,
    ) -> Option<Vec<Event>> {
        if !self.spill_pending {
            match self.store.stage_batch(&batch) {
                Ok(()) => {
                    let group = self.group.get_or_insert_with(|| Group {
                        events: 0,
                        bytes: 0,
                        staged: Vec::new(),
                        upto,
                        since: Instant::now(),
                    });
                    group.events += batch.len() as u64;
                    group.bytes += bytes;
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
    pub(super) fn recycle(&mut self, mut batch: Vec<Event>) {
        if self.spare.len() < SPARE_BUFFERS {
            batch.clear();
            self.spare.push(batch);
        }
    }

    /// Whether to stage the next batch into the open group rather than commit it now: only
    /// while a full batch already waits, nobody waits for durability, and the group is
    /// neither large (in events or in memory) nor old.
    fn keep_group_open(&self) -> bool {
        let Some(group) = &self.group else {
            return false;
        };
        if group.events >= self.group_commit.max_events as u64
            || group.bytes >= GROUP_MAX_BYTES
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
    pub(super) fn commit_group(&mut self) {
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
}
