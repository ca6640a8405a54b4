//! Where events are kept: the [`HistoryStore`] trait every backend implements.

mod memory;
mod query;

use std::path::PathBuf;
use std::sync::Arc;

pub use memory::MemoryStore;
pub use query::{Cursor, Order, Page, Query, DEFAULT_LIMIT, MAX_LIMIT};

use crate::event::{Event, EventId};
use crate::retention::{PurgeReport, Retention};
use crate::stats::{Stats, StatsQuery};

/// A boxed error from a backend.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A storage backend for events.
///
/// Synchronous and object-safe on purpose: writes happen on the recorder's own thread, and
/// async callers offload queries. Every backend passes the conformance suite
/// (`history::conformance`, feature `conformance`), of which [`MemoryStore`] is the reference.
pub trait HistoryStore: Send + Sync + 'static {
    /// Writes `batch` atomically (one transaction). Upserts by id: writing an event whose id
    /// is stored replaces it if [`Event::replaces`] says so (stored state only moves forward:
    /// an in-progress or older record arriving after the final one is ignored), so writing
    /// the same batch twice stores it once. Records of one id within a batch are applied in
    /// order under the same rule.
    fn write_batch(&self, batch: &[Event]) -> Result<(), StoreError>;

    /// Group commit: writes `batch` into a transaction the store keeps open, to be made
    /// durable (and visible) together with the batches staged after it by
    /// [`commit_staged`](HistoryStore::commit_staged). The recorder stages while a full batch
    /// is already waiting behind this one, and commits as soon as nothing is, or a flush
    /// waits, or the group is large or old; so under light load every batch commits at once.
    ///
    /// On error, nothing of `batch` is written and what was staged before stays staged (or,
    /// if the store lost it, the next `commit_staged` says so). The default writes `batch`
    /// durably at once ([`write_batch`](HistoryStore::write_batch)): stores without such
    /// transactions need nothing more.
    fn stage_batch(&self, batch: &[Event]) -> Result<(), StoreError> {
        self.write_batch(batch)
    }

    /// Makes every staged batch durable. On error, all batches staged since the last commit
    /// are lost (rolled back). The default has nothing to do.
    fn commit_staged(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// The event with this id, if stored.
    fn get(&self, id: EventId) -> Result<Option<Event>, StoreError>;

    /// One page of the events that match `query`, in its order, with a cursor for the next.
    fn query(&self, query: &Query) -> Result<Page<Event>, StoreError>;

    /// How many events match `query`'s filters (its order, limit and cursor are ignored).
    fn count(&self, query: &Query) -> Result<u64, StoreError>;

    /// Where a [`Recorder`](crate::Recorder) keeps batches while this store keeps failing
    /// (a file beside the database), unless told otherwise. `None` (the default): nowhere.
    fn spill_path(&self) -> Option<PathBuf> {
        None
    }

    /// Counts, success rate and duration percentiles of the events matching `query.filter`,
    /// optionally grouped. The figures are defined by [`stats::compute`](crate::stats::compute).
    /// The default reads every matching event through [`HistoryStore::query`]; backends
    /// answer faster.
    fn stats(&self, query: &StatsQuery) -> Result<Stats, StoreError> {
        let mut events = Vec::new();
        let mut q = query.filter.clone();
        q.limit = MAX_LIMIT;
        q.cursor = None;
        loop {
            let page = self.query(&q)?;
            events.extend(page.items);
            match page.next_cursor {
                Some(c) => q.cursor = Some(c),
                None => break,
            }
        }
        Ok(crate::stats::compute(query, &events))
    }

    /// Deletes the events `policy` selects (see [`Retention::select`]), or only reports
    /// them on a dry run. The default supports only dry runs.
    fn purge(&self, policy: &Retention) -> Result<PurgeReport, StoreError> {
        policy.validate()?;
        if !policy.dry_run {
            return Err(StoreError::Backend(
                "this store does not support deleting events".into(),
            ));
        }
        let mut events = Vec::new();
        let mut q = Query::new().limit(MAX_LIMIT);
        loop {
            let page = self.query(&q)?;
            events.extend(page.items);
            match page.next_cursor {
                Some(c) => q.cursor = Some(c),
                None => break,
            }
        }
        let ids: std::collections::HashSet<EventId> = policy.select(&events).into_iter().collect();
        Ok(PurgeReport::of(
            events.iter().filter(|e| ids.contains(&e.id)),
            true,
        ))
    }
}

impl<S: HistoryStore + ?Sized> HistoryStore for Arc<S> {
    fn write_batch(&self, batch: &[Event]) -> Result<(), StoreError> {
        (**self).write_batch(batch)
    }
    fn stage_batch(&self, batch: &[Event]) -> Result<(), StoreError> {
        (**self).stage_batch(batch)
    }
    fn commit_staged(&self) -> Result<(), StoreError> {
        (**self).commit_staged()
    }
    fn get(&self, id: EventId) -> Result<Option<Event>, StoreError> {
        (**self).get(id)
    }
    fn query(&self, query: &Query) -> Result<Page<Event>, StoreError> {
        (**self).query(query)
    }
    fn count(&self, query: &Query) -> Result<u64, StoreError> {
        (**self).count(query)
    }
    fn spill_path(&self) -> Option<PathBuf> {
        (**self).spill_path()
    }
    fn stats(&self, query: &StatsQuery) -> Result<Stats, StoreError> {
        (**self).stats(query)
    }
    fn purge(&self, policy: &Retention) -> Result<PurgeReport, StoreError> {
        (**self).purge(policy)
    }
}

impl<S: HistoryStore + ?Sized> HistoryStore for Box<S> {
    fn write_batch(&self, batch: &[Event]) -> Result<(), StoreError> {
        (**self).write_batch(batch)
    }
    fn stage_batch(&self, batch: &[Event]) -> Result<(), StoreError> {
        (**self).stage_batch(batch)
    }
    fn commit_staged(&self) -> Result<(), StoreError> {
        (**self).commit_staged()
    }
    fn get(&self, id: EventId) -> Result<Option<Event>, StoreError> {
        (**self).get(id)
    }
    fn query(&self, query: &Query) -> Result<Page<Event>, StoreError> {
        (**self).query(query)
    }
    fn count(&self, query: &Query) -> Result<u64, StoreError> {
        (**self).count(query)
    }
    fn spill_path(&self) -> Option<PathBuf> {
        (**self).spill_path()
    }
    fn stats(&self, query: &StatsQuery) -> Result<Stats, StoreError> {
        (**self).stats(query)
    }
    fn purge(&self, policy: &Retention) -> Result<PurgeReport, StoreError> {
        (**self).purge(policy)
    }
}

/// What a store reports.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The store cannot be reached or is busy right now; the same call may succeed later
    /// (the recorder retries these).
    #[error("store unavailable: {0}")]
    Unavailable(#[source] BoxError),
    /// The query (or its cursor) is not valid.
    #[error("invalid query: {0}")]
    InvalidQuery(String),
    /// Stored data could not be read back.
    #[error("stored data is unreadable: {0}")]
    Corrupt(String),
    /// Any other backend failure.
    #[error("{0}")]
    Backend(#[source] BoxError),
}

impl StoreError {
    /// Whether retrying the same call may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }
}
