//! Stores and helpers shared by the recorder and reliability tests.
#![allow(dead_code)] // each test binary uses a different subset

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use std::sync::{Condvar, Mutex};

use history::store::BoxError;
use history::{Event, EventId, EventType, HistoryStore, MemoryStore, Page, Query, StoreError};

/// A hand-built event the way instrumentation builds them (numbered through `user_id`).
pub fn event(n: u64) -> Event {
    let mut e = Event::new(EventType::VmStart, "write_support::event");
    e.user_id = Some(n.into());
    e
}

/// A [`MemoryStore`] that counts calls and rows, and can be made to fail or to stall.
#[derive(Default)]
pub struct TestStore {
    pub inner: MemoryStore,
    /// `write_batch` calls that succeeded.
    pub batches: AtomicU64,
    /// Rows passed to successful `write_batch` calls.
    pub rows: AtomicU64,
    /// Calls refused while failing.
    pub refused: AtomicU64,
    /// While set, every write fails with a transient error.
    pub failing: AtomicBool,
    /// While set, every write fails with a permanent error.
    pub broken: AtomicBool,
    /// Events whose id is here make the batch fail permanently (a poison row).
    pub poison: Mutex<Vec<EventId>>,
    gate: Gate,
}

#[derive(Default)]
struct Gate {
    state: Mutex<GateState>,
    cond: Condvar,
}

#[derive(Default)]
struct GateState {
    closed: bool,
    waiting: usize,
}

impl TestStore {
    pub fn new() -> Arc<TestStore> {
        Arc::new(TestStore::default())
    }

    /// Makes writes wait until [`TestStore::open_gate`].
    pub fn close_gate(&self) {
        self.gate.state.lock().unwrap().closed = true;
    }

    pub fn open_gate(&self) {
        self.gate.state.lock().unwrap().closed = false;
        self.gate.cond.notify_all();
    }

    /// Waits until a writer is parked at the closed gate.
    pub fn wait_for_writer_at_gate(&self) {
        let mut st = self.gate.state.lock().unwrap();
        while st.waiting == 0 {
            st = self
                .gate
                .cond
                .wait_timeout(st, Duration::from_millis(10))
                .unwrap()
                .0;
        }
    }

    pub fn len(&self) -> usize {
        self.inner.len()
    }

    pub fn rows(&self) -> u64 {
        self.rows.load(Ordering::SeqCst)
    }
}

impl HistoryStore for TestStore {
    fn write_batch(&self, batch: &[Event]) -> Result<(), StoreError> {
        {
            let mut st = self.gate.state.lock().unwrap();
            st.waiting += 1;
            self.gate.cond.notify_all();
            while st.closed {
                st = self.gate.cond.wait(st).unwrap();
            }
            st.waiting -= 1;
        }
        if self.failing.load(Ordering::SeqCst) {
            self.refused.fetch_add(1, Ordering::SeqCst);
            return Err(StoreError::Unavailable(BoxError::from("injected outage")));
        }
        if self.broken.load(Ordering::SeqCst) {
            self.refused.fetch_add(1, Ordering::SeqCst);
            return Err(StoreError::Backend(BoxError::from(
                "injected permanent failure",
            )));
        }
        {
            let poison = self.poison.lock().unwrap();
            if batch.iter().any(|e| poison.contains(&e.id)) {
                self.refused.fetch_add(1, Ordering::SeqCst);
                return Err(StoreError::Backend(BoxError::from("poison row")));
            }
        }
        self.inner.write_batch(batch)?;
        self.batches.fetch_add(1, Ordering::SeqCst);
        self.rows.fetch_add(batch.len() as u64, Ordering::SeqCst);
        Ok(())
    }
    fn get(&self, id: EventId) -> Result<Option<Event>, StoreError> {
        self.inner.get(id)
    }
    fn query(&self, query: &Query) -> Result<Page<Event>, StoreError> {
        self.inner.query(query)
    }
    fn count(&self, query: &history::Filter) -> Result<u64, StoreError> {
        self.inner.count(query)
    }
}

/// Every stored event's `user_id` number, sorted.
pub fn user_numbers(events: &[Event]) -> Vec<u64> {
    let mut v: Vec<u64> = events
        .iter()
        .filter_map(|e| e.user_id.as_ref().and_then(|u| u.as_int()))
        .map(|i| i as u64)
        .collect();
    v.sort_unstable();
    v
}
