//! When the store refuses a batch: retries with backoff for transient errors, the spill file
//! while the store keeps refusing (replayed in order once it works again), and splitting the
//! batch in halves to isolate records refused with a permanent error; only those are lost.
//! Batches staged in a group whose commit failed (disk full, I/O error) take the same path.

use std::sync::atomic::Ordering;
use std::time::Instant;

use super::Writer;
use crate::event::Event;
use crate::recorder::spill::{ReplayStop, Replayed, Spill};
use crate::store::StoreError;

impl Writer {
    /// [`Writer::deliver`] without staging: retries, bisection, the spill file. `first`: the
    /// error of an attempt already made.
    pub(super) fn deliver_unstaged(
        &mut self,
        batch: &[Event],
        urgent: bool,
        first: Option<StoreError>,
    ) {
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
    pub(super) fn replay(&mut self) {
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

    pub(super) fn after_spill_change(&mut self) {
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
