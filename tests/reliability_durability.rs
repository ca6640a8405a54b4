//! Durability modes (issue 6, item 6): buffered by default; synchronous per event type or per
//! call, where the call returns only after the event is committed.

mod write_support;

use std::sync::atomic::Ordering;
use std::time::Duration;

use history::{Durability, Error, Event, EventType, Recorder};
use write_support::{event, TestStore};

fn slow_timer() -> history::RecorderBuilder {
    // Without a sync request nothing would be written for an hour.
    Recorder::builder().flush_interval(Duration::from_secs(3600))
}

#[test]
fn buffered_returns_at_once_and_sync_returns_after_the_commit() {
    let store = TestStore::new();
    let recorder = slow_timer().build(store.clone()).unwrap();
    recorder.record(event(1)).unwrap();
    assert_eq!(store.len(), 0, "buffered: queued, not written yet");
    recorder.record_sync(event(2)).unwrap();
    assert_eq!(
        store.len(),
        2,
        "sync: committed (with what was queued before it)"
    );
    recorder.record_with(event(3), Durability::Sync).unwrap();
    assert_eq!(store.len(), 3);
    recorder
        .record_fitted_with(event(4), Durability::Sync)
        .unwrap();
    assert_eq!(store.len(), 4);
}

#[test]
fn sync_event_types_are_committed_before_record_returns() {
    let store = TestStore::new();
    let recorder = slow_timer()
        .sync_event_types([EventType::CredentialCreate, EventType::CredentialDelete])
        .build(store.clone())
        .unwrap();
    recorder.record(event(1)).unwrap(); // vm_start: buffered
    assert_eq!(store.len(), 0);
    let audit = Event::new(EventType::CredentialDelete, "creds::delete");
    recorder.record_fitted(audit.clone()).unwrap();
    assert_eq!(store.len(), 2);
    assert!(store.inner.all().iter().any(|e| e.id == audit.id));
}

#[test]
fn a_sync_record_waits_for_a_slow_store() {
    let store = TestStore::new();
    let recorder = slow_timer().build(store.clone()).unwrap();
    store.close_gate();
    let caller = {
        let recorder = recorder.clone();
        std::thread::spawn(move || recorder.record_sync(event(1)))
    };
    store.wait_for_writer_at_gate();
    std::thread::sleep(Duration::from_millis(20));
    assert!(!caller.is_finished(), "returned before the commit");
    store.open_gate();
    caller.join().unwrap().unwrap();
    assert_eq!(store.len(), 1);
}

#[test]
fn a_sync_record_the_store_refuses_reports_the_loss() {
    let store = TestStore::new();
    store.broken.store(true, Ordering::SeqCst);
    let recorder = slow_timer().no_spill().build(store.clone()).unwrap();
    assert!(matches!(
        recorder.record_sync(event(1)),
        Err(Error::Lost { count: 1, .. })
    ));
}

#[test]
fn during_an_outage_a_sync_record_returns_once_it_is_in_the_spill_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = TestStore::new();
    store.failing.store(true, Ordering::SeqCst);
    let recorder = slow_timer()
        .max_retries(1)
        .retry_backoff(Duration::from_millis(1), Duration::from_millis(5))
        .spill_path(dir.path().join("h-spill"))
        .build(store.clone())
        .unwrap();
    recorder.record_sync(event(1)).unwrap();
    assert_eq!(recorder.stats().spill_pending, 1);
    assert!(std::fs::metadata(dir.path().join("h-spill")).unwrap().len() > 0);
}
