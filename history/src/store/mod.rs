//! Where events are kept: the [`HistoryStore`] trait every backend implements.

pub(crate) mod error;
pub(crate) mod filter;
mod memory;
pub(crate) mod query;

use std::path::PathBuf;
use std::sync::Arc;

pub use error::{BoxError, StoreError};
pub use filter::Filter;
pub use memory::MemoryStore;
pub use query::{Cursor, Order, Page, Query, DEFAULT_LIMIT, MAX_LIMIT};

use crate::event::{Event, EventId};
use crate::feed::{ChangePage, ChangeToken};
use crate::retention::{PurgeReport, Retention};
use crate::stats::{GroupKey, Stats, StatsCollector, StatsQuery};

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

    /// Makes every staged batch durable. On error, none of the batches staged since the last
    /// commit is (they are rolled back); the recorder keeps them and writes them again. The
    /// default has nothing to do.
    fn commit_staged(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// The event with this id, if stored.
    fn get(&self, id: EventId) -> Result<Option<Event>, StoreError>;

    /// One page of the events that match `query`, in its order, with a cursor for the next.
    fn query(&self, query: &Query) -> Result<Page<Event>, StoreError>;

    /// How many events match `filter` (a [`Query`] derefs to its filter, so `&query` works).
    fn count(&self, filter: &Filter) -> Result<u64, StoreError>;

    /// Where a [`Recorder`](crate::Recorder) keeps batches while this store keeps failing
    /// (a file beside the database), unless told otherwise. `None` (the default): nowhere.
    fn spill_path(&self) -> Option<PathBuf> {
        None
    }

    /// Counts, success rate and duration percentiles of the events matching `query.filter`,
    /// optionally grouped. The figures are defined by [`stats::compute`](crate::stats::compute).
    /// The default reads the matching events page by page through [`HistoryStore::query`]
    /// (memory grows with the number of durations, never with the events); backends answer
    /// faster.
    fn stats(&self, query: &StatsQuery) -> Result<Stats, StoreError> {
        query.filter.validate()?;
        let mut stats = StatsCollector::new();
        for_each_page(self, Query::matching(query.filter.clone()), |e| {
            stats.add(
                query.group_by.map(|g| GroupKey::of(e, g)),
                e.status,
                e.duration,
            );
        })?;
        Ok(stats.finish())
    }

    /// Deletes the events `policy` selects (see [`Retention::select`]), or only reports
    /// them on a dry run. The default supports only dry runs: it reads the store page by page
    /// (memory grows with the number of subjects under `keep_last`, never with the events).
    fn purge(&self, policy: &Retention) -> Result<PurgeReport, StoreError> {
        policy.validate()?;
        if !policy.dry_run {
            return Err(StoreError::Backend(
                "this store does not support deleting events".into(),
            ));
        }
        let mut selection = policy.selection();
        let mut report = PurgeReport::empty(true);
        // Keeping the newest N per subject looks at every event of a subject, matching or not.
        let pages = match policy.keep_last {
            None => Query::matching(policy.filter.clone()),
            Some(_) => Query::new(),
        };
        for_each_page(self, pages, |e| {
            if selection.selects(e) {
                report.add(e);
            }
        })?;
        Ok(report)
    }

    /// The changes committed after `after`, in commit order, at most `limit` (1 to
    /// [`MAX_LIMIT`]); see [`feed`](crate::feed). Every insert and every update of an event
    /// takes the next number of the store's sequence, so a follower passing back
    /// [`ChangePage::next`] sees each committed event, never the same (event, token) twice,
    /// and a superseded record only in its newer state. Deleting events (retention) deletes
    /// their changes.
    ///
    /// The default reports [`StoreError::Unsupported`]: a store that keeps no change feed.
    fn changes_after(&self, after: ChangeToken, limit: usize) -> Result<ChangePage, StoreError> {
        let _ = (after, limit);
        Err(StoreError::Unsupported("this store keeps no change feed"))
    }

    /// The token of the newest committed change ([`ChangeToken::START`] when there is none):
    /// where to start following "from now".
    ///
    /// The default reports [`StoreError::Unsupported`]: a store that keeps no change feed.
    fn latest_change(&self) -> Result<ChangeToken, StoreError> {
        Err(StoreError::Unsupported("this store keeps no change feed"))
    }
}

/// Events read per page by the default [`HistoryStore::stats`] and [`HistoryStore::purge`].
pub const SCAN_PAGE: usize = 1_000;

/// Calls `each` with every event `query` matches, newest first, [`SCAN_PAGE`] at a time.
fn for_each_page<S: HistoryStore + ?Sized>(
    store: &S,
    mut query: Query,
    mut each: impl FnMut(&Event),
) -> Result<(), StoreError> {
    query.order = Order::NewestFirst;
    query.limit = SCAN_PAGE;
    query.cursor = None;
    query.with_total = false;
    loop {
        let page = store.query(&query)?;
        page.items.iter().for_each(&mut each);
        match page.next_cursor {
            Some(c) => query.cursor = Some(c),
            None => return Ok(()),
        }
    }
}

