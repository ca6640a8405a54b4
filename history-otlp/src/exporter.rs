//! [`OtlpExporter`]: the export thread and its handle.
//!
//! The thread reads the recorder's change feed through a bounded
//! [`Subscription`](history::Subscription), gathers final records into batches (full, or
//! due after the batch delay), and POSTs each batch, retrying with backoff while the
//! receiver is down. It holds one batch at a time: while it waits, new records wait in the
//! subscription's buffer, and when that is full the oldest are lost and counted. The writer
//! of the recorder never waits for it.

use std::fmt;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use history::{Event, SinkLossCounter, Subscription};

use crate::error::OtlpError;
use crate::request::Encoder;
use crate::stats::{Counters, ExportStats};
use crate::transport::{Outcome, Transport};

/// How long an idle export thread sleeps before it looks at the stop flag again.
const IDLE_POLL: Duration = Duration::from_millis(100);

/// How long [`OtlpExporter::shutdown`] and dropping the exporter give it to send what it
/// holds.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

/// The batching and retry settings the thread runs with.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Settings {
    pub(crate) max_batch: usize,
    pub(crate) max_delay: Duration,
    pub(crate) retry_for: Duration,
    pub(crate) initial_backoff: Duration,
    pub(crate) max_backoff: Duration,
}

/// Exports a [`Recorder`](history::Recorder)'s final records as OTLP log records to an
/// OTLP/HTTP receiver (an OpenTelemetry Collector, or any backend that takes OTLP), from a
/// thread of its own.
///
/// Made by [`OtlpExporter::builder`](crate::OtlpExporter::builder). It never slows the recorder: records wait in a bounded
/// buffer, a batch that cannot be sent is retried with backoff, and whatever cannot be
/// delivered is counted in [`ExportStats`] and in the recorder's
/// [`RecorderStats::sink_lost`](history::RecorderStats::sink_lost).
///
/// It stops by itself, after sending what it holds, when the recorder shuts down;
/// [`OtlpExporter::shutdown`] (or dropping it) stops it earlier.
pub struct OtlpExporter {
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
    origin: String,
}

/// What the handle and the thread share.
#[derive(Default)]
struct Shared {
    counters: Counters,
    stop: Mutex<Stop>,
    /// Wakes the thread out of a backoff wait when it is told to stop.
    wake: Condvar,
}

#[derive(Default, Clone, Copy)]
struct Stop {
    requested: bool,
    /// Past this, retries stop and what is left is given up.
    deadline: Option<Instant>,
}

