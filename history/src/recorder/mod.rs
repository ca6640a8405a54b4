//! [`Recorder`]: takes events from the instrumented code and writes them in batches.
//!
//! The caller only validates and enqueues (no I/O, no lock held across I/O, no wake-up per
//! event); a writer thread takes whole batches off the queue and writes each in one store
//! transaction. While the store fails, batches are retried with backoff, then kept in an
//! fsync'd spill file and replayed in order once it works again. Nothing recorded is dropped
//! silently: what cannot be kept is counted and reported by [`Recorder::flush`].

mod backtraces;
mod builder;
mod merge;
mod metrics;
mod origin;
mod queue;
mod retry;
mod sink_loss;
mod spill;
mod subscription;
mod writer;

use std::fmt;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::event::{Event, EventType};
use crate::redact::Capturing;
use crate::store::{Filter, HistoryStore};
use crate::Error;

pub use builder::{Durability, RecorderBuilder};
pub use queue::Overflow;
use queue::Shared;
pub(crate) use queue::Slot;
pub use sink_loss::SinkLossCounter;
pub use subscription::{Subscription, SubscriptionStream, DEFAULT_SUBSCRIBER_BUFFER};

/// Records events into a store, off the caller's thread.
///
/// Cheap to clone (all clones share one queue and writer). [`Recorder::flush`] returns when
/// everything recorded before it is durable; [`Recorder::shutdown`], or dropping the last
/// clone, flushes and stops the writer.
///
/// ```
/// use history::{Event, EventType, MemoryStore, Recorder};
/// let recorder = Recorder::new(MemoryStore::new())?;
/// recorder.record(Event::builder(EventType::VmStart, "vm::start").vm_id(7).build()?)?;
/// recorder.flush()?;
/// assert_eq!(recorder.store().count(&history::Query::new())?, 1);
/// # Ok::<(), history::Error>(())
/// ```
#[derive(Clone)]
pub struct Recorder {
    inner: Arc<Inner>,
}

struct Inner {
    shared: Arc<Shared>,
    store: Arc<dyn HistoryStore>,
    sync_types: Vec<EventType>,
    drop_timeout: Duration,
    thread: Mutex<Option<JoinHandle<()>>>,
    capturing: Capturing,
}

/// A record of a tracked call, for [`Recorder::record_call`].
// Only ever passed down to the queue, never stored: boxing `Last` would cost an allocation.
#[allow(clippy::large_enum_variant)]
pub(crate) enum CallRecord<'a> {
    /// A copy of the event the call keeps (the event is brought within the limits first).
    Copy(&'a mut Event),
    /// The call's last record, moved.
    Last(Event),
}

impl CallRecord<'_> {
    /// The event recorded.
    pub(crate) fn event(&self) -> &Event {
        match self {
            CallRecord::Copy(event) => event,
            CallRecord::Last(event) => event,
        }
    }
}

/// Counters of a [`Recorder`], since it started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecorderStats {
    /// Events accepted into the queue.
    pub recorded: u64,
    /// Events written to the store (after merging records that share an id), replayed ones
    /// included.
    pub written: u64,
    /// Events dropped because the queue was full ([`Overflow::DropNewest`]).
    pub dropped: u64,
    /// Times a caller waited for room in a full queue ([`Overflow::Block`]).
    pub blocked: u64,
    /// Events given up on: the store refused them for good, or kept failing with no spill file.
    pub lost: u64,
    /// Failed write attempts (each retried, spilled, split or given up).
    pub write_errors: u64,
    /// Batches written.
    pub batches: u64,
    /// Events put in the spill file while the store was failing.
    pub spilled: u64,
    /// Events moved from the spill file into the store.
    pub replayed: u64,
    /// Records merged away before the write because the same batch (what the writer took off
    /// the queue at once) held another record of their event at the same stage: both
    /// unfinished (a start resent) or both finished (the same final record twice). Only these
    /// are counted. A repeat that arrives in a later batch is written like any record, counted
    /// in `written`, and the store still keeps one record per event (by the rule of
    /// [`Event::replaces`](crate::Event::replaces)); to know how many sends repeated an event,
    /// compare what was recorded with what the store holds. A start and the final record of
    /// one call merged in a batch are not duplicates.
    pub duplicates: u64,
    /// Events in the spill file now, waiting for the store.
    pub spill_pending: u64,
    /// Committed records that sinks on the change feed (an exporter, a forwarder) could not
    /// deliver and reported through a [`SinkLossCounter`]: they are in the store, but not
    /// where the sink sends them.
    pub sink_lost: u64,
    /// Events waiting in the queue now.
    pub queued: u64,
    /// The memory they hold, approximately, in bytes
    /// ([`RecorderBuilder::max_queue_bytes`]).
    pub queued_bytes: u64,
}

impl Recorder {
    /// A recorder with default settings over `store`.
    pub fn new<S: HistoryStore>(store: S) -> Result<Recorder, Error> {
        RecorderBuilder::default().build(store)
    }

    /// Settings for a recorder.
    pub fn builder() -> RecorderBuilder {
        RecorderBuilder::default()
    }

