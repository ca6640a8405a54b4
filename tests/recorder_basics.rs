//! The Recorder's contract (issue 2): flush, drop, shutdown, overflow, failing stores, threads.

mod write_support;

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use history::{
    Error, Event, EventStatus, EventType, HistoryStore, MemoryStore, Overflow, Query, Recorder,
};
use write_support::{event, TestStore};

/// A recorder that only writes when asked (the timer is far away), so a test sees what flush,
/// drop and shutdown do by themselves.
fn lazy_recorder(store: &Arc<TestStore>) -> Recorder {
    Recorder::builder()
        .flush_interval(Duration::from_secs(3600))
        .batch_size(1_000_000)
        .capacity(1_000_000)
        .build(store.clone())
        .unwrap()
}

#[test]
fn flush_makes_everything_recorded_before_it_durable() {
    let store = TestStore::new();
    let recorder = lazy_recorder(&store);
    for n in 0..1_000 {
        recorder.record(event(n)).unwrap();
    }
    recorder.flush().unwrap();
    assert_eq!(store.len(), 1_000);
    for n in 1_000..1_500 {
        recorder.record(event(n)).unwrap();
    }
    recorder.flush().unwrap();
    assert_eq!(store.len(), 1_500);
    // Nothing waited, nothing to do.
    recorder.flush().unwrap();
    assert_eq!(recorder.stats().recorded, 1_500);
    assert_eq!(recorder.stats().written, 1_500);
}

