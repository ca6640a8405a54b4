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

/// The one test store of these tests: a store (a [`MemoryStore`] unless built
/// [`over`](TestStore::over) another) that counts calls and rows, can keep every batch it is
/// given, and can be made to fail, to stall at a gate, to panic, to stage slowly or to fail
/// its next group commit.
pub struct TestStore<S = MemoryStore> {
    pub inner: S,
    /// `write_batch` and `stage_batch` calls that succeeded.
    pub batches: AtomicU64,
    /// Rows passed to successful `write_batch` and `stage_batch` calls.
    pub rows: AtomicU64,
    /// Calls refused while failing.
    pub refused: AtomicU64,
    /// While set, every write fails with a transient error.
    pub failing: AtomicBool,
    /// While set, every write fails with a permanent error.
    pub broken: AtomicBool,
    /// While set, every write panics (a backend bug).
    pub panics: AtomicBool,
    /// Events whose id is here make the batch fail permanently (a poison row).
    pub poison: Mutex<Vec<EventId>>,
    /// While set, every batch written is kept, in order (see [`TestStore::taken`]).
    pub keeps_batches: AtomicBool,
    kept: Mutex<Vec<Vec<Event>>>,
    /// `stage_batch` calls (each sleeps [`TestStore::stage_delay`] first).
    pub staged: AtomicU64,
    /// How long each `stage_batch` takes: a store slower than its callers.
    pub stage_delay: Duration,
    /// `commit_staged` calls.
    pub commits: AtomicU64,
    /// When set, the next `commit_staged` fails (after committing or not: the recorder cannot
    /// tell) and clears it.
    pub fail_next_commit: AtomicBool,
    gate: Gate,
}

impl<S: Default> Default for TestStore<S> {
    fn default() -> Self {
        TestStore::over(S::default())
    }
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

    /// A store that keeps every batch it is given (see [`TestStore::taken`]).
    pub fn keeping_batches() -> Arc<TestStore> {
        let store = TestStore::default();
        store.keeps_batches.store(true, Ordering::SeqCst);
        Arc::new(store)
    }

    pub fn len(&self) -> usize {
        self.inner.len()
    }
}

impl<S> TestStore<S> {
    /// A test store in front of `inner`.
    pub fn over(inner: S) -> TestStore<S> {
        TestStore {
            inner,
            batches: AtomicU64::new(0),
            rows: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            failing: AtomicBool::new(false),
            broken: AtomicBool::new(false),
            panics: AtomicBool::new(false),
            poison: Mutex::new(Vec::new()),
            keeps_batches: AtomicBool::new(false),
            kept: Mutex::new(Vec::new()),
            staged: AtomicU64::new(0),
            stage_delay: Duration::ZERO,
            commits: AtomicU64::new(0),
            fail_next_commit: AtomicBool::new(false),
            gate: Gate::default(),
        }
    }

    /// Makes writes wait until [`TestStore::open_gate`].
    pub fn close_gate(&self) {
        self.gate.state.lock().unwrap().closed = true;
    }

    pub fn open_gate(&self) {
        self.gate.state.lock().unwrap().closed = false;
        self.gate.cond.notify_all();
    }

    /// Waits until a writer is parked at the closed gate (fails the test after 30 s).
    pub fn wait_for_writer_at_gate(&self) {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        let mut st = self.gate.state.lock().unwrap();
        while st.waiting == 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "no write reached the gate"
            );
            st = self
                .gate
                .cond
                .wait_timeout(st, Duration::from_millis(10))
                .unwrap()
                .0;
        }
    }

    pub fn rows(&self) -> u64 {
        self.rows.load(Ordering::SeqCst)
    }

    /// Every batch kept so far, in order (only while [`TestStore::keeps_batches`] is set).
    pub fn taken(&self) -> Vec<Vec<Event>> {
        self.kept.lock().unwrap().clone()
    }

    /// What every write goes through before it reaches the inner store: the gate, then the
    /// injected failures, then the batch log.
    fn admit(&self, batch: &[Event]) -> Result<(), StoreError> {
        {
            let mut st = self.gate.state.lock().unwrap();
            st.waiting += 1;
            self.gate.cond.notify_all();
            while st.closed {
                st = self.gate.cond.wait(st).unwrap();
            }
            st.waiting -= 1;
        }
        if self.panics.load(Ordering::SeqCst) {
            panic!("backend bug");
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
        if self.keeps_batches.load(Ordering::SeqCst) {
            self.kept.lock().unwrap().push(batch.to_vec());
        }
        Ok(())
    }

    fn counted(&self, batch: &[Event], written: Result<(), StoreError>) -> Result<(), StoreError> {
        written?;
        self.batches.fetch_add(1, Ordering::SeqCst);
        self.rows.fetch_add(batch.len() as u64, Ordering::SeqCst);
        Ok(())
    }
}

impl<S: HistoryStore> HistoryStore for TestStore<S> {
    fn write_batch(&self, batch: &[Event]) -> Result<(), StoreError> {
        self.admit(batch)?;
        self.counted(batch, self.inner.write_batch(batch))
    }
    fn stage_batch(&self, batch: &[Event]) -> Result<(), StoreError> {
        std::thread::sleep(self.stage_delay);
        self.staged.fetch_add(1, Ordering::SeqCst);
        self.admit(batch)?;
        self.counted(batch, self.inner.stage_batch(batch))
    }
    fn commit_staged(&self) -> Result<(), StoreError> {
        self.commits.fetch_add(1, Ordering::SeqCst);
        if self.fail_next_commit.swap(false, Ordering::SeqCst) {
            // Whether the group reached the store or not, the recorder cannot tell.
            let _ = self.inner.commit_staged();
            return Err(StoreError::Backend("injected commit failure".into()));
        }
        self.inner.commit_staged()
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
