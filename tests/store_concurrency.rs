//! Several processes and threads write one SQLite file at once while others read: every
//! event lands exactly once, and busy moments are retried, never lost.

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use history::{Event, EventStatus, EventType, HistoryStore, Query, Recorder};
use history_sqlite::SqliteStore;

const CHILD: &str = "HISTORY_TEST_CONCURRENCY_CHILD";
const PER_THREAD: usize = 1_500;

fn event(op: &str, i: usize) -> Event {
    let mut e = Event::new(EventType::ApiRequest, op);
    e.user_id = Some((i as i64 % 10).into());
    e.finish(EventStatus::Success);
    e
}

/// Not a test on its own: the body of the writer processes the test below starts. Two
/// threads record through one recorder over a store with a short busy timeout, so lock
/// contention with the other processes turns into retried `Unavailable` errors.
#[test]
fn child_writer_process() {
    let Ok(path) = std::env::var(CHILD) else {
        return;
    };
    let store = SqliteStore::options()
        .busy_timeout(Duration::from_millis(50))
        .open(&path)
        .unwrap();
    let recorder = Recorder::builder().batch_size(100).build(store).unwrap();
    let op = format!("child::{}", std::process::id());
    std::thread::scope(|s| {
        for _ in 0..2 {
            let (recorder, op) = (recorder.clone(), op.clone());
            s.spawn(move || {
                for i in 0..PER_THREAD {
                    recorder.record(event(&op, i)).unwrap();
                }
            });
        }
    });
    recorder.flush().unwrap();
    assert_eq!(recorder.stats().lost, 0);
    recorder.shutdown().unwrap();
}

#[test]
fn processes_and_threads_write_one_file_and_readers_keep_reading() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared.db");
    let store = Arc::new(SqliteStore::open(&path).unwrap());
    let children: Vec<_> = (0..2)
        .map(|_| {
            Command::new(std::env::current_exe().unwrap())
                .args(["--exact", "child_writer_process", "--test-threads=1"])
                .env(CHILD, &path)
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (store, stop) = (store.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut reads = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let page = store.query(&Query::new().user_id(3).limit(20)).unwrap();
                assert!(page.items.len() <= 20);
                reads += 1;
            }
            reads
        })
    };
    std::thread::scope(|s| {
        for t in 0..2 {
            let store = store.clone();
            s.spawn(move || {
                let op = format!("parent::{t}");
                let batch: Vec<Event> = (0..PER_THREAD).map(|i| event(&op, i)).collect();
                for chunk in batch.chunks(50) {
                    store.write_batch(chunk).unwrap();
                }
            });
        }
    });
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "writer process failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    stop.store(true, Ordering::Relaxed);
    let reads = reader.join().unwrap();
    assert!(reads > 0);
    assert_eq!(
        store.count(&Query::new()).unwrap(),
        (2 * 2 + 2) * PER_THREAD as u64
    );
    for t in 0..2 {
        let q = Query::new().operation(format!("parent::{t}"));
        assert_eq!(store.count(&q).unwrap(), PER_THREAD as u64);
    }
}
