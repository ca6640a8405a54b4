//! [`MemoryStore`]: the reference store, kept in memory.

use std::collections::hash_map::Entry;
use std::collections::HashMap;

use parking_lot::RwLock;

use crate::event::{Event, EventId};
use crate::retention::{PurgeReport, Retention};
use crate::stats::{Stats, StatsQuery};
use crate::store::{Filter, HistoryStore, Order, Page, Query, StoreError};

/// Keeps events in memory. The reference implementation of [`HistoryStore`]: simple enough
/// to be obviously right, used by tests and prototypes. Queries scan every event.
#[derive(Debug, Default)]
pub struct MemoryStore {
    events: RwLock<HashMap<EventId, Event>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    /// How many events are stored.
    pub fn len(&self) -> usize {
        self.events.read().len()
    }

    /// Whether no event is stored.
    pub fn is_empty(&self) -> bool {
        self.events.read().is_empty()
    }

    /// Every stored event, oldest first.
    pub fn all(&self) -> Vec<Event> {
        let mut v: Vec<Event> = self.events.read().values().cloned().collect();
        v.sort_by_key(|e| (e.started_at, e.id));
        v
    }
}

impl HistoryStore for MemoryStore {
    fn write_batch(&self, batch: &[Event]) -> Result<(), StoreError> {
        let mut events = self.events.write();
        for e in batch {
            match events.entry(e.id) {
                Entry::Occupied(mut stored) => {
                    if e.replaces(stored.get()) {
                        stored.insert(e.clone());
                    }
                }
                Entry::Vacant(slot) => {
                    slot.insert(e.clone());
                }
            }
        }
        Ok(())
    }

    fn get(&self, id: EventId) -> Result<Option<Event>, StoreError> {
        Ok(self.events.read().get(&id).cloned())
    }

    fn query(&self, query: &Query) -> Result<Page<Event>, StoreError> {
        query.validate()?;
        let events = self.events.read();
        let mut matching: Vec<&Event> = events.values().filter(|e| query.matches(e)).collect();
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
            .events
            .read()
            .values()
            .filter(|e| filter.matches(e))
            .count() as u64)
    }

    fn stats(&self, query: &StatsQuery) -> Result<Stats, StoreError> {
        Ok(crate::stats::compute(query, self.events.read().values()))
    }

    fn purge(&self, policy: &Retention) -> Result<PurgeReport, StoreError> {
        policy.validate()?;
        let mut events = self.events.write();
        let ids = policy.select(events.values());
        let report = PurgeReport::of(ids.iter().filter_map(|id| events.get(id)), policy.dry_run);
        if !policy.dry_run {
            for id in &ids {
                events.remove(id);
            }
        }
        Ok(report)
    }
}
