//! Group commit (issue 6, ingest): under sustained load the writer stages several batches in
//! one transaction; under light load, or when a flush waits, every batch commits at once; a
//! failed group commit is counted and reported, never silent.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use history::{Event, EventId, EventType, HistoryStore, Page, Query, Recorder, StoreError};
use history_sqlite::SqliteStore;

/// A store that counts staged batches and commits, can slow staging down (a store slower
/// than its callers), and can make the next commit fail.
struct Counting<S> {
    inner: S,
    staged: AtomicU64,
    commits: AtomicU64,
    stage_delay: Duration,
    fail_next_commit: AtomicBool,
}

impl<S: HistoryStore> Counting<S> {
    fn new(inner: S, stage_delay: Duration) -> Arc<Counting<S>> {
        Arc::new(Counting {
            inner,
            staged: AtomicU64::new(0),
            commits: AtomicU64::new(0),
            stage_delay,
            fail_next_commit: AtomicBool::new(false),
        })
    }
}

impl<S: HistoryStore> HistoryStore for Counting<S> {
    fn write_batch(&self, batch: &[Event]) -> Result<(), StoreError> {
        self.inner.write_batch(batch)
    }
    fn stage_batch(&self, batch: &[Event]) -> Result<(), StoreError> {
        std::thread::sleep(self.stage_delay);
        self.staged.fetch_add(1, Ordering::SeqCst);
        self.inner.stage_batch(batch)
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

fn event(n: u64) -> Event {
    let mut e = Event::new(EventType::VmStart, "group::event");
    e.user_id = Some((n % 100).into());
    e
}

/// `threads` × `each` events as fast as the recorder takes them.
fn push(recorder: &Recorder, threads: u64, each: u64) {
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let recorder = recorder.clone();
            std::thread::spawn(move || {
                for i in 0..each {
                    recorder.record(event(t * each + i)).unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
}

#[test]
fn a_store_slower_than_its_callers_gets_fewer_larger_commits_and_every_event() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.db");
    let store = Counting::new(SqliteStore::open(&path).unwrap(), Duration::from_millis(2));
    let recorder = Recorder::builder()
        .capacity(2_048)
        .batch_size(256)
        .group_commit(1_000_000, Duration::from_secs(60))
        .build_shared(store.clone())
        .unwrap();
    push(&recorder, 2, 40_000);
    recorder.flush().unwrap();
    let (staged, commits) = (
        store.staged.load(Ordering::SeqCst),
        store.commits.load(Ordering::SeqCst),
    );
    // Every batch the writer takes while callers are blocked on a full queue finds the next
    // one waiting; only the end of the run (and a scheduler hiccup) commits.
    assert!(
        staged >= 20 && commits * 4 <= staged,
        "{commits} commits for {staged} staged batches: the writer did not group"
    );
    assert_eq!(recorder.stats().written, 80_000);
    // Durable, not just staged: another connection sees them all.
    let other = SqliteStore::open(&path).unwrap();
    assert_eq!(other.count(&Query::new()).unwrap(), 80_000);
}

#[test]
fn without_group_commit_every_batch_commits() {
    let dir = tempfile::tempdir().unwrap();
    let store = Counting::new(
        SqliteStore::open(dir.path().join("h.db")).unwrap(),
        Duration::from_millis(2),
    );
    let recorder = Recorder::builder()
        .capacity(8_192)
        .batch_size(512)
        .group_commit(0, Duration::from_secs(10))
        .build_shared(store.clone())
        .unwrap();
    push(&recorder, 2, 10_000);
    recorder.flush().unwrap();
    assert_eq!(
        store.commits.load(Ordering::SeqCst),
        store.staged.load(Ordering::SeqCst)
    );
    assert_eq!(store.count(&Query::new()).unwrap(), 20_000);
}

#[test]
fn under_light_load_an_event_is_durable_without_a_flush() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.db");
    let recorder = Recorder::builder()
        .flush_interval(Duration::from_millis(20))
        // A long window: only an idle queue can have committed the event.
        .group_commit(1_000_000, Duration::from_secs(3_600))
        .build(SqliteStore::open(&path).unwrap())
        .unwrap();
    let other = SqliteStore::open(&path).unwrap();
    recorder.record(event(1)).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while other.count(&Query::new()).unwrap() == 0 {
        assert!(
            Instant::now() < deadline,
            "the writer held an idle queue's event in an open group"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_failed_group_commit_is_written_again_not_lost() {
    let dir = tempfile::tempdir().unwrap();
    let store = Counting::new(
        SqliteStore::open(dir.path().join("h.db")).unwrap(),
        Duration::ZERO,
    );
    let recorder = Recorder::builder()
        .no_spill()
        .build_shared(store.clone())
        .unwrap();
    store.fail_next_commit.store(true, Ordering::SeqCst);
    for n in 0..10 {
        recorder.record(event(n)).unwrap();
    }
    recorder.flush().unwrap();
    let stats = recorder.stats();
    assert_eq!(stats.lost, 0, "{stats:?}");
    assert!(stats.write_errors >= 1, "the commit did fail: {stats:?}");
    assert_eq!(store.count(&Query::new()).unwrap(), 10);
    recorder.record(event(99)).unwrap();
    recorder.flush().unwrap();
    assert_eq!(store.count(&Query::new()).unwrap(), 11);
}
