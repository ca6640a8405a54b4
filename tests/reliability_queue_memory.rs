//! The queue's memory is bounded in bytes as well as in events: large events fill it long
//! before the event count does, and the overflow policy applies either way.

mod write_support;

use std::sync::Arc;
use std::time::Duration;

use history::{Error, Event, Json, Overflow, Recorder};
use write_support::{event, TestStore};

const LIMIT: usize = 100_000;

fn big(n: u64) -> Event {
    let mut e = event(n);
    e.parameters = Json::from(serde_json::json!({ "n": n, "pad": "x".repeat(10_000) }));
    e
}

/// A recorder whose writer is held at the store's gate with one event, so the queue only fills.
fn held(overflow: Overflow) -> (Recorder, Arc<TestStore>) {
    let store = TestStore::new();
    let recorder = Recorder::builder()
        .capacity(10_000)
        .batch_size(10_000)
        .flush_interval(Duration::from_millis(1))
        .max_queue_bytes(LIMIT)
        .overflow(overflow)
        .build(store.clone())
        .unwrap();
    store.close_gate();
    recorder.record(event(0)).unwrap();
    store.wait_for_writer_at_gate();
    (recorder, store)
}

#[test]
fn drop_newest_refuses_events_once_the_queue_holds_its_bytes() {
    let (recorder, store) = held(Overflow::DropNewest);
    let mut accepted = 0u64;
    let mut refused = 0u64;
    for n in 1..=100 {
        match recorder.record(big(n)) {
            Ok(()) => accepted += 1,
            Err(Error::QueueMemoryFull { max_bytes }) => {
                assert_eq!(max_bytes, LIMIT);
                refused += 1;
            }
            Err(e) => panic!("{e}"),
        }
    }
    let stats = recorder.stats();
    // Each event holds a little over 10 kB: about ten fit, far below the 10,000 events allowed.
    assert!(
        (8..=10).contains(&accepted),
        "accepted {accepted}, {stats:?}"
    );
    assert_eq!(refused, 100 - accepted);
    assert_eq!(stats.dropped, refused);
    assert_eq!(stats.queued, accepted);
    assert!(stats.queued_bytes >= 10_000 * accepted, "{stats:?}");
    assert!(stats.queued_bytes < LIMIT as u64 + 11_000, "{stats:?}");

    store.open_gate();
    recorder.flush().unwrap();
    assert_eq!(store.len() as u64, accepted + 1);
    assert_eq!(recorder.stats().queued_bytes, 0);
}

#[test]
fn block_waits_for_room_in_bytes_and_keeps_every_event() {
    let (recorder, store) = held(Overflow::Block);
    let producer = {
        let recorder = recorder.clone();
        std::thread::spawn(move || {
            for n in 1..=50 {
                recorder.record(big(n)).unwrap();
            }
        })
    };
    while recorder.stats().blocked == 0 {
        std::thread::sleep(Duration::from_millis(1));
    }
    let stats = recorder.stats();
    assert!(stats.queued <= 10, "{stats:?}");
    assert!(stats.queued_bytes < LIMIT as u64 + 11_000, "{stats:?}");

    store.open_gate();
    producer.join().unwrap();
    recorder.flush().unwrap();
    assert_eq!(store.len(), 51);
    assert_eq!(recorder.stats().dropped, 0);
}

#[test]
fn one_event_larger_than_the_limit_still_passes_an_empty_queue() {
    let store = TestStore::new();
    let recorder = Recorder::builder()
        .max_queue_bytes(1_000)
        .overflow(Overflow::DropNewest)
        .build(store.clone())
        .unwrap();
    recorder.record(big(1)).unwrap();
    recorder.flush().unwrap();
    assert_eq!(store.len(), 1);
    assert!(Recorder::builder()
        .max_queue_bytes(0)
        .build(TestStore::new())
        .is_err());
}
