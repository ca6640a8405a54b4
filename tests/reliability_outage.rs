//! Store outages (issue 6, item 5): retry with backoff, then an fsync'd spill file beside the
//! database, replayed in order when the store is back and by the next recorder that opens it.

mod write_support;

use std::io::Write;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use history::{
    track_history, Event, EventStatus, EventType, HistoryStore, MemoryStore, Recorder,
    RecorderBuilder,
};
use write_support::{event, user_numbers, TestStore};

/// An annotated function: it must return its own value whatever the store does.
#[track_history(event_type = EventType::VmStart, user_id = n, recorder = recorder, skip(recorder))]
fn annotated(recorder: &Recorder, n: u64) -> u64 {
    n * 3 + 1
}

fn quick_retries() -> RecorderBuilder {
    Recorder::builder()
        .max_retries(2)
        .retry_backoff(Duration::from_millis(1), Duration::from_millis(20))
}

fn spill_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("spill"))
        .collect();
    names.sort();
    names
}

#[test]
fn an_outage_in_the_middle_of_100k_events_loses_nothing_and_duplicates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = TestStore::new();
    let recorder = quick_retries()
        .capacity(4_096)
        .batch_size(512)
        .flush_interval(Duration::from_millis(5))
        .spill_path(dir.path().join("history.db-spill"))
        .build(store.clone())
        .unwrap();
    let threads: Vec<_> = (0..4u64)
        .map(|t| {
            let recorder = recorder.clone();
            let store = store.clone();
            std::thread::spawn(move || {
                for i in 0..25_000u64 {
                    let n = t * 25_000 + i;
                    if t == 0 && i == 6_000 {
                        store.failing.store(true, Ordering::SeqCst);
                    }
                    if t == 0 && i == 19_000 {
                        store.failing.store(false, Ordering::SeqCst);
                    }
                    // Every call returns its own value while the store is down.
                    let out = annotated(&recorder, n);
                    assert_eq!(out, n * 3 + 1);
                    if i % 5_000 == 0 {
                        std::thread::sleep(Duration::from_millis(2));
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    recorder.flush().unwrap();
    let stats = recorder.stats();
    assert!(
        store.refused.load(Ordering::SeqCst) > 0,
        "the outage never hit"
    );
    assert!(stats.spilled > 0, "nothing was spilled: {stats:?}");
    assert_eq!(stats.spill_pending, 0, "{stats:?}");
    assert_eq!(stats.lost, 0);
    let all = store.inner.all();
    assert_eq!(all.len(), 100_000);
    assert_eq!(user_numbers(&all), (0..100_000).collect::<Vec<_>>());
    // Spilled records were replayed in order: no final record was overwritten by its
    // in-progress record.
    let unfinished: Vec<&Event> = all
        .iter()
        .filter(|e| e.status != EventStatus::Success)
        .collect();
    assert!(unfinished.is_empty(), "{} not final", unfinished.len());
    for e in &all {
        let n = e.user_id.as_ref().and_then(|u| u.as_int()).unwrap() as u64;
        let result = e.result.as_ref().map(|r| r.as_str().to_owned());
        assert_eq!(result, Some((n * 3 + 1).to_string()), "call {n}");
    }
    drop(recorder);
    assert!(
        spill_files(dir.path()).is_empty(),
        "{:?}",
        spill_files(dir.path())
    );
}

#[test]
fn without_a_spill_file_the_same_outage_loses_events_and_says_so() {
    let store = TestStore::new();
    store.failing.store(true, Ordering::SeqCst);
    let recorder = quick_retries().no_spill().build(store.clone()).unwrap();
    recorder.record(event(1)).unwrap();
    assert!(matches!(
        recorder.flush(),
        Err(history::Error::Lost { count: 1, .. })
    ));
}

#[test]
fn flush_during_an_outage_returns_once_spilled_and_replays_when_the_store_is_back() {
    let dir = tempfile::tempdir().unwrap();
    let store = TestStore::new();
    store.failing.store(true, Ordering::SeqCst);
    let recorder = quick_retries()
        .flush_interval(Duration::from_secs(3600))
        .retry_backoff(Duration::from_millis(1), Duration::from_secs(3600))
        .spill_path(dir.path().join("h.db-spill"))
        .build(store.clone())
        .unwrap();
    for n in 0..100 {
        recorder.record(event(n)).unwrap();
    }
    recorder.flush().unwrap();
    assert_eq!(store.len(), 0);
    assert_eq!(recorder.stats().spill_pending, 100);
    assert_eq!(spill_files(dir.path()), vec!["h.db-spill"]);
    // Newer events queue behind the spilled ones, not around them.
    recorder.record(event(100)).unwrap();
    recorder.flush().unwrap();
    assert_eq!(recorder.stats().spill_pending, 101);
    store.failing.store(false, Ordering::SeqCst);
    // The next probe is an hour away; flush asks for one now.
    recorder.flush().unwrap();
    assert_eq!(store.len(), 101);
    assert_eq!(recorder.stats().spill_pending, 0);
    assert_eq!(recorder.stats().replayed, 101);
}

/// A recorder that stops while the store is down leaves its spill file; the next one replays
/// it, and calls that never finished become `interrupted`.
#[test]
fn the_next_recorder_replays_a_left_spill_file_and_marks_unfinished_calls_interrupted() {
    let dir = tempfile::tempdir().unwrap();
    let spill = dir.path().join("history.db-spill");
    let down = TestStore::new();
    down.failing.store(true, Ordering::SeqCst);
    let first = quick_retries()
        .spill_path(&spill)
        .build(down.clone())
        .unwrap();
    let starts: Vec<Event> = (0..10).map(event).collect();
    for e in &starts {
        first.record(e.clone()).unwrap();
    }
    first.flush().unwrap();
    for e in &starts[..6] {
        let mut done = e.clone();
        done.finish(EventStatus::Failed);
        first.record(done).unwrap();
    }
    first.shutdown().unwrap();
    drop(first);
    assert_eq!(spill_files(dir.path()), vec!["history.db-spill"]);
    // A torn frame at the end (a crash mid-append) must not stop the replay.
    std::fs::OpenOptions::new()
        .append(true)
        .open(&spill)
        .unwrap()
        .write_all(b"HSP1\x10\x00\x00\x00garbage")
        .unwrap();

    let up = Arc::new(MemoryStore::new());
    let second = quick_retries()
        .spill_path(&spill)
        .build(up.clone())
        .unwrap();
    second.flush().unwrap();
    assert_eq!(up.len(), 10);
    for (i, e) in starts.iter().enumerate() {
        let stored = up.get(e.id).unwrap().unwrap();
        let want = if i < 6 {
            EventStatus::Failed
        } else {
            EventStatus::Interrupted
        };
        assert_eq!(stored.status, want, "event {i}");
        if want == EventStatus::Interrupted {
            assert_eq!(stored.error.unwrap().kind.as_deref(), Some("interrupted"));
        }
    }
    // Records, not rows: 10 starts and 6 finishes.
    assert_eq!(second.stats().replayed, 16);
    drop(second);
    assert!(spill_files(dir.path()).is_empty());
}

#[test]
fn two_live_recorders_never_share_a_spill_file() {
    let dir = tempfile::tempdir().unwrap();
    let spill = dir.path().join("history.db-spill");
    let down = TestStore::new();
    down.failing.store(true, Ordering::SeqCst);
    let a = quick_retries()
        .spill_path(&spill)
        .build(down.clone())
        .unwrap();
    let b = quick_retries()
        .spill_path(&spill)
        .build(down.clone())
        .unwrap();
    for n in 0..5 {
        a.record(event(n)).unwrap();
        b.record(event(100 + n)).unwrap();
    }
    a.flush().unwrap();
    b.flush().unwrap();
    assert_eq!(
        spill_files(dir.path()),
        vec!["history.db-spill", "history.db-spill.1"]
    );
    // While `a` lives, a new recorder leaves its file alone and does not replay it.
    let up = Arc::new(MemoryStore::new());
    drop(b);
    let c = quick_retries()
        .spill_path(&spill)
        .build(up.clone())
        .unwrap();
    c.flush().unwrap();
    assert_eq!(user_numbers(&up.all()), (100..105).collect::<Vec<_>>());
    drop(a);
    drop(c);
    let d = quick_retries()
        .spill_path(&spill)
        .build(up.clone())
        .unwrap();
    d.flush().unwrap();
    assert_eq!(up.len(), 10);
    drop(d);
    assert!(spill_files(dir.path()).is_empty());
}

/// A real SQLite outage: another connection holds the write lock past the store's busy
/// timeout. The recorder spills beside the database by default and replays once the lock goes.
#[test]
fn a_locked_sqlite_database_spills_beside_it_and_catches_up() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("history.db");
    let store = history_sqlite::SqliteStore::options()
        .busy_timeout(Duration::from_millis(10))
        .open(&db)
        .unwrap();
    let recorder = quick_retries().build(store).unwrap();
    let blocker = rusqlite::Connection::open(&db).unwrap();
    blocker.execute_batch("BEGIN EXCLUSIVE").unwrap();
    for n in 0..500 {
        recorder.record(event(n)).unwrap();
    }
    recorder.flush().unwrap();
    assert_eq!(
        recorder.stats().spill_pending,
        500,
        "{:?}",
        recorder.stats()
    );
    assert_eq!(spill_files(dir.path()), vec!["history.db-spill"]);
    blocker.execute_batch("COMMIT").unwrap();
    recorder.flush().unwrap();
    assert_eq!(recorder.store().count(&history::Query::new()).unwrap(), 500);
    assert_eq!(recorder.stats().lost, 0);
    drop(recorder);
    assert!(spill_files(dir.path()).is_empty());
}