/// A store behind a pointer is a store: every method goes to the pointee.
macro_rules! forward_store {
    ($($ptr:ident),*) => {$(
        impl<S: HistoryStore + ?Sized> HistoryStore for $ptr<S> {
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
            fn count(&self, filter: &Filter) -> Result<u64, StoreError> {
                (**self).count(filter)
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
            fn changes_after(
                &self,
                after: ChangeToken,
                limit: usize,
            ) -> Result<ChangePage, StoreError> {
                (**self).changes_after(after, limit)
            }
            fn latest_change(&self) -> Result<ChangeToken, StoreError> {
                (**self).latest_change()
            }
        }
    )*};
}

forward_store!(Arc, Box);

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::retention::Per;
    use crate::stats::{Bucket, GroupBy};
    use crate::{EventStatus, EventType};

    /// A store that only pages (the trait's default `stats` and `purge`), and remembers how
    /// many pages it served and the largest one asked for.
    #[derive(Default)]
    struct PagingOnly {
        inner: MemoryStore,
        pages: AtomicUsize,
        largest: AtomicUsize,
    }

    impl HistoryStore for PagingOnly {
        fn write_batch(&self, batch: &[Event]) -> Result<(), StoreError> {
            self.inner.write_batch(batch)
        }
        fn get(&self, id: EventId) -> Result<Option<Event>, StoreError> {
            self.inner.get(id)
        }
        fn query(&self, query: &Query) -> Result<Page<Event>, StoreError> {
            self.pages.fetch_add(1, Ordering::Relaxed);
            self.largest.fetch_max(query.limit, Ordering::Relaxed);
            self.inner.query(query)
        }
        fn count(&self, filter: &Filter) -> Result<u64, StoreError> {
            self.inner.count(filter)
        }
    }

    /// 2,500 events over a few types, statuses, users and VMs, with and without durations.
    fn loaded() -> PagingOnly {
        let store = PagingOnly::default();
        let types = [
            EventType::VmCreate,
            EventType::VmStart,
            EventType::ApiRequest,
        ];
        let statuses = [
            EventStatus::Success,
            EventStatus::Failed,
            EventStatus::InProgress,
        ];
        let start = chrono::DateTime::from_timestamp(1_767_225_600, 0).unwrap();
        let events: Vec<Event> = (0..2_500i64)
            .map(|i| {
                let mut e = Event::new(types[(i % 3) as usize].clone(), "op");
                e.status = statuses[(i % 7 % 3) as usize];
                e.started_at = start + chrono::Duration::seconds(i * 37 % 20_000);
                e.duration = (i % 5 != 0).then(|| std::time::Duration::from_millis(i as u64));
                e.vm_id = (i % 4 != 0).then(|| (i % 11).into());
                e.user_id = Some((i % 13).into());
                e
            })
            .collect();
        store.write_batch(&events).unwrap();
        store
    }

    #[test]
    fn default_stats_pages_through_the_store_and_agree_with_the_definition() {
        let store = loaded();
        let all = store.inner.all();
        for filter in [
            Filter::new(),
            Filter::new().status(EventStatus::Failed),
            Filter::new().event_type(EventType::VmStart),
        ] {
            for group in [None, Some(GroupBy::Vm), Some(GroupBy::Time(Bucket::Hour))] {
                let mut q = StatsQuery::new(filter.clone());
                q.group_by = group;
                store.pages.store(0, Ordering::Relaxed);
                let got = store.stats(&q).unwrap();
                assert_eq!(got, crate::stats::compute(&q, &all), "{q:?}");
                if filter.matches_everything() {
                    assert!(store.pages.load(Ordering::Relaxed) >= 3, "read in pages");
                }
            }
        }
        assert!(store.largest.load(Ordering::Relaxed) <= SCAN_PAGE);
    }

    #[test]
    fn default_dry_run_purge_pages_through_the_store_and_agrees_with_select() {
        let store = loaded();
        let all = store.inner.all();
        for policy in [
            Retention::matching(Filter::new().status(EventStatus::Failed)),
            Retention::default().keep_last(Per::Vm, 3),
            Retention::matching(Filter::new().event_type(EventType::VmStart))
                .keep_last(Per::User, 2),
        ] {
            let ids: std::collections::HashSet<EventId> = policy.select(&all).into_iter().collect();
            let want = PurgeReport::of(all.iter().filter(|e| ids.contains(&e.id)), true);
            assert!(want.deleted > 0, "{policy:?} selects something");
            assert_eq!(store.purge(&policy.clone().dry_run()).unwrap(), want);
            assert!(store.purge(&policy).is_err(), "deleting is not supported");
        }
        assert!(store.pages.load(Ordering::Relaxed) >= 3);
        assert!(store.largest.load(Ordering::Relaxed) <= SCAN_PAGE);
        assert_eq!(store.inner.len(), 2_500);
    }
}
