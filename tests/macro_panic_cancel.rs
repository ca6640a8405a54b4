//! A panic records `failed` (kind `panic`, with the message) and still panics; a future
//! dropped before it completes records `cancelled`.

mod common;

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use common::Mem;
use history::{track_history, EventStatus};

#[track_history(event_type = "explode")]
fn explode(n: u32) -> u32 {
    if n > 1 {
        panic!("too many: {n}");
    }
    n
}

#[test]
fn sync_panic_is_recorded_and_resumed() {
    let mem = Mem::new();
    let caught = mem.with(|| std::panic::catch_unwind(|| explode(3)));
    let payload = caught.expect_err("the panic propagates");
    assert_eq!(payload.downcast_ref::<String>().unwrap(), "too many: 3");
    let e = mem.only();
    assert_eq!(e.status, EventStatus::Failed);
    let err = e.error.unwrap();
    assert_eq!(err.kind.as_deref(), Some("panic"));
    assert_eq!(err.message, "too many: 3");
    assert!(e.duration.is_some());
}

#[track_history(event_type = "explode_async", recorder = rec)]
async fn explode_async(rec: history::Recorder) -> Result<(), String> {
    let _ = rec;
    tokio::task::yield_now().await;
    panic!("async boom");
}

#[tokio::test]
async fn async_panic_is_recorded_and_resumed() {
    let mem = Mem::new();
    let rec = mem.recorder.clone();
    let joined = tokio::spawn(explode_async(rec));
    let err = joined.await.expect_err("the task panicked");
    assert!(err.is_panic());
    let e = mem.only();
    assert_eq!(e.status, EventStatus::Failed);
    assert_eq!(e.error.as_ref().unwrap().kind.as_deref(), Some("panic"));
    assert_eq!(e.error.as_ref().unwrap().message, "async boom");
}

#[track_history(event_type = "slow", recorder = rec)]
async fn slow(rec: &history::Recorder) -> u32 {
    let _ = rec;
    std::future::pending::<()>().await;
    1
}

#[test]
fn dropped_future_records_cancelled() {
    let mem = Mem::new();
    {
        let mut fut = pin!(slow(&mem.recorder));
        let mut cx = Context::from_waker(Waker::noop());
        assert!(fut.as_mut().poll(&mut cx).is_pending());
        mem.recorder.flush().unwrap();
        assert_eq!(mem.store.all()[0].status, EventStatus::InProgress);
    } // dropped here, before completing
    let e = mem.only();
    assert_eq!(e.status, EventStatus::Cancelled);
    assert!(e.finished_at.is_some() && e.error.is_none());
}

#[tokio::test]
async fn timeout_cancels() {
    let mem = Mem::new();
    let r = tokio::time::timeout(std::time::Duration::from_millis(10), slow(&mem.recorder)).await;
    assert!(r.is_err());
    assert_eq!(mem.only().status, EventStatus::Cancelled);
}

#[test]
fn a_future_never_polled_records_nothing() {
    let mem = Mem::new();
    drop(slow(&mem.recorder));
    assert!(mem.events().is_empty());
    let _ = Poll::Ready(());
}

#[test]
fn a_future_dropped_while_a_sibling_panic_unwinds_records_cancelled() {
    let mem = Mem::new();
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // Two "siblings" in one frame: the tracked future is pending when the other panics,
        // and the unwinding drops it.
        let mut fut = Box::pin(slow(&mem.recorder));
        let mut cx = Context::from_waker(Waker::noop());
        assert!(fut.as_mut().poll(&mut cx).is_pending());
        let sibling = || -> u32 { panic!("sibling failed") };
        sibling()
    }));
    assert!(caught.is_err());
    let e = mem.only();
    assert_eq!(e.status, EventStatus::Cancelled, "{e:#?}");
    assert!(e.error.is_none());
}

#[tokio::test]
async fn a_tracked_future_in_a_join_whose_sibling_panics_records_cancelled() {
    let mem = Mem::new();
    let rec = mem.recorder.clone();
    let joined = tokio::spawn(async move {
        let sibling = async {
            tokio::task::yield_now().await;
            panic!("sibling failed");
        };
        tokio::join!(slow(&rec), sibling)
    });
    assert!(joined.await.unwrap_err().is_panic());
    let e = mem.only();
    assert_eq!(e.status, EventStatus::Cancelled, "{e:#?}");
}