impl Shared {
    fn stop(&self) -> MutexGuard<'_, Stop> {
        self.stop.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl OtlpExporter {
    pub(crate) fn spawn(
        subscription: Subscription,
        losses: SinkLossCounter,
        transport: Transport,
        encoder: Encoder,
        settings: Settings,
    ) -> Result<OtlpExporter, OtlpError> {
        let shared = Arc::new(Shared::default());
        let origin = transport.origin();
        let worker = Worker {
            shared: shared.clone(),
            subscription,
            losses,
            transport,
            encoder,
            settings,
            lagged_seen: 0,
            drain_left: None,
            stop_deadline: None,
        };
        let thread = std::thread::Builder::new()
            .name("history-otlp".into())
            .spawn(move || worker.run())
            .map_err(OtlpError::Spawn)?;
        Ok(OtlpExporter {
            shared,
            thread: Mutex::new(Some(thread)),
            origin,
        })
    }

    /// Counters since the exporter started.
    pub fn stats(&self) -> ExportStats {
        self.shared.counters.snapshot()
    }

    /// Whether the export thread has stopped (after [`OtlpExporter::shutdown`], or because
    /// the recorder shut down).
    pub fn is_finished(&self) -> bool {
        self.thread
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .is_none_or(JoinHandle::is_finished)
    }

    /// Stops the exporter: sends what it holds (what is already in its buffer), retrying for
    /// at most [`DEFAULT_SHUTDOWN_TIMEOUT`], gives up the rest (counted) and waits for the
    /// thread. Calling it again does nothing.
    pub fn shutdown(&self) -> Result<(), OtlpError> {
        self.shutdown_timeout(DEFAULT_SHUTDOWN_TIMEOUT)
    }

    /// [`OtlpExporter::shutdown`] giving the exporter `timeout` to send what it holds.
    /// Returns [`OtlpError::Timeout`] if the thread is still busy well past it (a request
    /// in flight when the deadline came); it then finishes in the background.
    pub fn shutdown_timeout(&self, timeout: Duration) -> Result<(), OtlpError> {
        let deadline = Instant::now() + timeout;
        {
            let mut stop = self.shared.stop();
            if !stop.requested {
                *stop = Stop {
                    requested: true,
                    deadline: Some(deadline),
                };
            }
        }
        self.shared.wake.notify_all();
        let mut slot = self.thread.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(thread) = slot.take() else {
            return Ok(());
        };
        // A request in flight at the deadline may still take its own timeout.
        let patience = deadline + Duration::from_secs(1);
        while !thread.is_finished() {
            if Instant::now() >= patience {
                return Err(OtlpError::Timeout(timeout));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        thread.join().map_err(|_| OtlpError::Panicked)
    }
}

impl Drop for OtlpExporter {
    fn drop(&mut self) {
        if let Err(e) = self.shutdown() {
            tracing::warn!("history-otlp: stopping the exporter: {e}");
        }
    }
}

impl fmt::Debug for OtlpExporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OtlpExporter")
            .field("receiver", &self.origin)
            .field("stats", &self.stats())
            .finish()
    }
}

/// The export thread's state.
struct Worker {
    shared: Arc<Shared>,
    subscription: Subscription,
    losses: SinkLossCounter,
    transport: Transport,
    encoder: Encoder,
    settings: Settings,
    /// The subscription's lag already counted.
    lagged_seen: u64,
    /// Once told to stop: how many buffered records are still to be sent.
    drain_left: Option<usize>,
    /// Once told to stop: when to give up what is left.
    stop_deadline: Option<Instant>,
}

impl Worker {
    fn run(mut self) {
        let mut batch: Vec<Arc<Event>> = Vec::with_capacity(self.settings.max_batch);
        loop {
            let ended = self.collect(&mut batch);
            self.count_lag();
            if !batch.is_empty() {
                self.export(&batch);
                batch.clear();
            }
            if ended {
                break;
            }
        }
        // Told to stop: what the buffer still holds is given up.
        let mut left = 0;
        while self.subscription.try_next().is_some() {
            left += 1;
        }
        self.give_up(left);
        self.count_lag();
        self.shared.counters.buffered.store(0, Ordering::Relaxed);
    }

    /// Fills `batch` until it is full or due; returns whether nothing more will come once
    /// this batch is sent: the recorder shut down and its buffer is read, or the exporter was
    /// told to stop and what its buffer held then is taken (or the stop deadline passed).
    fn collect(&mut self, batch: &mut Vec<Arc<Event>>) -> bool {
        let mut due: Option<Instant> = None;
        self.look_for_stop();
        loop {
            if let Some(left) = self.drain_left {
                let late = self.stop_deadline.is_some_and(|d| Instant::now() >= d);
                if left == 0 || late {
                    return true;
                }
            }
            if batch.len() >= self.settings.max_batch {
                return false;
            }
            if let Some(e) = self.subscription.try_next() {
                due.get_or_insert_with(|| Instant::now() + self.settings.max_delay);
                batch.push(e);
                if let Some(left) = &mut self.drain_left {
                    *left -= 1;
                }
                continue;
            }
            self.look_for_stop();
            if self.subscription.is_closed() || self.drain_left.is_some() {
                // Read to the end.
                return true;
            }
            let wait = match due {
                None => IDLE_POLL,
                Some(due) => {
                    let now = Instant::now();
                    if now >= due {
                        return false;
                    }
                    (due - now).min(IDLE_POLL)
                }
            };
            if let Some(e) = self.subscription.next_timeout(wait) {
                due.get_or_insert_with(|| Instant::now() + self.settings.max_delay);
                batch.push(e);
            }
        }
    }

