//! [`RecorderBuilder`]: the settings of a [`Recorder`], and the policies they choose from.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use super::origin::Origin;
use super::queue::{Overflow, Shared};
use super::retry::Retry;
use super::spill::Spill;
use super::writer::{GroupCommit, Writer};
use super::{Inner, Recorder};
use crate::event::EventType;
use crate::redact::{Capturing, RedactionPolicy};
use crate::store::HistoryStore;
use crate::Error;

/// When a record call returns.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Durability {
    /// Return once the event is queued; it is durable within the flush interval. Event types
    /// named with [`RecorderBuilder::sync_event_types`] are still written synchronously.
    #[default]
    Buffered,
    /// Return once the event is committed to the store (or to the spill file while the store
    /// is down): for audit-critical operations.
    Sync,
}

/// Settings of a [`Recorder`]; start from [`Recorder::builder`].
#[derive(Clone, Debug)]
#[must_use = "call .build(store) to start the recorder"]
pub struct RecorderBuilder {
    capacity: usize,
    max_bytes: usize,
    batch_size: usize,
    flush_interval: Duration,
    group: GroupCommit,
    overflow: Overflow,
    retry: Retry,
    spill: SpillSetting,
    sync_types: Vec<EventType>,
    drop_timeout: Duration,
    thread_name: String,
    capturing: Capturing,
    origin: Origin,
}

#[derive(Clone, Debug)]
enum SpillSetting {
    /// Beside the store, when the store names a place ([`HistoryStore::spill_path`]).
    FromStore,
    Path(PathBuf),
    Off,
}

impl Default for RecorderBuilder {
    fn default() -> Self {
        RecorderBuilder {
            capacity: 16_384,
            max_bytes: 64 << 20,
            batch_size: 1_024,
            flush_interval: Duration::from_millis(50),
            group: GroupCommit {
                max_events: 65_536,
                max_age: Duration::from_millis(250),
            },
            overflow: Overflow::Block,
            retry: Retry {
                max_retries: 8,
                initial_backoff: Duration::from_millis(10),
                max_backoff: Duration::from_secs(1),
            },
            spill: SpillSetting::FromStore,
            sync_types: Vec::new(),
            drop_timeout: Duration::from_secs(30),
            thread_name: "history-writer".into(),
            capturing: Capturing::default(),
            origin: Origin::detect(),
        }
    }
}

