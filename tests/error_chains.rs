//! Errors say their cause once: the message chain of a failed call (its message, then each
//! `source()`) never repeats a text, for the store's and the recorder's errors.

use std::time::Duration;

use history::{
    track_history, ErrorInfo, Event, EventType, HistoryStore, MemoryStore, Query, Recorder,
};
use history_sqlite::SqliteStore;

/// Fails when one link of the chain holds the text of a later one (a wrapper that prints its
/// source and also returns it).
fn assert_says_each_cause_once(info: &ErrorInfo) {
    let links: Vec<&str> = std::iter::once(info.message.as_str())
        .chain(info.sources.iter().map(String::as_str))
        .collect();
    for (i, outer) in links.iter().enumerate() {
        for inner in &links[i + 1..] {
            assert!(
                !outer.contains(inner) && !inner.contains(outer),
                "{outer:?} repeats its cause {inner:?}; chain: {}",
                info.chain()
            );
        }
    }
}

/// A store whose file another connection holds the write lock of.
fn locked_store(dir: &tempfile::TempDir) -> (SqliteStore, rusqlite::Connection) {
    let path = dir.path().join("h.db");
    let store = SqliteStore::options()
        .busy_timeout(Duration::from_millis(20))
        .open(&path)
        .unwrap();
    let holder = rusqlite::Connection::open(&path).unwrap();
    holder.execute_batch("BEGIN IMMEDIATE").unwrap();
    (store, holder)
}

#[track_history(event_type = "chain_check")]
fn write_one(store: &SqliteStore) -> Result<(), history::Error> {
    store.write_batch(&[Event::new(EventType::VmStart, "vm::start")])?;
    Ok(())
}

#[test]
fn a_failed_call_returning_a_store_error_says_each_cause_once() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _holder) = locked_store(&dir);
    let direct = store
        .write_batch(&[Event::new(EventType::VmStart, "vm::start")])
        .unwrap_err();
    assert!(direct.is_transient(), "{direct:?}");
    assert_says_each_cause_once(&ErrorInfo::from_error(&direct));

    let recorder = Recorder::new(MemoryStore::new()).unwrap();
    let err = history::with_default(&recorder, || write_one(&store)).unwrap_err();
    assert_says_each_cause_once(&ErrorInfo::from_error(&err));
    recorder.flush().unwrap();
    let page = recorder.store().query(&Query::new()).unwrap();
    let recorded = page.items[0].error.as_ref().expect("the call failed");
    assert_says_each_cause_once(recorded);
}

#[test]
fn opening_a_path_that_cannot_exist_says_each_cause_once() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plain");
    std::fs::write(&file, b"x").unwrap();
    let err = SqliteStore::open(file.join("h.db")).unwrap_err();
    assert_says_each_cause_once(&ErrorInfo::from_error(&err));
}

#[test]
fn a_recorder_error_says_each_cause_once() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plain");
    std::fs::write(&file, b"x").unwrap();
    // The spill file cannot be created under a regular file.
    let err = Recorder::builder()
        .spill_path(file.join("spill"))
        .build(MemoryStore::new())
        .unwrap_err();
    assert!(matches!(err, history::Error::Io(_)), "{err:?}");
    assert_says_each_cause_once(&ErrorInfo::from_error(&err));
}
