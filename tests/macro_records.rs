//! How the records of a tracked call reach the store (issue 6, item 1).
//!
//! A call records an in-progress event when it starts and the final event (same id) when it
//! ends. While the in-progress record still waits in the recorder's queue, the final record
//! takes its place there: one row write, and nothing a store or a crash could see differs
//! (the writer keeps only the last record of an id in a batch anyway). Once the writer has
//! taken the in-progress record, the final record is queued on its own, so a call that runs
//! while batches are written is visible as in progress, and then as finished.

mod write_support;

use std::sync::Arc;
use std::time::Duration;

use history::{
    track_history, track_terraform, Event, EventId, EventStatus, HistoryStore, Query, Recorder,
    TerraformStatus,
};
use write_support::TestStore;

/// A recorder that writes only when flushed.
fn idle_recorder(store: &Arc<TestStore>) -> Recorder {
    Recorder::builder()
        .flush_interval(Duration::from_secs(3600))
        .build(store.clone())
        .unwrap()
}

#[track_history(event_type = "quick", recorder = rec)]
fn quick(rec: &Recorder, n: u64) -> Result<u64, String> {
    if n == 3 {
        return Err("three".into());
    }
    Ok(n)
}

/// Waits, inside the call, until everything recorded so far is written: the writer takes
/// the call's in-progress record before the call ends.
#[track_history(event_type = "slow", recorder = rec)]
fn slow(rec: &Recorder, seen: &Arc<TestStore>) -> usize {
    rec.flush().unwrap();
    seen.taken().len()
}

#[track_history(event_type = "outer", recorder = rec)]
fn outer(rec: &Recorder, seen: &Arc<TestStore>) -> usize {
    slow(rec, seen);
    quick(rec, 1).unwrap() as usize
}

#[track_terraform(command = "apply", recorder = rec)]
fn apply(rec: &Recorder, flush_in_body: bool) -> Result<(), String> {
    if flush_in_body {
        rec.flush().unwrap();
    }
    Ok(())
}

fn statuses(batch: &[Event]) -> Vec<(EventId, EventStatus)> {
    batch.iter().map(|e| (e.id, e.status)).collect()
}

#[test]
fn a_call_that_ends_before_the_writer_takes_it_is_written_once_final() {
    let store = TestStore::keeping_batches();
    let rec = idle_recorder(&store);
    for n in 0..100 {
        let _ = quick(&rec, n);
    }
    rec.flush().unwrap();
    let batches = store.taken();
    assert_eq!(batches.len(), 1, "one flush, one batch");
    let batch = &batches[0];
    assert_eq!(batch.len(), 100, "one row per call");
    let failed: Vec<_> = batch
        .iter()
        .filter(|e| e.status == EventStatus::Failed)
        .collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].error.as_ref().unwrap().message, "three");
    assert!(batch
        .iter()
        .all(|e| e.finished_at.is_some() && e.duration.is_some()));
    let mut ids: Vec<_> = batch.iter().map(|e| e.id).collect();
    ids.dedup();
    assert_eq!(ids.len(), 100, "ids increase on one thread");
    // Both records of every call were accepted; they cost one queue slot.
    let stats = rec.stats();
    assert_eq!((stats.recorded, stats.written), (200, 100));
}

#[test]
fn a_call_running_while_a_batch_is_written_is_seen_in_progress_then_final() {
    let store = TestStore::keeping_batches();
    let rec = idle_recorder(&store);
    let batches_seen_inside = slow(&rec, &store);
    rec.flush().unwrap();
    let batches = store.taken();
    assert_eq!(batches_seen_inside, 1, "written while the call ran");
    assert_eq!(batches.len(), 2);
    let id = batches[0][0].id;
    assert_eq!(statuses(&batches[0]), vec![(id, EventStatus::InProgress)]);
    assert_eq!(statuses(&batches[1]), vec![(id, EventStatus::Success)]);
    assert_eq!(batches[1][0].started_at, batches[0][0].started_at);
    let stored = rec.store().get(id).unwrap().unwrap();
    assert_eq!(stored.status, EventStatus::Success);
    assert_eq!(stored.result.unwrap().to_value(), serde_json::json!(1));
}

