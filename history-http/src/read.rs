//! [`AsyncStore`]: the read side of a [`HistoryStore`] for async code.
//!
//! Stores are synchronous (their writes run on the recorder's thread, and SQLite is a
//! blocking library). An `AsyncStore` runs each read on tokio's blocking pool
//! ([`tokio::task::spawn_blocking`]), so a handler awaiting it never blocks the runtime's
//! worker threads. It is cheap to clone (one `Arc`).
//!
//! Every event it returns is redacted again under its [`RedactionPolicy`] (the default
//! unless [`AsyncStore::redaction`] says otherwise): what a recorder stored is redacted
//! already, but an event written by hand or by another tool may carry a secret under a
//! secret name or a password in a URL, and nothing served should. [`AsyncStore::run`] gives
//! the store itself, unredacted.
//!
//! ```
//! use std::sync::Arc;
//! use history::{MemoryStore, Query};
//! use history_http::AsyncStore;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), history_http::ReadError> {
//! let store = AsyncStore::new(Arc::new(MemoryStore::new()));
//! let page = store.query(Query::new().limit(50)).await?;
//! assert!(page.items.is_empty());
//! # Ok(()) }
//! ```

use std::fmt;
use std::sync::Arc;

use history::diff::EventDiff;
use history::redact::RedactionPolicy;
use history::stats::{Stats, StatsQuery};
use history::{
    ChangePage, ChangeToken, Event, EventId, EventStatus, Filter, HistoryStore, Page, Query,
    StoreError,
};

/// What an [`AsyncStore`] read can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// The store refused the read or failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// No event has this id.
    #[error("no event with id {0}")]
    NotFound(EventId),
    /// The blocking task did not finish: the store panicked, or the runtime is shutting down.
    #[error("the read did not finish: {0}")]
    Interrupted(String),
}

/// The reads of a [`HistoryStore`], as `async fn`s that run on tokio's blocking pool (see
/// the [module docs](self)).
#[derive(Clone)]
pub struct AsyncStore {
    store: Arc<dyn HistoryStore>,
    redaction: Arc<RedactionPolicy>,
}

impl fmt::Debug for AsyncStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncStore").finish_non_exhaustive()
    }
}

impl<S: HistoryStore> From<Arc<S>> for AsyncStore {
    fn from(store: Arc<S>) -> Self {
        AsyncStore {
            store,
            redaction: Arc::default(),
        }
    }
}

impl From<Arc<dyn HistoryStore>> for AsyncStore {
    fn from(store: Arc<dyn HistoryStore>) -> Self {
        AsyncStore {
            store,
            redaction: Arc::default(),
        }
    }
}

impl From<&history::Recorder> for AsyncStore {
    /// The store the recorder writes to.
    fn from(recorder: &history::Recorder) -> Self {
        AsyncStore {
            store: recorder.store().clone(),
            redaction: Arc::default(),
        }
    }
}

impl AsyncStore {
    /// Reads `store` (an `Arc` of any store, or `recorder.store().clone()`).
    pub fn new(store: impl Into<AsyncStore>) -> AsyncStore {
        store.into()
    }

    /// Redacts the events it returns under `policy` instead of the default one (use the
    /// recorder's policy when it names more secrets).
    pub fn redaction(mut self, policy: RedactionPolicy) -> AsyncStore {
        self.redaction = Arc::new(policy);
        self
    }

    /// `event`, redacted under this store's policy.
    fn shown(policy: &RedactionPolicy, mut event: Event) -> Event {
        policy.redact_event(&mut event);
        event
    }

    /// The synchronous store underneath.
    pub fn store(&self) -> &Arc<dyn HistoryStore> {
        &self.store
    }

    /// Runs `read` with the store on the blocking pool.
    pub async fn run<T, F>(&self, read: F) -> Result<T, ReadError>
    where
        T: Send + 'static,
        F: FnOnce(&dyn HistoryStore) -> Result<T, ReadError> + Send + 'static,
    {
        let store = self.store.clone();
        match tokio::task::spawn_blocking(move || read(store.as_ref())).await {
            Ok(result) => result,
            Err(e) => Err(ReadError::Interrupted(e.to_string())),
        }
    }

