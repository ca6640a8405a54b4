//! In-process subscriptions (`Recorder::subscribe`) with real threads, a real SQLite file and
//! a tokio runtime: delivery after commit in commit order, filters, a subscriber that never
//! reads, the end of a subscription at shutdown, spilled events delivered at replay.

mod write_support;

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use history::{Event, EventStatus, EventType, Filter, HistoryStore, Recorder, SubjectId};
use history_sqlite::SqliteStore;
use write_support::{event, TestStore};

fn number(e: &Event) -> u64 {
    match e.user_id {
        Some(SubjectId::Int(n)) => n as u64,
        ref other => panic!("unexpected user id {other:?}"),
    }
}

#[test]
fn in_progress_and_final_records_arrive_after_commit_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("history.db")).unwrap();
    let recorder = Recorder::builder()
        .batch_size(64)
        .flush_interval(Duration::from_millis(1))
        .build(store)
        .unwrap();
    // Large enough for all of them: this reader checks each record in the store.
    let mut all = recorder.subscribe_with_buffer(Filter::new(), 100_000);
    let mut failed = recorder.subscribe(Filter::new().status(EventStatus::Failed));
    const THREADS: u64 = 4;
    const CALLS: u64 = 2_000;
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let recorder = recorder.clone();
            std::thread::spawn(move || {
                for i in 0..CALLS {
                    let mut e = event(t * 1_000_000 + i);
                    recorder.record(e.clone()).unwrap();
                    if i % 50 == 0 {
                        std::thread::sleep(Duration::from_micros(200));
                    }
                    e.finish(if i % 10 == 0 {
                        EventStatus::Failed
                    } else {
                        EventStatus::Success
                    });
                    recorder.record(e).unwrap();
                }
            })
        })
        .collect();
    // Read while they record: each record is in the store when it arrives.
    let store = recorder.store().clone();
    let mut latest: HashMap<history::EventId, Arc<Event>> = HashMap::new();
    let mut last_final: HashMap<u64, u64> = HashMap::new();
    let mut finals = 0;
    while finals < THREADS * CALLS {
        let e = all
            .next_timeout(Duration::from_secs(30))
            .expect("a record within 30 s");
        assert!(store.get(e.id).unwrap().is_some(), "delivered after commit");
        if e.status == EventStatus::InProgress {
            assert!(
                !latest.contains_key(&e.id),
                "an in-progress record after its final one"
            );
        } else {
            finals += 1;
            // One thread's calls end in the order it recorded them.
            let n = number(&e);
            let (t, i) = (n / 1_000_000, n % 1_000_000);
            if let Some(&prev) = last_final.get(&t) {
                assert!(i > prev, "thread {t}: call {i} ended after call {prev}");
            }
            last_final.insert(t, i);
        }
        latest.insert(e.id, e);
    }
    for t in threads {
        t.join().unwrap();
    }
    recorder.flush().unwrap();
    assert!(all.try_next().is_none(), "nothing more");
    assert_eq!(all.lagged(), 0);
    // How many in-progress records were committed before their final record came depends
    // on timing; each was checked above. One committed for sure:
    let mut call = event(7_000_000);
    recorder.record(call.clone()).unwrap();
    recorder.flush().unwrap();
    let start = all.try_next().expect("the start, committed");
    assert_eq!(start.status, EventStatus::InProgress);
    call.finish(EventStatus::Success);
    recorder.record(call).unwrap();
    recorder.flush().unwrap();
    let end = all.try_next().expect("the end");
    assert_eq!((end.id, end.status), (start.id, EventStatus::Success));
    let failures: Vec<_> = std::iter::from_fn(|| failed.try_next()).collect();
    assert_eq!(failures.len() as u64, THREADS * CALLS / 10);
    assert!(failures.iter().all(|e| e.status == EventStatus::Failed));
}

