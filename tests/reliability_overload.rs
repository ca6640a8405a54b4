//! Overload (issue 6, item 4): block (default) or drop-newest with a counter; the queue, and
//! so the memory, never grows past its capacity.

mod write_support;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use history::{Error, Overflow, Recorder};
use write_support::{event, TestStore};

/// Four producers against a writer that is held up for a while; a monitor samples the queue.
fn overload(overflow: Overflow) -> (Recorder, Arc<TestStore>, u64, u64, u64) {
    let store = TestStore::new();
    let recorder = Recorder::builder()
        .capacity(256)
        .batch_size(64)
        .overflow(overflow)
        .build(store.clone())
        .unwrap();
    store.close_gate();
    let done = Arc::new(AtomicBool::new(false));
    let max_queued = Arc::new(AtomicU64::new(0));
    let monitor = {
        let (recorder, done, max_queued) = (recorder.clone(), done.clone(), max_queued.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::SeqCst) {
                max_queued.fetch_max(recorder.stats().queued, Ordering::SeqCst);
                std::thread::sleep(Duration::from_micros(200));
            }
        })
    };
    let accepted = Arc::new(AtomicU64::new(0));
    let producers: Vec<_> = (0..4u64)
        .map(|t| {
            let (recorder, accepted) = (recorder.clone(), accepted.clone());
            std::thread::spawn(move || {
                for n in 0..5_000 {
                    match recorder.record(event(t * 10_000 + n)) {
                        Ok(()) => {
                            accepted.fetch_add(1, Ordering::SeqCst);
                        }
                        Err(Error::QueueFull { capacity: 256 }) => {}
                        Err(e) => panic!("{e}"),
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(50));
    store.open_gate();
    for p in producers {
        p.join().unwrap();
    }
    recorder.flush().unwrap();
    done.store(true, Ordering::SeqCst);
    monitor.join().unwrap();
    let (accepted, max) = (
        accepted.load(Ordering::SeqCst),
        max_queued.load(Ordering::SeqCst),
    );
    (recorder, store, accepted, max, 20_000)
}

#[test]
fn block_keeps_every_event_and_counts_the_waits() {
    let (recorder, store, accepted, max_queued, attempted) = overload(Overflow::Block);
    let stats = recorder.stats();
    assert_eq!(accepted, attempted);
    assert_eq!(store.len() as u64, attempted);
    assert_eq!(stats.dropped, 0);
    assert!(
        stats.blocked > 0,
        "the producers never had to wait: {stats:?}"
    );
    assert!(max_queued <= 256, "the queue grew to {max_queued}");
}

#[test]
fn drop_newest_counts_every_dropped_event_and_keeps_the_rest() {
    let (recorder, store, accepted, max_queued, attempted) = overload(Overflow::DropNewest);
    let stats = recorder.stats();
    assert!(stats.dropped > 0, "nothing was dropped: {stats:?}");
    assert_eq!(accepted + stats.dropped, attempted);
    assert_eq!(stats.recorded, accepted);
    assert_eq!(store.len() as u64, accepted);
    assert_eq!(stats.blocked, 0);
    assert!(max_queued <= 256, "the queue grew to {max_queued}");
}
