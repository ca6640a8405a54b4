//! `history::scope(Context { .. }, closure_or_future)` supplies ids that tracked calls inside
//! pick up when their attribute does not name them.

mod common;

use common::Mem;
use history::context::{self, Context};
use history::{track_history, SubjectId};

#[track_history(event_type = "ctx_plain")]
fn plain() -> u8 {
    1
}

#[track_history(event_type = "ctx_named", user_id = 99, labels(region = "us"))]
fn named() -> u8 {
    2
}

#[test]
fn closure_scope_supplies_missing_ids() {
    let mem = Mem::new();
    let cx = Context {
        user_id: Some(SubjectId::from(7)),
        organization_id: Some("acme".into()),
        correlation_id: Some("req-1".into()),
        ..Default::default()
    }
    .label("region", "eu")
    .label("tier", "gold");
    let out = mem.with(|| {
        history::scope(cx, || {
            plain();
            named();
            plain() + 1
        })
    });
    assert_eq!(out, 2);
    mem.with(plain); // outside the scope: nothing supplied
    let e = mem.events();
    assert_eq!(e[0].user_id, Some(7.into()));
    assert_eq!(e[0].organization_id, Some("acme".into()));
    assert_eq!(e[0].correlation_id.as_deref(), Some("req-1"));
    assert_eq!(e[0].labels["tier"], "gold");
    // the attribute wins over the scope
    assert_eq!(e[1].user_id, Some(99.into()));
    assert_eq!(e[1].labels["region"], "us");
    assert_eq!(e[1].labels["tier"], "gold");
    assert_eq!(e[1].correlation_id.as_deref(), Some("req-1"));
    assert_eq!(e[3].user_id, None);
    assert!(e[3].correlation_id.is_none() && e[3].labels.is_empty());
}

#[test]
fn scopes_nest() {
    let mem = Mem::new();
    mem.with(|| {
        history::scope(Context::new().user_id(1).correlation_id("outer"), || {
            history::scope(Context::new().correlation_id("inner"), plain);
        })
    });
    let e = mem.only();
    assert_eq!(e.user_id, Some(1.into()));
    assert_eq!(e.correlation_id.as_deref(), Some("inner"));
}

#[track_history(event_type = "ctx_async", recorder = rec)]
async fn job(rec: &history::Recorder, step: u32) -> u32 {
    tokio::task::yield_now().await;
    step
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn future_scope_follows_the_future_and_tasks() {
    let mem = Mem::new();
    let rec = mem.recorder.clone();
    let total = history::scope(
        Context::new().correlation_id("job-9").user_id(3),
        async move {
            let a = job(&rec, 1).await;
            let r2 = rec.clone();
            let b = tokio::spawn(context::snapshot().instrument(async move { job(&r2, 2).await }))
                .await
                .unwrap();
            a + b
        },
    )
    .await;
    assert_eq!(total, 3);
    let e = mem.events();
    assert_eq!(e.len(), 2);
    for ev in &e {
        assert_eq!(ev.correlation_id.as_deref(), Some("job-9"));
        assert_eq!(ev.user_id, Some(3.into()));
    }
}
