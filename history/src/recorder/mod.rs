//! [`Recorder`]: takes events from the instrumented code and writes them in batches.
//!
//! The caller only validates and enqueues (no I/O, no lock held across I/O); a writer thread
//! takes whole batches off the queue and writes each in one store transaction.

mod queue;
mod writer;

use std::fmt;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::event::Event;
use crate::store::HistoryStore;
use crate::Error;

use queue::Shared;

/// What [`Recorder::record`] does when the queue is full.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Overflow {
    /// Wait until the writer makes room (the default: nothing is lost).
    #[default]
    Block,
    /// Drop the new event, count it ([`RecorderStats::dropped`]) and return
    /// [`Error::QueueFull`].
    DropNewest,
}

/// Settings of a [`Recorder`]; start from [`Recorder::builder`].
#[derive(Clone, Debug)]
#[must_use = "call .build(store) to start the recorder"]
pub struct RecorderBuilder {
    capacity: usize,
    batch_size: usize,
    flush_interval: Duration,
    overflow: Overflow,
    max_retries: u32,
    thread_name: String,
}

impl Default for RecorderBuilder {
    fn default() -> Self {
        RecorderBuilder {
            capacity: 16_384,
            batch_size: 1_024,
            flush_interval: Duration::from_millis(50),
            overflow: Overflow::Block,
            max_retries: 8,
            thread_name: "history-writer".into(),
        }
    }
}

impl RecorderBuilder {
    /// How many events may wait in the queue (default 16,384).
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity;
        self
    }
    /// Wake the writer once this many events wait (default 1,024).
    pub fn batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size;
        self
    }
    /// The longest an event waits in the queue before the writer takes it (default 50 ms, so
    /// an event is durable within about 100 ms).
    pub fn flush_interval(mut self, interval: Duration) -> Self {
        self.flush_interval = interval;
        self
    }
    /// What to do when the queue is full (default: block).
    pub fn overflow(mut self, overflow: Overflow) -> Self {
        self.overflow = overflow;
        self
    }
    /// How often a failing batch is retried, with backoff, before it is given up and counted
    /// as lost (default 8, about 5 s in all).
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.max_retries = retries;
        self
    }
    /// The writer thread's name (default `history-writer`).
    pub fn thread_name(mut self, name: impl Into<String>) -> Self {
        self.thread_name = name.into();
        self
    }

    /// Starts the writer thread over `store`.
    pub fn build<S: HistoryStore>(self, store: S) -> Result<Recorder, Error> {
        self.build_shared(Arc::new(store))
    }

    /// Starts the writer thread over a store that is shared with other code.
    pub fn build_shared(self, store: Arc<dyn HistoryStore>) -> Result<Recorder, Error> {
        if self.capacity == 0 {
            return Err(Error::invalid("capacity", "must be at least 1 (got 0)"));
        }
        if self.batch_size == 0 || self.batch_size > self.capacity {
            return Err(Error::invalid(
                "batch_size",
                format!(
                    "must be 1 to capacity ({}) (got {})",
                    self.capacity, self.batch_size
                ),
            ));
        }
        if self.flush_interval.is_zero() {
            return Err(Error::invalid("flush_interval", "must be longer than zero"));
        }
        let shared = Arc::new(Shared::new(self.capacity, self.batch_size, self.overflow));
        let writer = writer::Writer {
            shared: shared.clone(),
            store: store.clone(),
            flush_interval: self.flush_interval,
            max_retries: self.max_retries,
        };
        let thread = std::thread::Builder::new()
            .name(self.thread_name)
            .spawn(move || writer.run())?;
        Ok(Recorder {
            inner: Arc::new(Inner {
                shared,
                store,
                thread: Mutex::new(Some(thread)),
            }),
        })
    }
}

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
    thread: Mutex<Option<JoinHandle<()>>>,
}

/// Counters of a [`Recorder`], since it started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecorderStats {
    /// Events accepted into the queue.
    pub recorded: u64,
    /// Events written to the store (after merging records that share an id).
    pub written: u64,
    /// Events dropped because the queue was full ([`Overflow::DropNewest`]).
    pub dropped: u64,
    /// Events given up on because the store kept failing.
    pub lost: u64,
    /// Failed write attempts (each retried or given up).
    pub write_errors: u64,
    /// Batches written.
    pub batches: u64,
    /// Events waiting in the queue now.
    pub queued: u64,
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
    pub fn record(&self, event: Event) -> Result<(), Error> {
        event.validate()?;
        self.inner.shared.push(event)
    }

    /// Queues an event built by the instrumentation, bringing it within the limits instead
    /// of refusing it (see [`Event::fit_to_limits`]).
    pub fn record_fitted(&self, mut event: Event) -> Result<(), Error> {
        event.fit_to_limits();
        self.inner.shared.push(event)
    }

    /// Waits until every event recorded before this call is durable in the store.
    ///
    /// Returns [`Error::Lost`] if some of them were given up on because the store kept
    /// failing.
    pub fn flush(&self) -> Result<(), Error> {
        self.inner.shared.flush(None)
    }

    /// [`Recorder::flush`], waiting at most `timeout` ([`Error::Timeout`] past it; the
    /// events stay queued).
    pub fn flush_timeout(&self, timeout: Duration) -> Result<(), Error> {
        self.inner.shared.flush(Some(Instant::now() + timeout))
    }

    /// Flushes, then stops the writer. Later calls to [`Recorder::record`] on any clone
    /// return [`Error::Closed`]. Calling it again does nothing.
    pub fn shutdown(&self) -> Result<(), Error> {
        self.inner.shutdown()
    }

    /// The store this recorder writes to (for queries).
    pub fn store(&self) -> &Arc<dyn HistoryStore> {
        &self.inner.store
    }

    /// Counters since the recorder started.
    pub fn stats(&self) -> RecorderStats {
        let s = &self.inner.shared;
        let c = &s.counters;
        RecorderStats {
            recorded: c.recorded.load(Ordering::Relaxed),
            written: c.written.load(Ordering::Relaxed),
            dropped: c.dropped.load(Ordering::Relaxed),
            lost: c.lost.load(Ordering::Relaxed),
            write_errors: c.write_errors.load(Ordering::Relaxed),
            batches: c.batches.load(Ordering::Relaxed),
            queued: s.queued() as u64,
        }
    }

    /// Whether both handles are clones of one recorder.
    pub fn ptr_eq(a: &Recorder, b: &Recorder) -> bool {
        Arc::ptr_eq(&a.inner, &b.inner)
    }
}

impl Inner {
    fn shutdown(&self) -> Result<(), Error> {
        let lost_before = self.shared.counters.lost.load(Ordering::Relaxed);
        self.shared.close();
        let thread = self.thread.lock().take();
        if let Some(thread) = thread {
            if thread.join().is_err() {
                tracing::error!("history: the writer thread panicked");
            }
        }
        self.shared.lost_since(lost_before)
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Err(e) = self.shutdown() {
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
