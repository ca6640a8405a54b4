//! `durability = sync` on the attributes (issue 6, item 6): the annotated call returns only
//! once its final event is committed, seen by another connection to the same SQLite file
//! without any flush. `durability = buffered` (the default) returns at once.

mod common;
mod write_support;

use std::path::Path;
use std::time::Duration;

use common::Captured;
use history::{
    track_history, track_terraform, EventStatus, HistoryStore, Query, Recorder, TerraformStatus,
};
use history_sqlite::SqliteStore;
use write_support::TestStore;

/// A recorder that, unasked, would write nothing for an hour.
fn idle_recorder(store: impl HistoryStore + 'static) -> Recorder {
    Recorder::builder()
        .flush_interval(Duration::from_secs(3600))
        .build(store)
        .unwrap()
}

/// A second, independent connection to the file: what another process would see.
fn reader(path: &Path) -> SqliteStore {
    SqliteStore::open(path).unwrap()
}

fn of_type(store: &SqliteStore, name: &str) -> Vec<history::Event> {
    store
        .query(&Query::new().event_type(history::EventType::custom(name).unwrap()))
        .unwrap()
        .items
}

#[track_history(event_type = "credential_delete", durability = sync, recorder = rec)]
fn delete_credential(rec: &Recorder, id: u64) -> Result<u64, String> {
    if id == 0 {
        return Err("no such credential".into());
    }
    Ok(id)
}

#[track_history(event_type = "audited_lookup", durability = sync, recorder = rec)]
async fn audited_lookup(rec: &Recorder, id: u64) -> Option<u64> {
    Some(id + 1)
}

#[track_history(event_type = "vm_poke", durability = buffered, recorder = rec)]
fn poke_buffered(rec: &Recorder) -> u8 {
    7
}

#[track_history(event_type = "vm_poke_default", recorder = rec)]
fn poke_default(rec: &Recorder) -> u8 {
    8
}

#[track_history(event_type = "sync_panic", durability = sync, recorder = rec)]
fn sync_panic(rec: &Recorder) -> u8 {
    panic!("boom")
}

#[track_terraform(command = "destroy", durability = sync, recorder = rec)]
fn destroy_stack(rec: &Recorder) -> Result<u32, String> {
    Ok(3)
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(f)
}

#[test]
fn a_sync_call_returns_only_once_its_final_event_is_in_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.db");
    let recorder = idle_recorder(SqliteStore::open(&path).unwrap());
    let other = reader(&path);

    assert_eq!(delete_credential(&recorder, 5), Ok(5));
    let seen = of_type(&other, "credential_delete");
    assert_eq!(
        seen.len(),
        1,
        "the final event is committed when the call returns"
    );
    assert_eq!(seen[0].status, EventStatus::Success);
    assert_eq!(seen[0].result.as_ref().unwrap(), &serde_json::json!(5));

    assert_eq!(
        delete_credential(&recorder, 0),
        Err("no such credential".into())
    );
    let failed = other
        .query(&Query::new().status(EventStatus::Failed))
        .unwrap()
        .items;
    assert_eq!(failed.len(), 1);
    assert_eq!(
        failed[0].error.as_ref().unwrap().message,
        "no such credential"
    );

    assert_eq!(block_on(audited_lookup(&recorder, 1)), Some(2));
    assert_eq!(
        of_type(&other, "audited_lookup")[0].status,
        EventStatus::Success
    );

    assert_eq!(destroy_stack(&recorder), Ok(3));
    let tf = other
        .query(&Query::new().event_type(history::EventType::TerraformDestroy))
        .unwrap()
        .items;
    assert_eq!(tf.len(), 1);
    assert_eq!(tf[0].terraform_status, Some(TerraformStatus::Completed));

    // A panic in the body: the failed event is committed before the panic continues.
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| sync_panic(&recorder)));
    assert!(caught.is_err());
    let panicked = of_type(&other, "sync_panic");
    assert_eq!(panicked.len(), 1);
    assert_eq!(panicked[0].status, EventStatus::Failed);
    assert_eq!(
        panicked[0].error.as_ref().unwrap().kind.as_deref(),
        Some("panic")
    );
    assert_eq!(recorder.stats().lost, 0);
}

#[test]
fn a_buffered_call_returns_before_its_event_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.db");
    let recorder = idle_recorder(SqliteStore::open(&path).unwrap());
    let other = reader(&path);

    assert_eq!(poke_buffered(&recorder), 7);
    assert_eq!(poke_default(&recorder), 8);
    // With an hour-long flush interval nothing is written until asked.
    assert_eq!(other.count(&Query::new()).unwrap(), 0);
    recorder.flush().unwrap();
    assert_eq!(of_type(&other, "vm_poke")[0].status, EventStatus::Success);
    assert_eq!(
        of_type(&other, "vm_poke_default")[0].status,
        EventStatus::Success
    );
}

#[test]
fn a_sync_write_that_fails_leaves_the_result_alone_and_warns_each_time() {
    let store = TestStore::new();
    store
        .broken
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let recorder = Recorder::builder()
        .flush_interval(Duration::from_secs(3600))
        .no_spill()
        .build(store.clone())
        .unwrap();
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        assert_eq!(delete_credential(&recorder, 4), Ok(4));
        assert_eq!(
            delete_credential(&recorder, 0),
            Err("no such credential".into())
        );
    });
    let text = logs.text();
    assert_eq!(
        text.matches("the synchronous record of `").count(),
        2,
        "one warning per failed synchronous record: {text}"
    );
    assert!(
        text.contains("macro_durability::delete_credential"),
        "{text}"
    );
    assert_eq!(store.len(), 0);
    // Each call's events (the in-progress record folded into the final one in the same
    // batch) were given up on, and counted.
    assert_eq!(recorder.stats().lost, 2);
}
