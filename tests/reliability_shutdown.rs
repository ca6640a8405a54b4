//! Shutdown (issue 6, item 9): a deadline reports what could not be written; dropping a
//! recorder inside a tokio runtime neither deadlocks nor panics; a dead writer never hangs
//! its callers.

mod write_support;

use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use history::{Error, HistoryStore, Query, Recorder};
use history_sqlite::SqliteStore;
use write_support::{event, TestStore};

/// Runs `f` on its own thread and fails the test if it has not returned within 60 s (a
/// deadlock would otherwise hang the whole suite).
fn within_a_minute<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(60))
        .expect("deadlocked (or panicked)")
}

#[test]
fn shutdown_with_a_deadline_reports_what_it_could_not_write() {
    let store = TestStore::new();
    let recorder = Recorder::builder()
        .batch_size(1)
        .build(store.clone())
        .unwrap();
    store.close_gate();
    recorder.record(event(0)).unwrap();
    store.wait_for_writer_at_gate();
    for n in 1..=10 {
        recorder.record(event(n)).unwrap();
    }
    let started = Instant::now();
    match recorder.shutdown_timeout(Duration::from_millis(100)) {
        Err(Error::Unwritten { count }) => assert_eq!(count, 11),
        other => panic!("expected Unwritten, got {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(matches!(recorder.record(event(11)), Err(Error::Closed)));
    // The writer keeps going in the background and finishes once the store answers.
    store.open_gate();
    recorder.shutdown().unwrap();
    assert_eq!(store.len(), 11);
}

#[test]
fn shutdown_with_a_deadline_that_is_met_writes_everything() {
    let store = TestStore::new();
    let recorder = Recorder::new(store.clone()).unwrap();
    for n in 0..1_000 {
        recorder.record(event(n)).unwrap();
    }
    recorder.shutdown_timeout(Duration::from_secs(30)).unwrap();
    assert_eq!(store.len(), 1_000);
}

#[test]
fn dropping_a_stuck_recorder_gives_up_after_its_drop_timeout() {
    let store = TestStore::new();
    let recorder = Recorder::builder()
        .drop_timeout(Duration::from_millis(50))
        .batch_size(1)
        .build(store.clone())
        .unwrap();
    store.close_gate();
    recorder.record(event(0)).unwrap();
    store.wait_for_writer_at_gate();
    within_a_minute(move || drop(recorder));
    store.open_gate();
}

async fn record_some(recorder: &Recorder) {
    for n in 0..2_000 {
        recorder.record(event(n)).unwrap();
        if n % 500 == 0 {
            tokio::task::yield_now().await;
        }
    }
}

#[test]
fn a_recorder_dropped_inside_a_current_thread_runtime_flushes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.db");
    let p = path.clone();
    within_a_minute(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let recorder = Recorder::new(SqliteStore::open(&p).unwrap()).unwrap();
            record_some(&recorder).await;
            drop(recorder);
        });
    });
    assert_eq!(
        SqliteStore::open(&path)
            .unwrap()
            .count(&Query::new())
            .unwrap(),
        2_000
    );
}

#[test]
fn a_recorder_dropped_in_a_task_of_a_multi_thread_runtime_flushes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.db");
    let p = path.clone();
    within_a_minute(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let recorder = Recorder::new(SqliteStore::open(&p).unwrap()).unwrap();
            let clones: Vec<_> = (0..4).map(|_| recorder.clone()).collect();
            drop(recorder);
            let tasks: Vec<_> = clones
                .into_iter()
                .map(|r| {
                    tokio::spawn(async move {
                        record_some(&r).await;
                        // The last of these drops shuts the recorder down, on a worker.
                        drop(r);
                    })
                })
                .collect();
            for t in tasks {
                t.await.unwrap();
            }
        });
        // Dropping the runtime with nothing left is fine too.
    });
    // Four tasks recorded 2,000 events each with the same numbers: 8,000 distinct events.
    assert_eq!(
        SqliteStore::open(&path)
            .unwrap()
            .count(&Query::new())
            .unwrap(),
        8_000
    );
}

#[test]
fn a_writer_that_dies_never_hangs_flush_or_record() {
    within_a_minute(|| {
        // A broken backend must not hang the callers of the recorder.
        let panicking = TestStore::new();
        panicking.panics.store(true, Ordering::SeqCst);
        let recorder = Recorder::builder()
            .capacity(4)
            .batch_size(1)
            .build(panicking)
            .unwrap();
        recorder.record(event(0)).unwrap();
        assert!(matches!(recorder.flush(), Err(Error::Closed)));
        for n in 1..10 {
            // Refused (the writer is gone), never blocked on the full queue.
            if recorder.record(event(n)).is_err() {
                return;
            }
        }
        panic!("records kept being accepted with no writer");
    });
}
