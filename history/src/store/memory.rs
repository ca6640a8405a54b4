//! [`MemoryStore`]: the reference store, kept in memory.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;

use parking_lot::RwLock;

use crate::event::{Event, EventId};
use crate::feed::{self, Change, ChangePage, ChangeToken};
use crate::retention::{PurgeReport, Retention};
use crate::stats::{Stats, StatsQuery};
use crate::store::{Filter, HistoryStore, Order, Page, Query, StoreError};

/// Keeps events in memory. The reference implementation of [`HistoryStore`]: simple enough
/// to be obviously right, used by tests and prototypes. Queries scan every event.
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: RwLock<Inner>,
}

/// The events, each with the number of the change that stored it, and the change sequence.
#[derive(Debug, Default)]
struct Inner {
    events: HashMap<EventId, (u64, Event)>,
    /// Change number → the event it stored (only each event's latest change).
    changes: BTreeMap<u64, EventId>,
    /// The last number given out.
    last_change: u64,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    /// How many events are stored.
    pub fn len(&self) -> usize {
        self.inner.read().events.len()
    }

    /// Whether no event is stored.
    pub fn is_empty(&self) -> bool {
        self.inner.read().events.is_empty()
    }

    /// Every stored event, oldest first.
    pub fn all(&self) -> Vec<Event> {
        let mut v: Vec<Event> = self
            .inner
            .read()
            .events
            .values()
            .map(|(_, e)| e.clone())
            .collect();
        v.sort_by_key(|e| (e.started_at, e.id));
        v
    }
}

impl HistoryStore for MemoryStore {
    fn write_batch(&self, batch: &[Event]) -> Result<(), StoreError> {
        let mut guard = self.inner.write();
        let inner = &mut *guard;
        for e in batch {
            match inner.events.entry(e.id) {
                Entry::Occupied(mut stored) => {
                    if e.replaces(&stored.get().1) {
                        inner.changes.remove(&stored.get().0);
                        inner.last_change += 1;
                        inner.changes.insert(inner.last_change, e.id);
                        stored.insert((inner.last_change, e.clone()));
                    }
                }
                Entry::Vacant(slot) => {
                    inner.last_change += 1;
                    inner.changes.insert(inner.last_change, e.id);
                    slot.insert((inner.last_change, e.clone()));
                }
            }
        }
        Ok(())
    }

    fn get(&self, id: EventId) -> Result<Option<Event>, StoreError> {
        Ok(self.inner.read().events.get(&id).map(|(_, e)| e.clone()))
    }

    fn query(&self, query: &Query) -> Result<Page<Event>, StoreError> {
        query.validate()?;
        let inner = self.inner.read();
        let mut matching: Vec<&Event> = inner
            .events
            .values()
            .map(|(_, e)| e)
            .filter(|e| query.matches(e))
            .collect();
        let total = query.with_total.then_some(matching.len() as u64);
        matching.retain(|e| query.is_after_cursor(e));
        match query.order {
            Order::NewestFirst => matching.sort_by_key(|e| std::cmp::Reverse((e.started_at, e.id))),
            Order::OldestFirst => matching.sort_by_key(|e| (e.started_at, e.id)),
        }
        let read = matching
            .into_iter()
            .take(query.limit + 1)
            .cloned()
            .collect();
        Ok(Page::from_read(read, query.limit, total))
    }

    fn count(&self, filter: &Filter) -> Result<u64, StoreError> {
        Ok(self
            .inner
            .read()
            .events
            .values()
            .filter(|(_, e)| filter.matches(e))
            .count() as u64)
    }

    fn stats(&self, query: &StatsQuery) -> Result<Stats, StoreError> {
        Ok(crate::stats::compute(
            query,
            self.inner.read().events.values().map(|(_, e)| e),
        ))
    }

    fn purge(&self, policy: &Retention) -> Result<PurgeReport, StoreError> {
        policy.validate()?;
        let mut inner = self.inner.write();
        let ids = policy.select(inner.events.values().map(|(_, e)| e));
        let report = PurgeReport::of(
            ids.iter()
                .filter_map(|id| inner.events.get(id).map(|(_, e)| e)),
            policy.dry_run,
        );
        if !policy.dry_run {
            for id in &ids {
                if let Some((change, _)) = inner.events.remove(id) {
                    inner.changes.remove(&change);
                }
            }
        }
        Ok(report)
    }

    fn changes_after(&self, after: ChangeToken, limit: usize) -> Result<ChangePage, StoreError> {
        feed::validate_limit(limit)?;
        let inner = self.inner.read();
        let changes = inner
            .changes
            .range((Bound::Excluded(after.seq()), Bound::Unbounded))
            .take(limit)
            .filter_map(|(&seq, id)| {
                let (_, event) = inner.events.get(id)?;
                Some(Change::new(ChangeToken::from_seq(seq), event.clone()))
            })
            .collect();
        Ok(ChangePage::new(changes, after))
    }

    fn latest_change(&self) -> Result<ChangeToken, StoreError> {
        Ok(ChangeToken::from_seq(self.inner.read().last_change))
    }
}