#[test]
fn a_subscriber_that_never_reads_does_not_hold_the_writer_back() {
    let recorder = Recorder::builder()
        .batch_size(256)
        .build(history::MemoryStore::new())
        .unwrap();
    let stuck = recorder.subscribe_with_buffer(Filter::new(), 100);
    let mut reading = recorder.subscribe(Filter::new());
    const N: u64 = 50_000;
    let reader = std::thread::spawn(move || {
        let mut seen = 0u64;
        let mut last = None;
        // What it reads and what it lost add up to everything.
        while seen + reading.lagged() < N {
            if let Some(e) = reading.next_timeout(Duration::from_millis(100)) {
                seen += 1;
                let n = number(&e);
                assert!(last.is_none_or(|l| n > l), "in order");
                last = Some(n);
            }
        }
        (seen, reading.lagged())
    });
    for n in 0..N {
        let mut e = event(n);
        e.finish(EventStatus::Success);
        recorder.record(e).unwrap();
    }
    // The writer finished everything while one subscriber's buffer stayed full.
    recorder.flush().unwrap();
    assert_eq!(recorder.stats().written, N);
    assert_eq!(stuck.buffered(), 100);
    assert_eq!(stuck.lagged(), N - 100, "every record it missed is counted");
    let kept: Vec<u64> = stuck.take(100).map(|e| number(&e)).collect();
    assert_eq!(
        kept,
        (N - 100..N).collect::<Vec<_>>(),
        "it holds the newest"
    );
    let (seen, lagged) = reader.join().unwrap();
    assert_eq!(seen + lagged, N, "the reading subscriber's own count");
    assert!(seen > 0);
}

#[test]
fn a_blocked_reader_ends_when_the_recorder_shuts_down() {
    let recorder = Recorder::new(history::MemoryStore::new()).unwrap();
    let subscription = recorder.subscribe(Filter::new());
    let reader = std::thread::spawn(move || subscription.map(|e| number(&e)).collect::<Vec<_>>());
    for n in 0..10 {
        recorder.record(event(n)).unwrap();
    }
    recorder.shutdown().unwrap();
    assert_eq!(reader.join().unwrap(), (0..10).collect::<Vec<_>>());
    // Subscribing to a recorder that is shut down gives an ended subscription.
    let mut late = recorder.subscribe(Filter::new());
    assert!(late.is_closed());
    assert!(late.next().is_none());
}

#[test]
fn dropped_subscribers_are_forgotten_and_others_keep_receiving() {
    let recorder = Recorder::new(history::MemoryStore::new()).unwrap();
    let mut kept = recorder.subscribe(Filter::new());
    for _ in 0..100 {
        drop(recorder.subscribe(Filter::new()));
    }
    for n in 0..5 {
        recorder.record(event(n)).unwrap();
    }
    recorder.flush().unwrap();
    assert_eq!(std::iter::from_fn(|| kept.try_next()).count(), 5);
}

#[test]
fn an_async_stream_receives_records_from_another_thread() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let recorder = Recorder::new(history::MemoryStore::new()).unwrap();
    let stream = recorder
        .subscribe(Filter::new().event_type(EventType::VmStart))
        .into_stream();
    let producer = {
        let recorder = recorder.clone();
        std::thread::spawn(move || {
            for n in 0..1_000 {
                recorder.record(event(n)).unwrap();
                let other = Event::new(EventType::VmDelete, "other");
                recorder.record(other).unwrap();
                if n % 100 == 0 {
                    std::thread::sleep(Duration::from_millis(2));
                }
            }
            recorder.shutdown().unwrap();
        })
    };
    let got: Vec<u64> = runtime.block_on(async move {
        tokio::time::timeout(
            Duration::from_secs(60),
            stream.map(|e| number(&e)).collect::<Vec<_>>(),
        )
        .await
        .expect("the stream ends when the recorder shuts down")
    });
    producer.join().unwrap();
    assert_eq!(got, (0..1_000).collect::<Vec<_>>());
}

#[test]
fn spilled_events_are_delivered_when_the_replay_commits_them() {
    let dir = tempfile::tempdir().unwrap();
    let store = TestStore::new();
    let recorder = Recorder::builder()
        .max_retries(1)
        .retry_backoff(Duration::from_millis(1), Duration::from_millis(5))
        .flush_interval(Duration::from_millis(1))
        .spill_path(dir.path().join("spill"))
        .build(store.clone())
        .unwrap();
    let mut subscription = recorder.subscribe(Filter::new());
    store.failing.store(true, Ordering::SeqCst);
    for n in 0..20 {
        let mut e = event(n);
        e.finish(EventStatus::Success);
        recorder.record(e).unwrap();
    }
    recorder.flush().unwrap(); // spilled: durable, not in the store
    assert!(recorder.stats().spilled > 0);
    assert!(
        subscription.try_next().is_none(),
        "nothing is delivered before the store has it"
    );
    store.failing.store(false, Ordering::SeqCst);
    recorder.flush().unwrap(); // replays
    let got: Vec<u64> = std::iter::from_fn(|| subscription.try_next())
        .map(|e| number(&e))
        .collect();
    assert_eq!(got, (0..20).collect::<Vec<_>>());
    assert_eq!(store.inner.len(), 20);
}