    /// Validates `event` and queues it for writing. An invalid event is refused with an error
    /// naming the field and the limit; nothing already recorded is affected.
    ///
    /// Returns at once unless the queue is full ([`Overflow`]) or the event's type is written
    /// synchronously ([`RecorderBuilder::sync_event_types`]).
    pub fn record(&self, event: Event) -> Result<(), Error> {
        self.record_with(event, Durability::Buffered)
    }

    /// [`Recorder::record`], returning only once the event is committed (to the store, or to
    /// the spill file while the store is down). For audit-critical operations.
    pub fn record_sync(&self, event: Event) -> Result<(), Error> {
        self.record_with(event, Durability::Sync)
    }

    /// [`Recorder::record`] with the durability chosen for this call.
    ///
    /// The event is redacted as tracked calls redact what they capture (see
    /// [`crate::redact`]): values under secret names in `parameters`, `result`, `execution`
    /// and labels, URL passwords everywhere. A document over the recorder's size cap ([`RecorderBuilder::max_value_bytes`],
    /// [`RecorderBuilder::max_error_bytes`]) is replaced by a marker that keeps its size.
    pub fn record_with(&self, mut event: Event, durability: Durability) -> Result<(), Error> {
        event.validate()?;
        self.inner.capturing.redact_event(&mut event);
        self.inner.capturing.fit(&mut event);
        self.enqueue(event, durability)
    }

    /// What this recorder's tracked calls capture: redaction policy and size caps.
    pub(crate) fn capturing(&self) -> &Capturing {
        &self.inner.capturing
    }

    /// Queues an event built by the instrumentation, bringing it within the limits instead
    /// of refusing it (see [`Event::fit_to_limits`]).
    pub fn record_fitted(&self, event: Event) -> Result<(), Error> {
        self.record_fitted_with(event, Durability::Buffered)
    }

    /// [`Recorder::record_fitted`] with the durability chosen for this call.
    pub fn record_fitted_with(
        &self,
        mut event: Event,
        durability: Durability,
    ) -> Result<(), Error> {
        event.fit_to_limits();
        self.inner.capturing.redact_event(&mut event);
        self.inner.capturing.fit(&mut event);
        self.enqueue(event, durability)
    }

    fn enqueue(&self, event: Event, durability: Durability) -> Result<(), Error> {
        self.enqueue_at(event, durability).map(|_| ())
    }

    /// [`Recorder::record_fitted_with`] for a record of a tracked call; returns where it
    /// waits in the queue, for [`Recorder::update_call`].
    pub(crate) fn record_call(
        &self,
        record: CallRecord<'_>,
        durability: Durability,
    ) -> Result<Slot, Error> {
        match record {
            CallRecord::Copy(event) => {
                event.fit_to_limits();
                self.inner.capturing.fit(event);
                let sync = self.is_sync(durability, &event.event_type);
                // Copied before taking the lock: other threads wait for it less.
                let (seq, slot) = self.inner.shared.push(event.clone())?;
                self.wait_if(sync, seq).map(|()| slot)
            }
            CallRecord::Last(mut event) => {
                event.fit_to_limits();
                self.inner.capturing.fit(&mut event);
                self.enqueue_at(event, durability)
            }
        }
    }

    /// Keeps the unresolved backtrace of the call `id` for the writer to turn into text on
    /// the call's final record; gives it back when the caller must resolve it itself.
    pub(crate) fn defer_backtrace(
        &self,
        id: crate::EventId,
        backtrace: std::backtrace::Backtrace,
    ) -> Result<(), std::backtrace::Backtrace> {
        self.inner.shared.backtraces.defer(id, backtrace)
    }

    fn wait_if(&self, sync: bool, seq: u64) -> Result<(), Error> {
        if sync {
            self.inner.shared.wait_durable(Some(seq), false, None)?;
        }
        Ok(())
    }

    /// Applies `change` to the record of the call `event` is the latest record of, while that
    /// record is still queued at `slot` (so the change costs no second record); else gives
    /// `change` back (apply it to `event` and [`Recorder::record_call`] it).
    pub(crate) fn update_call<C>(
        &self,
        slot: Slot,
        event: &Event,
        durability: Durability,
        change: C,
        apply: impl FnOnce(C, &mut Event),
    ) -> Result<Result<(), C>, Error> {
        let seq = match self.inner.shared.update(slot, event.id, change, apply)? {
            Ok(seq) => seq,
            Err(change) => return Ok(Err(change)),
        };
        self.wait_if(self.is_sync(durability, &event.event_type), seq)
            .map(Ok)
    }

    fn is_sync(&self, durability: Durability, event_type: &EventType) -> bool {
        durability == Durability::Sync
            || (!self.inner.sync_types.is_empty() && self.inner.sync_types.contains(event_type))
    }

    fn enqueue_at(&self, event: Event, durability: Durability) -> Result<Slot, Error> {
        let sync = self.is_sync(durability, &event.event_type);
        let (seq, slot) = self.inner.shared.push(event)?;
        self.wait_if(sync, seq).map(|()| slot)
    }