impl RecorderBuilder {
    /// How many events may wait in the queue (default 16,384). Bounds the recorder's memory.
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity;
        self
    }
    /// The most memory the events waiting in the queue may hold, in bytes (default 64 MiB),
    /// counted approximately: each event's fixed size plus the lengths of its JSON values and
    /// texts. The queue is full when either this or [`capacity`](Self::capacity) is reached;
    /// then the [`Overflow`] policy applies. A single event larger than the limit is still
    /// accepted into an empty queue.
    pub fn max_queue_bytes(mut self, bytes: usize) -> Self {
        self.max_bytes = bytes;
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
    /// Group commit under sustained load: while a full batch is already waiting behind the
    /// one just written, the writer leaves the store's transaction open (stores that support
    /// it: [`HistoryStore::stage_batch`]) and commits up to `max_events` events (default
    /// 65,536) at once, or what it has after `max_age` (default 250 ms). A flush, a
    /// synchronous record, or an idle queue commits at once, so under light load every batch
    /// is its own transaction. Fewer, larger transactions write each index page once per
    /// commit instead of once per batch. `max_events` 0 turns it off. The writer keeps a
    /// group's events in memory until it commits: if the commit fails, they are retried and
    /// spilled like any batch the store refuses. So that this memory stays bounded with large
    /// records, a group also commits once its events hold about 16 MiB (approximately, as
    /// [`RecorderBuilder::max_queue_bytes`] counts them).
    pub fn group_commit(mut self, max_events: usize, max_age: Duration) -> Self {
        self.group = GroupCommit {
            max_events,
            max_age,
        };
        self
    }
    /// What to do when the queue is full (default: block).
    pub fn overflow(mut self, overflow: Overflow) -> Self {
        self.overflow = overflow;
        self
    }
    /// How often a batch the store refuses with a transient error is retried, with
    /// exponential backoff, before it goes to the spill file, or, without one, is counted as
    /// lost (default 8: about 2.5 s in all).
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.retry.max_retries = retries;
        self
    }
    /// The first and the longest wait between retries (default 10 ms and 1 s). The longest
    /// wait also paces the attempts to replay the spill file while the store is down.
    pub fn retry_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.retry.initial_backoff = initial;
        self.retry.max_backoff = max;
        self
    }
    /// Where batches go while the store keeps failing: an append-only, fsync'd file, replayed
    /// in order once the store works again, and by the next recorder that opens it. Default:
    /// the place the store names ([`HistoryStore::spill_path`]; `SqliteStore` names one beside
    /// its database), else none.
    ///
    /// Several live recorders never share a file: a busy path gets a `.1`, `.2`, … suffix.
    pub fn spill_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.spill = SpillSetting::Path(path.into());
        self
    }
    /// No spill file: batches the store keeps refusing are counted as lost and reported by
    /// [`Recorder::flush`].
    pub fn no_spill(mut self) -> Self {
        self.spill = SpillSetting::Off;
        self
    }
    /// Records of these event types are written synchronously: the record call returns once
    /// the event is committed (as [`Durability::Sync`] does for one call).
    pub fn sync_event_types(mut self, types: impl IntoIterator<Item = EventType>) -> Self {
        self.sync_types.extend(types);
        self
    }
    /// How long dropping the last handle waits for the writer to finish (default 30 s). Past
    /// it, the drop returns and logs how many events were not written.
    pub fn drop_timeout(mut self, timeout: Duration) -> Self {
        self.drop_timeout = timeout;
        self
    }
    /// The writer thread's name (default `history-writer`).
    pub fn thread_name(mut self, name: impl Into<String>) -> Self {
        self.thread_name = name.into();
        self
    }
    /// Which names tracked calls redact, at any depth of what they capture (default:
    /// [`RedactionPolicy::default`]); see [`crate::redact`].
    pub fn redaction(mut self, policy: RedactionPolicy) -> Self {
        self.capturing.policy = policy;
        self
    }
    /// The largest captured document kept, in bytes of JSON text: each argument, the
    /// parameters as a whole, the result, and the execution details (default 64 KiB). A
    /// larger one is replaced by a marker that keeps its size.
    pub fn max_value_bytes(mut self, bytes: usize) -> Self {
        self.capturing.max_value_bytes = bytes;
        self
    }
    /// The longest error text kept, in bytes: the message, each source, the `Debug` form and
    /// the backtrace (default 8 KiB). A longer one is cut, ending with a marker that keeps
    /// its size.
    pub fn max_error_bytes(mut self, bytes: usize) -> Self {
        self.capturing.max_error_bytes = bytes;
        self
    }
    /// The host set on every event that has none ([`Event::host`](crate::Event::host)).
    /// Default: this machine's host name. Set it where the host name says little (a
    /// container's random name): a pod or node name, say.
    pub fn host(mut self, host: impl Into<String>) -> Self {
        self.origin.host = Some(host.into());
        self
    }
    /// The service set on every event that has none
    /// ([`Event::service`](crate::Event::service)). Default: this program's file name.
    pub fn service(mut self, service: impl Into<String>) -> Self {
        self.origin.service = Some(service.into());
        self
    }

    /// Starts the writer thread over `store`.
    pub fn build<S: HistoryStore>(self, store: S) -> Result<Recorder, Error> {
        self.build_shared(Arc::new(store))
    }

    /// Starts the writer thread over a store that is shared with other code.
    ///
    /// Spill files left by a recorder that did not finish (a crash, a store that was down at
    /// exit) are adopted here and replayed first; records in them that never finished are
    /// written as [`Interrupted`](crate::EventStatus::Interrupted).
    pub fn build_shared(self, store: Arc<dyn HistoryStore>) -> Result<Recorder, Error> {
        self.check()?;
        let spill_path = match self.spill {
            SpillSetting::FromStore => store.spill_path(),
            SpillSetting::Path(p) => Some(p),
            SpillSetting::Off => None,
        };
        let spill = match spill_path {
            Some(path) => Some(Spill::open(path)?),
            None => None,
        };
        let shared = Arc::new(Shared::new(
            self.capacity,
            self.max_bytes,
            self.batch_size,
            self.overflow,
            self.capturing.max_error_bytes,
        ));
        if let Some(spill) = &spill {
            shared.lock().spill_pending = spill.pending_events();
        }
        let writer = Writer::new(
            shared.clone(),
            store.clone(),
            self.flush_interval,
            self.group,
            self.retry,
            spill,
            self.origin,
        );
        let thread = std::thread::Builder::new()
            .name(self.thread_name)
            .spawn(move || writer.run())?;
        Ok(Recorder {
            inner: Arc::new(Inner {
                shared,
                store,
                sync_types: self.sync_types,
                drop_timeout: self.drop_timeout,
                thread: Mutex::new(Some(thread)),
                capturing: self.capturing,
            }),
        })
    }

    fn check(&self) -> Result<(), Error> {
        if self.capacity == 0 {
            return Err(Error::invalid("capacity", "must be at least 1 (got 0)"));
        }
        if self.max_bytes == 0 {
            return Err(Error::invalid(
                "max_queue_bytes",
                "must be at least 1 (got 0)",
            ));
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
        if self.capturing.max_value_bytes < 64 {
            return Err(Error::invalid(
                "max_value_bytes",
                format!(
                    "must be at least 64 (got {})",
                    self.capturing.max_value_bytes
                ),
            ));
        }
        if self.capturing.max_error_bytes < 64 {
            return Err(Error::invalid(
                "max_error_bytes",
                format!(
                    "must be at least 64 (got {})",
                    self.capturing.max_error_bytes
                ),
            ));
        }
        for (field, value) in [
            ("host", &self.origin.host),
            ("service", &self.origin.service),
        ] {
            if let Some(v) = value {
                crate::event::limits::check_id(field, v)?;
            }
        }
        if self.flush_interval.is_zero() {
            return Err(Error::invalid("flush_interval", "must be longer than zero"));
        }
        if self.retry.initial_backoff > self.retry.max_backoff {
            return Err(Error::invalid(
                "retry_backoff",
                "the initial wait must not be longer than the longest",
            ));
        }
        Ok(())
    }
}