#[test]
fn events_become_durable_within_the_flush_interval_without_a_flush() {
    let store = TestStore::new();
    let recorder = Recorder::builder()
        .flush_interval(Duration::from_millis(20))
        .build(store.clone())
        .unwrap();
    recorder.record(event(1)).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while store.len() < 1 {
        assert!(std::time::Instant::now() < deadline, "never written");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn dropping_the_last_handle_flushes() {
    let store = TestStore::new();
    let recorder = lazy_recorder(&store);
    let clone = recorder.clone();
    for n in 0..500 {
        clone.record(event(n)).unwrap();
    }
    drop(clone);
    // Another handle still lives: nothing forced the write yet.
    assert_eq!(store.len(), 0);
    drop(recorder);
    assert_eq!(store.len(), 500);
}

#[test]
fn record_after_shutdown_is_refused_on_every_clone() {
    let store = TestStore::new();
    let recorder = lazy_recorder(&store);
    let clone = recorder.clone();
    recorder.record(event(1)).unwrap();
    recorder.shutdown().unwrap();
    assert_eq!(store.len(), 1, "shutdown flushes");
    assert!(matches!(recorder.record(event(2)), Err(Error::Closed)));
    assert!(matches!(clone.record(event(3)), Err(Error::Closed)));
    // A second shutdown is harmless; flush has nothing to wait for.
    clone.shutdown().unwrap();
    recorder.flush().unwrap();
    assert_eq!(store.len(), 1);
}

#[test]
fn drop_newest_counts_what_it_drops_and_keeps_the_rest() {
    let store = TestStore::new();
    let recorder = Recorder::builder()
        .capacity(8)
        .batch_size(1)
        .overflow(Overflow::DropNewest)
        .build(store.clone())
        .unwrap();
    store.close_gate();
    recorder.record(event(0)).unwrap();
    store.wait_for_writer_at_gate(); // the writer holds event 0 and is stuck
    for n in 1..=8 {
        recorder.record(event(n)).unwrap();
    }
    for n in 9..=12 {
        match recorder.record(event(n)) {
            Err(Error::QueueFull { capacity: 8 }) => {}
            other => panic!("expected QueueFull, got {other:?}"),
        }
    }
    assert_eq!(recorder.stats().dropped, 4);
    store.open_gate();
    recorder.flush().unwrap();
    assert_eq!(store.len(), 9);
    assert_eq!(recorder.stats().dropped, 4);
    assert_eq!(recorder.stats().recorded, 9);
}

#[test]
fn block_waits_for_room_and_loses_nothing() {
    let store = TestStore::new();
    let recorder = Recorder::builder()
        .capacity(4)
        .batch_size(1)
        .build(store.clone())
        .unwrap();
    store.close_gate();
    recorder.record(event(0)).unwrap();
    store.wait_for_writer_at_gate();
    let producer = {
        let recorder = recorder.clone();
        std::thread::spawn(move || {
            for n in 1..=20 {
                recorder.record(event(n)).unwrap();
            }
        })
    };
    // The producer fills the queue and then has to wait for the stuck writer.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while recorder.stats().queued < 4 {
        assert!(std::time::Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(1));
    }
    std::thread::sleep(Duration::from_millis(20));
    assert!(!producer.is_finished(), "the producer should be blocked");
    assert_eq!(recorder.stats().recorded, 5);
    store.open_gate();
    producer.join().unwrap();
    recorder.flush().unwrap();
    assert_eq!(store.len(), 21);
    assert_eq!(recorder.stats().dropped, 0);
}

#[test]
fn a_failing_store_is_retried_then_flush_reports_the_loss() {
    let store = TestStore::new();
    store.failing.store(true, Ordering::SeqCst);
    let recorder = Recorder::builder()
        .max_retries(2)
        .flush_interval(Duration::from_secs(3600))
        .build(store.clone())
        .unwrap();
    for n in 0..10 {
        recorder.record(event(n)).unwrap();
    }
    match recorder.flush() {
        Err(Error::Lost { count, last_error }) => {
            assert_eq!(count, 10);
            assert!(last_error.contains("injected outage"), "{last_error}");
        }
        other => panic!("expected Lost, got {other:?}"),
    }
    // One try and two retries.
    assert_eq!(store.refused.load(Ordering::SeqCst), 3);
    let stats = recorder.stats();
    assert_eq!((stats.lost, stats.write_errors, stats.written), (10, 3, 0));
    // The loss is reported once; the store is back and later events are written.
    store.failing.store(false, Ordering::SeqCst);
    recorder.record(event(10)).unwrap();
    recorder.flush().unwrap();
    assert_eq!(store.len(), 1);
}

#[test]
fn an_event_lost_before_flush_is_called_is_still_reported() {
    let store = TestStore::new();
    store.failing.store(true, Ordering::SeqCst);
    let recorder = Recorder::builder()
        .max_retries(0)
        .flush_interval(Duration::from_millis(1))
        .build(store.clone())
        .unwrap();
    recorder.record(event(0)).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while recorder.stats().lost == 0 {
        assert!(std::time::Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(1));
    }
    assert!(matches!(
        recorder.flush(),
        Err(Error::Lost { count: 1, .. })
    ));
}

#[test]
fn a_permanent_error_loses_only_the_bad_rows() {
    let store = TestStore::new();
    let recorder = lazy_recorder(&store);
    let bad = event(5);
    store.poison.lock().unwrap().push(bad.id);
    for n in 0..5 {
        recorder.record(event(n)).unwrap();
    }
    recorder.record(bad).unwrap();
    for n in 6..10 {
        recorder.record(event(n)).unwrap();
    }
    match recorder.flush() {
        Err(Error::Lost {
            count: 1,
            last_error,
        }) => assert!(last_error.contains("poison")),
        other => panic!("expected one lost event, got {other:?}"),
    }
    assert_eq!(store.len(), 9);
}

#[test]
fn flush_timeout_gives_up_waiting_but_keeps_the_events() {
    let store = TestStore::new();
    let recorder = Recorder::builder()
        .batch_size(1)
        .build(store.clone())
        .unwrap();
    store.close_gate();
    recorder.record(event(0)).unwrap();
    store.wait_for_writer_at_gate();
    assert!(matches!(
        recorder.flush_timeout(Duration::from_millis(30)),
        Err(Error::Timeout(_))
    ));
    store.open_gate();
    recorder.flush().unwrap();
    assert_eq!(store.len(), 1);
}

#[test]
fn an_invalid_event_is_refused_and_nothing_else_is_lost() {
    let store = TestStore::new();
    let recorder = lazy_recorder(&store);
    recorder.record(event(1)).unwrap();
    let bad = Event::new(EventType::VmStart, "");
    match recorder.record(bad.clone()) {
        Err(Error::Invalid { field, .. }) => assert_eq!(field, "operation"),
        other => panic!("expected Invalid, got {other:?}"),
    }
    // The instrumentation path fits it instead of refusing it.
    recorder.record_fitted(bad).unwrap();
    recorder.flush().unwrap();
    assert_eq!(store.len(), 2);
}

#[test]
fn a_start_and_finish_in_one_batch_cost_one_row() {
    let store = TestStore::new();
    let recorder = lazy_recorder(&store);
    let start = event(1);
    let mut finish = start.clone();
    finish.finish(EventStatus::Success);
    recorder.record(start.clone()).unwrap();
    recorder.record(finish).unwrap();
    recorder.flush().unwrap();
    assert_eq!(store.rows(), 1);
    assert_eq!(
        store.inner.get(start.id).unwrap().unwrap().status,
        EventStatus::Success
    );
}

#[test]
fn many_threads_record_exactly_once() {
    let store = TestStore::new();
    let recorder = Recorder::builder()
        .capacity(1_024)
        .batch_size(256)
        .build(store.clone())
        .unwrap();
    let threads: Vec<_> = (0..8u64)
        .map(|t| {
            let recorder = recorder.clone();
            std::thread::spawn(move || {
                for n in 0..5_000 {
                    recorder.record(event(t * 1_000_000 + n)).unwrap();
                    if n % 1_000 == 999 {
                        recorder.flush().unwrap();
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    recorder.flush().unwrap();
    assert_eq!(store.len(), 40_000);
    let users: HashSet<_> = store
        .inner
        .all()
        .into_iter()
        .map(|e| e.user_id.unwrap())
        .collect();
    assert_eq!(users.len(), 40_000);
    assert_eq!(recorder.stats().written, 40_000);
}

#[test]
fn a_memory_store_recorder_answers_queries_after_flush() {
    let recorder = Recorder::new(MemoryStore::new()).unwrap();
    recorder.record(event(7)).unwrap();
    recorder.flush().unwrap();
    assert_eq!(recorder.store().count(&Query::new().user_id(7)).unwrap(), 1);
}
