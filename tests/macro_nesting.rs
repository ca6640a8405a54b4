//! Nested tracked calls record their parent's id and share the root's id as `trace_id`:
//! directly, across `.await`, and in threads and tasks started with a context snapshot.

mod common;

use common::Mem;
use history::{context, track_history, Event, EventId};

#[track_history(event_type = "inner")]
fn inner(n: u32) -> u32 {
    n + 1
}

#[track_history(event_type = "outer")]
fn outer() -> u32 {
    inner(1) + inner(2)
}

#[track_history(event_type = "outer_threads")]
fn outer_threads() -> u32 {
    let snapshot = context::snapshot();
    std::thread::scope(|s| {
        let a = s.spawn(snapshot.clone().wrap(|| inner(10)));
        let b = s.spawn(snapshot.wrap(|| inner(20)));
        a.join().unwrap() + b.join().unwrap()
    })
}

fn by_type<'a>(events: &'a [Event], t: &str) -> Vec<&'a Event> {
    events
        .iter()
        .filter(|e| e.event_type.as_str() == t)
        .collect()
}

#[test]
fn sync_nesting() {
    let mem = Mem::new();
    mem.with(|| {
        assert_eq!(outer(), 5);
        inner(0); // after the outer call: a root of its own
    });
    let e = mem.events();
    let root = by_type(&e, "outer")[0];
    assert_eq!(root.parent_id, None);
    assert_eq!(root.trace_id, Some(root.id));
    let inners = by_type(&e, "inner");
    assert_eq!(inners.len(), 3);
    for child in &inners[..2] {
        assert_eq!(child.parent_id, Some(root.id));
        assert_eq!(child.trace_id, Some(root.id));
    }
    assert_eq!(inners[2].parent_id, None);
    assert_eq!(inners[2].trace_id, Some(inners[2].id));
}

#[test]
fn threads_with_a_snapshot() {
    let mem = Mem::new();
    // the threads have no default recorder of their own: use a process-wide one
    let _guard = history::init(mem.recorder.clone()).unwrap();
    assert_eq!(outer_threads(), 32);
    let e = mem.events();
    let root = by_type(&e, "outer_threads")[0];
    let inners = by_type(&e, "inner");
    assert_eq!(inners.len(), 2);
    assert!(inners.iter().all(|c| c.parent_id == Some(root.id)));
    assert!(inners.iter().all(|c| c.trace_id == Some(root.id)));
}

#[track_history(event_type = "leaf", recorder = rec)]
async fn leaf(rec: &history::Recorder, n: u32) -> u32 {
    tokio::task::yield_now().await;
    n
}

#[track_history(event_type = "middle", recorder = rec)]
async fn middle(rec: &history::Recorder) -> u32 {
    let a = leaf(rec, 1).await;
    tokio::task::yield_now().await;
    let (b, c) = futures::join!(leaf(rec, 2), leaf(rec, 3));
    a + b + c
}

#[track_history(event_type = "top", recorder = rec)]
async fn top(rec: &history::Recorder) -> (u32, Option<EventId>) {
    let m = middle(rec).await;
    // a spawned task carries the context through a snapshot
    let r = rec.clone();
    let spawned = tokio::spawn(context::snapshot().instrument(async move { leaf(&r, 10).await }));
    let s = spawned.await.unwrap();
    (m + s, context::snapshot().parent_id())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_nesting_across_await_and_tasks() {
    let mem = Mem::new();
    let (sum, seen_inside) = top(&mem.recorder).await;
    assert_eq!(sum, 16);
    // outside any tracked call, nothing is running
    assert_eq!(context::snapshot().parent_id(), None);
    let e = mem.events();
    let top = by_type(&e, "top")[0];
    let middle = by_type(&e, "middle")[0];
    assert_eq!(seen_inside, Some(top.id));
    assert_eq!(middle.parent_id, Some(top.id));
    let leaves = by_type(&e, "leaf");
    assert_eq!(leaves.len(), 4);
    for l in &leaves {
        assert_eq!(l.trace_id, Some(top.id));
        let expected = if l.parameters.to_value()["n"] == 10 {
            top.id
        } else {
            middle.id
        };
        assert_eq!(l.parent_id, Some(expected), "{l:?}");
    }
}
