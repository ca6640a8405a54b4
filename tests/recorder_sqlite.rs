//! The Recorder over a real SQLite file (issue 2).

mod write_support;

use std::sync::Arc;

use history::{HistoryStore, Query, Recorder};
use history_sqlite::SqliteStore;
use write_support::event;

#[test]
fn four_threads_times_ten_thousand_then_flush_gives_exactly_forty_thousand_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.db");
    let store = Arc::new(SqliteStore::open(&path).unwrap());
    let recorder = Recorder::new(store.clone()).unwrap();
    let threads: Vec<_> = (0..4u64)
        .map(|t| {
            let recorder = recorder.clone();
            std::thread::spawn(move || {
                for n in 0..10_000 {
                    recorder.record(event(t * 100_000 + n)).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    recorder.flush().unwrap();
    // Read through a separate connection to the file: the rows are committed.
    let reader = SqliteStore::open(&path).unwrap();
    assert_eq!(reader.count(&Query::new()).unwrap(), 40_000);
    assert_eq!(reader.count(&Query::new().user_id(300_123)).unwrap(), 1);
    assert_eq!(recorder.stats().written, 40_000);
    assert_eq!(recorder.stats().lost, 0);
}

#[test]
fn dropping_the_recorder_flushes_into_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.db");
    {
        let recorder = Recorder::builder()
            .flush_interval(std::time::Duration::from_secs(3600))
            .build(SqliteStore::open(&path).unwrap())
            .unwrap();
        for n in 0..1_000 {
            recorder.record(event(n)).unwrap();
        }
    }
    let reader = SqliteStore::open(&path).unwrap();
    assert_eq!(reader.count(&Query::new()).unwrap(), 1_000);
}