    /// One page of events ([`HistoryStore::query`]).
    pub async fn query(&self, query: Query) -> Result<Page<Event>, ReadError> {
        let policy = self.redaction.clone();
        self.run(move |s| {
            let mut page = s.query(&query)?;
            page.items.iter_mut().for_each(|e| policy.redact_event(e));
            Ok(page)
        })
        .await
    }

    /// The event `id` ([`ReadError::NotFound`] when there is none).
    pub async fn get(&self, id: EventId) -> Result<Event, ReadError> {
        let policy = self.redaction.clone();
        self.run(move |s| {
            let event = s.get(id)?.ok_or(ReadError::NotFound(id))?;
            Ok(Self::shown(&policy, event))
        })
        .await
    }

    /// How many events match ([`HistoryStore::count`]).
    pub async fn count(&self, filter: Filter) -> Result<u64, ReadError> {
        self.run(move |s| Ok(s.count(&filter)?)).await
    }

    /// Statistics ([`HistoryStore::stats`]).
    pub async fn stats(&self, query: StatsQuery) -> Result<Stats, ReadError> {
        self.run(move |s| Ok(s.stats(&query)?)).await
    }

    /// The differences from event `old` to event `new` ([`history::diff::diff`]).
    pub async fn diff(&self, old: EventId, new: EventId) -> Result<EventDiff, ReadError> {
        let policy = self.redaction.clone();
        self.run(move |s| {
            let a = Self::shown(&policy, s.get(old)?.ok_or(ReadError::NotFound(old))?);
            let b = Self::shown(&policy, s.get(new)?.ok_or(ReadError::NotFound(new))?);
            Ok(history::diff::diff(&a, &b))
        })
        .await
    }

    /// Changes committed after `after`, oldest first, at most `limit`
    /// ([`HistoryStore::changes_after`]).
    pub async fn changes_after(
        &self,
        after: ChangeToken,
        limit: usize,
    ) -> Result<ChangePage, ReadError> {
        let policy = self.redaction.clone();
        self.run(move |s| {
            let mut page = s.changes_after(after, limit)?;
            for change in &mut page.changes {
                policy.redact_event(&mut change.event);
            }
            Ok(page)
        })
        .await
    }

    /// The token of the newest committed change ([`HistoryStore::latest_change`]): where to
    /// start following "from now".
    pub async fn latest_change(&self) -> Result<ChangeToken, ReadError> {
        self.run(|s| Ok(s.latest_change()?)).await
    }

    /// The last successful run before `event` of the same operation on the same subject:
    /// same type and operation, and the same VM, credential and organization when `event`
    /// has them (else the same user, when it has one). `None` when there is none.
    pub async fn previous_success(&self, event: Event) -> Result<Option<Event>, ReadError> {
        let policy = self.redaction.clone();
        self.run(move |s| {
            let mut q = Query::new()
                .event_type(event.event_type.clone())
                .operation(event.operation.to_string())
                .status(EventStatus::Success)
                .until(event.started_at + chrono_micro())
                .limit(2);
            let subject = event.vm_id.is_some()
                || event.credential_id.is_some()
                || event.organization_id.is_some();
            q.filter.vm_id.clone_from(&event.vm_id);
            q.filter.credential_id.clone_from(&event.credential_id);
            q.filter.organization_id.clone_from(&event.organization_id);
            if !subject {
                q.filter.user_id.clone_from(&event.user_id);
            }
            let found = s.query(&q)?.items.into_iter().find(|e| e.id != event.id);
            Ok(found.map(|e| Self::shown(&policy, e)))
        })
        .await
    }
}

/// One microsecond: `until` is exclusive, and a run that started in the same microsecond
/// before this one still counts.
fn chrono_micro() -> chrono::TimeDelta {
    chrono::TimeDelta::microseconds(1)
}