    /// Waits until every event recorded before this call is durable: in the store, or in the
    /// spill file while the store is down (then one attempt to replay it is made first).
    ///
    /// Returns [`Error::Lost`] if events were given up on since the last report (the store
    /// refused them for good, or kept failing with no spill file).
    pub fn flush(&self) -> Result<(), Error> {
        self.inner.shared.wait_durable(None, true, None)
    }

    /// [`Recorder::flush`], waiting at most `timeout` ([`Error::Timeout`] past it; the
    /// events stay queued).
    pub fn flush_timeout(&self, timeout: Duration) -> Result<(), Error> {
        self.inner
            .shared
            .wait_durable(None, true, Some(Instant::now() + timeout))
    }

    /// Flushes, then stops the writer. Later calls to [`Recorder::record`] on any clone
    /// return [`Error::Closed`]. Calling it again does nothing.
    pub fn shutdown(&self) -> Result<(), Error> {
        self.inner.shutdown(None)
    }

    /// [`Recorder::shutdown`], waiting at most `timeout` for the writer. Past it, returns
    /// [`Error::Unwritten`] with the number of events not yet durable; the writer keeps
    /// working on them in the background for as long as the process lives.
    pub fn shutdown_timeout(&self, timeout: Duration) -> Result<(), Error> {
        self.inner.shutdown(Some(Instant::now() + timeout))
    }

    /// Committed records of the events `filter` matches, delivered from the writer thread
    /// right after each commit (in-progress and final records, in commit order; also
    /// events replayed from the spill file, when they reach the store), into a buffer of
    /// [`DEFAULT_SUBSCRIBER_BUFFER`] records. A subscriber that falls behind never slows the
    /// writer: it loses its oldest buffered records and counts them
    /// ([`Subscription::lagged`]). Costs the writer nothing while nobody subscribes.
    ///
    /// Records recorded before the call are delivered if they commit after it. After
    /// [`Recorder::flush`] returns, what it waited for has been delivered.
    pub fn subscribe(&self, filter: Filter) -> Subscription {
        self.subscribe_with_buffer(filter, DEFAULT_SUBSCRIBER_BUFFER)
    }

    /// [`Recorder::subscribe`] with a buffer of `capacity` records (at least 1).
    pub fn subscribe_with_buffer(&self, filter: Filter, capacity: usize) -> Subscription {
        self.inner.shared.subscribers.subscribe(filter, capacity)
    }

    /// A counter through which a sink on the change feed reports the committed records it
    /// could not deliver ([`RecorderStats::sink_lost`], and the metric
    /// `history_recorder_sink_lost_total`). It does not keep the recorder open.
    pub fn sink_loss_counter(&self) -> SinkLossCounter {
        SinkLossCounter::new(self.inner.shared.clone())
    }

    /// The store this recorder writes to (for queries).
    pub fn store(&self) -> &Arc<dyn HistoryStore> {
        &self.inner.store
    }

    /// Counters since the recorder started.
    pub fn stats(&self) -> RecorderStats {
        let s = &self.inner.shared;
        let c = &s.counters;
        let st = s.lock();
        let (recorded, lost, spill_pending, queued, queued_bytes) = (
            st.enqueued,
            st.lost,
            st.spill_pending,
            st.queue.len() as u64,
            st.queued_bytes as u64,
        );
        drop(st);
        RecorderStats {
            recorded,
            written: c.written.load(Ordering::Relaxed),
            dropped: c.dropped.load(Ordering::Relaxed),
            blocked: c.blocked.load(Ordering::Relaxed),
            lost,
            write_errors: c.write_errors.load(Ordering::Relaxed),
            batches: c.batches.load(Ordering::Relaxed),
            spilled: c.spilled.load(Ordering::Relaxed),
            replayed: c.replayed.load(Ordering::Relaxed),
            duplicates: c.duplicates.load(Ordering::Relaxed),
            sink_lost: c.sink_lost.load(Ordering::Relaxed),
            spill_pending,
            queued,
            queued_bytes,
        }
    }

    /// Whether both handles are clones of one recorder.
    pub fn ptr_eq(a: &Recorder, b: &Recorder) -> bool {
        Arc::ptr_eq(&a.inner, &b.inner)
    }
}

impl Inner {
    fn shutdown(&self, deadline: Option<Instant>) -> Result<(), Error> {
        self.shared.close();
        let mut thread = self.thread.lock();
        if let Err(unwritten) = self.shared.wait_writer_gone(deadline) {
            // Leave the writer running (detached once the last handle goes).
            return Err(Error::Unwritten { count: unwritten });
        }
        if let Some(thread) = thread.take() {
            if thread.join().is_err() {
                tracing::error!("history: the writer thread panicked");
            }
        }
        drop(thread);
        self.shared.take_lost()
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Err(e) = self.shutdown(Some(Instant::now() + self.drop_timeout)) {
            tracing::error!("history: shutting down the recorder: {e}");
        }
    }
}

impl fmt::Debug for Recorder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Recorder")
            .field("stats", &self.stats())
            .finish()
    }
}
