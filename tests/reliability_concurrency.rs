//! Concurrency (issue 6, item 8): many threads and several processes on one SQLite file give
//! exact counts with no busy error reaching a caller; recording an event twice stores it once.

mod write_support;

use std::process::Command;
use std::sync::Arc;

use history::{EventStatus, HistoryStore, Query, Recorder};
use history_sqlite::SqliteStore;
use write_support::event;

#[test]
fn eight_threads_times_100k_events_give_exactly_800k_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.db");
    let recorder = Recorder::new(SqliteStore::open(&path).unwrap()).unwrap();
    let threads: Vec<_> = (0..8u64)
        .map(|t| {
            let recorder = recorder.clone();
            std::thread::spawn(move || {
                for n in 0..100_000 {
                    recorder.record(event(t * 1_000_000 + n)).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    recorder.flush().unwrap();
    let stats = recorder.stats();
    assert_eq!((stats.written, stats.lost), (800_000, 0), "{stats:?}");
    let reader = SqliteStore::open(&path).unwrap();
    assert_eq!(reader.count(&Query::new()).unwrap(), 800_000);
    assert_eq!(reader.count(&Query::new().user_id(7_099_999)).unwrap(), 1);
}

#[test]
fn two_processes_times_50k_events_on_one_file_give_exact_counts() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("history.db");
    drop(SqliteStore::open(&db).unwrap());
    let children: Vec<_> = [1, 2]
        .into_iter()
        .map(|tag| {
            Command::new(env!("CARGO_BIN_EXE_history_test_child"))
                .args(["load", db.to_str().unwrap(), &tag.to_string(), "50000"])
                .output_async()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        // A busy database never surfaces: each child's flush succeeded with nothing lost.
        assert!(
            out.status.success(),
            "child failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let store = SqliteStore::open(&db).unwrap();
    assert_eq!(
        store.count(&Query::new().organization_id(1)).unwrap(),
        50_000
    );
    assert_eq!(
        store.count(&Query::new().organization_id(2)).unwrap(),
        50_000
    );
    assert_eq!(store.count(&Query::new()).unwrap(), 100_000);
}

trait OutputAsync {
    fn output_async(&mut self) -> std::process::Child;
}
impl OutputAsync for Command {
    fn output_async(&mut self) -> std::process::Child {
        self.stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    }
}

#[test]
fn thirty_percent_duplicate_records_store_exactly_the_unique_events() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path().join("history.db")).unwrap());
    let recorder = Recorder::builder()
        .batch_size(500)
        .build(store.clone())
        .unwrap();
    let unique = 70_000u64;
    let mut kept = Vec::new();
    let mut recorded = 0u64;
    for n in 0..unique {
        let e = event(n);
        recorder.record(e.clone()).unwrap();
        recorded += 1;
        if n % 7 < 3 {
            kept.push(e);
        }
        // Record some again later, after their first record was written, finished now.
        if n % 10_000 == 9_999 {
            recorder.flush().unwrap();
            for mut e in kept.drain(..) {
                e.finish(EventStatus::Success);
                recorder.record(e).unwrap();
                recorded += 1;
            }
        }
    }
    recorder.flush().unwrap();
    assert_eq!(recorded, 100_000);
    assert_eq!(store.count(&Query::new()).unwrap(), unique);
    assert_eq!(
        store
            .count(&Query::new().status(EventStatus::Success))
            .unwrap(),
        30_000
    );
}