    /// Notes a request to stop: from then on, only what the buffer holds is sent.
    fn look_for_stop(&mut self) {
        if self.drain_left.is_none() {
            let stop = *self.shared.stop();
            if stop.requested {
                self.drain_left = Some(self.subscription.buffered());
                self.stop_deadline = stop.deadline;
            }
        }
    }

    /// Reports the records the subscription lost since the last look.
    fn count_lag(&mut self) {
        let lagged = self.subscription.lagged();
        let new = lagged.saturating_sub(self.lagged_seen);
        self.lagged_seen = lagged;
        let counters = &self.shared.counters;
        counters
            .buffered
            .store(self.subscription.buffered() as u64, Ordering::Relaxed);
        if new > 0 {
            counters.lagged.fetch_add(new, Ordering::Relaxed);
            self.losses.add(new);
        }
    }

    fn give_up(&self, records: u64) {
        if records > 0 {
            self.shared
                .counters
                .dropped
                .fetch_add(records, Ordering::Relaxed);
            self.losses.add(records);
        }
    }

    /// Sends one batch, retrying while the failure is worth it and time allows.
    fn export(&mut self, batch: &[Arc<Event>]) {
        let body = self.encoder.encode(batch);
        let records = batch.len() as u64;
        let shared = self.shared.clone();
        let counters = &shared.counters;
        let started = Instant::now();
        let mut backoff = self.settings.initial_backoff;
        let mut failures = 0u32;
        loop {
            let (reason, wait) = match self.transport.send(&body) {
                Outcome::Accepted { rejected } => {
                    let rejected = rejected.min(records);
                    counters
                        .exported
                        .fetch_add(records - rejected, Ordering::Relaxed);
                    counters.batches.fetch_add(1, Ordering::Relaxed);
                    if rejected > 0 {
                        counters.rejected.fetch_add(rejected, Ordering::Relaxed);
                        self.losses.add(rejected);
                        tracing::warn!(
                            "history-otlp: {} rejected {rejected} of {records} records",
                            self.transport.origin()
                        );
                    }
                    if failures > 0 {
                        tracing::info!(
                            "history-otlp: {} takes records again after {failures} failed attempts",
                            self.transport.origin()
                        );
                    }
                    return;
                }
                Outcome::Refused { reason } => {
                    counters.failed_attempts.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(
                        "history-otlp: {} refused {records} records ({reason}); they are dropped",
                        self.transport.origin()
                    );
                    self.give_up(records);
                    return;
                }
                Outcome::Retry { reason, after } => {
                    counters.failed_attempts.fetch_add(1, Ordering::Relaxed);
                    if failures == 0 {
                        tracing::warn!(
                            "history-otlp: cannot send to {} ({reason}); retrying",
                            self.transport.origin()
                        );
                    }
                    failures += 1;
                    let max = self.settings.max_backoff;
                    let wait = after.map_or(backoff, |a| a.max(backoff).min(max));
                    backoff = (backoff * 2).min(max);
                    (reason, wait)
                }
            };
            self.count_lag();
            let limit = started + self.settings.retry_for;
            if !self.sleep_until_retry(wait, limit) {
                tracing::warn!(
                    "history-otlp: gave up sending {records} records to {} after {failures} attempts ({reason})",
                    self.transport.origin()
                );
                self.give_up(records);
                return;
            }
        }
    }

    /// Waits `wait` before the next attempt; false when there is no time for one (past the
    /// retry limit, or past the shutdown deadline).
    fn sleep_until_retry(&self, wait: Duration, limit: Instant) -> bool {
        let wake_at = Instant::now() + wait;
        let mut stop = self.shared.stop();
        loop {
            let end = match stop.deadline {
                Some(deadline) => deadline.min(limit),
                None => limit,
            };
            if wake_at > end {
                return false;
            }
            let now = Instant::now();
            if now >= wake_at {
                return true;
            }
            stop = self
                .shared
                .wake
                .wait_timeout(stop, wake_at - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}
