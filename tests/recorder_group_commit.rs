//! Group commit (issue 6, ingest): under sustained load the writer stages several batches in
//! one transaction; under light load, or when a flush waits, every batch commits at once; a
//! failed group commit is counted and reported, never silent.

mod write_support;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use history::{Event, EventType, HistoryStore, Query, Recorder};
use history_sqlite::SqliteStore;
use write_support::TestStore;

/// A test store in front of `inner` whose every `stage_batch` takes `stage_delay` (a store
/// slower than its callers).
fn counting<S>(inner: S, stage_delay: Duration) -> Arc<TestStore<S>> {
    let mut store = TestStore::over(inner);
    store.stage_delay = stage_delay;
    Arc::new(store)
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
    let store = counting(SqliteStore::open(&path).unwrap(), Duration::from_millis(2));
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
    let store = counting(
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
    let store = counting(
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