#[test]
fn nested_calls_keep_their_records_apart() {
    let store = TestStore::keeping_batches();
    let rec = idle_recorder(&store);
    outer(&rec, &store);
    rec.flush().unwrap();
    let batches = store.taken();
    // The flush inside `slow` wrote both in-progress records (outer, slow).
    let first: Vec<_> = batches[0]
        .iter()
        .map(|e| (&*e.operation, e.status))
        .collect();
    assert_eq!(
        first,
        vec![
            ("macro_records::outer", EventStatus::InProgress),
            ("macro_records::slow", EventStatus::InProgress),
        ]
    );
    // Then: slow's final record, quick (one row), outer's final record.
    let second: Vec<_> = batches[1]
        .iter()
        .map(|e| (&*e.operation, e.status))
        .collect();
    assert_eq!(
        second,
        vec![
            ("macro_records::slow", EventStatus::Success),
            ("macro_records::quick", EventStatus::Success),
            ("macro_records::outer", EventStatus::Success),
        ]
    );
    let all = rec.store().query(&Query::new()).unwrap().items;
    assert_eq!(all.len(), 3);
    assert!(all.iter().all(|e| e.status == EventStatus::Success));
    let outer_id = all
        .iter()
        .find(|e| e.operation == "macro_records::outer")
        .unwrap()
        .id;
    assert!(all
        .iter()
        .filter(|e| e.id != outer_id)
        .all(|e| e.parent_id == Some(outer_id)));
}

#[test]
fn terraform_steps_update_the_queued_record_or_follow_it() {
    // Ends before any write: one row, completed.
    let store = TestStore::keeping_batches();
    let rec = idle_recorder(&store);
    apply(&rec, false).unwrap();
    rec.flush().unwrap();
    let batches = store.taken();
    assert_eq!(batches.len(), 1);
    assert_eq!(batches[0].len(), 1);
    assert_eq!(
        batches[0][0].terraform_status,
        Some(TerraformStatus::Completed)
    );

    // Written while the command runs: provisioning, then completed.
    let store = TestStore::keeping_batches();
    let rec = idle_recorder(&store);
    apply(&rec, true).unwrap();
    rec.flush().unwrap();
    let steps: Vec<_> = store
        .taken()
        .iter()
        .flatten()
        .map(|e| (e.status, e.terraform_status))
        .collect();
    assert_eq!(
        steps,
        vec![
            (EventStatus::InProgress, Some(TerraformStatus::Provisioning)),
            (EventStatus::Success, Some(TerraformStatus::Completed)),
        ]
    );
}

#[test]
fn calls_on_many_threads_are_each_written_once_final() {
    let store = TestStore::keeping_batches();
    // Small batches: the writer takes the queue often, in the middle of calls.
    let rec = Recorder::builder()
        .batch_size(7)
        .flush_interval(Duration::from_millis(1))
        .build(store.clone())
        .unwrap();
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let rec = rec.clone();
            std::thread::spawn(move || {
                for n in 0..2_000u64 {
                    let _ = quick(&rec, 10 + t * 10_000 + n);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    rec.flush().unwrap();
    let all = rec
        .store()
        .query(&Query::new().limit(10_000))
        .unwrap()
        .items;
    assert_eq!(all.len(), 8_000);
    assert!(all.iter().all(|e| e.status == EventStatus::Success));
    // Every record written is an in-progress or the final record of its own call.
    let written: usize = store.taken().iter().map(Vec::len).sum();
    assert!((8_000..=16_000).contains(&written), "{written}");
}

/// Opens the store and waits until everything recorded so far is written.
#[track_history(event_type = "gated", recorder = rec)]
fn opens(rec: &Recorder, store: &TestStore, n: u64) -> u64 {
    store.open_gate();
    rec.flush().unwrap();
    n + 1
}

#[test]
fn a_call_whose_start_the_full_queue_refused_is_still_written_final() {
    let store = TestStore::new();
    store.close_gate();
    let rec = Recorder::builder()
        .capacity(1)
        .batch_size(1)
        .overflow(history::Overflow::DropNewest)
        .build_shared(store.clone())
        .unwrap();
    let filler = || {
        Event::builder("filler".parse().unwrap(), "fill")
            .build()
            .unwrap()
    };
    // The writer holds one filler (its write waits), the queue the other: the queue is full
    // when the call starts, and its in-progress record is refused. The call opens the store
    // and flushes, which makes room; its final record, made from the refused one, is kept.
    rec.record(filler()).unwrap();
    store.wait_for_writer_at_gate();
    rec.record(filler()).unwrap();
    assert_eq!(opens(&rec, &store, 41), 42);
    rec.flush().unwrap();
    assert_eq!(rec.stats().dropped, 1, "the in-progress record");
    let calls = store
        .inner
        .query(&Query::new().operation("macro_records::opens"))
        .unwrap()
        .items;
    assert_eq!(calls.len(), 1);
    let call = &calls[0];
    assert_eq!(call.status, EventStatus::Success);
    assert_eq!(call.parameters.to_value()["n"], serde_json::json!(41));
    assert_eq!(
        call.result.as_ref().unwrap().to_value(),
        serde_json::json!(42)
    );
    assert!(call.finished_at.is_some() && call.duration.is_some());
    assert_eq!(store.inner.count(&Query::new()).unwrap(), 3);
}
