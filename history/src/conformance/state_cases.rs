//! Stored state only moves forward: a record behind the stored one never replaces it.

use std::time::Duration;

use super::data::base_time;
use crate::event::{ErrorInfo, Event, EventStatus, EventType};
use crate::stats::StatsQuery;
use crate::store::{HistoryStore, Query};
use crate::Json;

fn call(n: i64) -> (Event, Event) {
    let mut started = Event::new(EventType::VmStart, "svc::start");
    started.started_at = base_time() + chrono::Duration::seconds(n);
    started.user_id = Some(1.into());
    let mut done = started.clone();
    done.status = EventStatus::Success;
    done.finished_at = Some(started.started_at + chrono::Duration::seconds(2));
    done.duration = Some(Duration::from_secs(2));
    done.result = Some(Json::from(serde_json::json!({"ok": n})));
    (started, done)
}

/// The final record of a call is never overwritten by its in-progress record arriving later
/// (a resend, a replayed spill frame), in a later batch or later in the same batch; the call's
/// own outcome replaces an `interrupted` written for it, never the reverse; an older final
/// record (earlier `finished_at`) never replaces a newer one. Counts and statistics agree.
pub fn final_state_wins(store: &dyn HistoryStore) {
    let (started, done) = call(1);
    store
        .write_batch(std::slice::from_ref(&done))
        .expect("final");
    store
        .write_batch(std::slice::from_ref(&started))
        .expect("resent start");
    assert_eq!(
        store.get(done.id).expect("get"),
        Some(done.clone()),
        "a later start"
    );

    let (started2, done2) = call(2);
    store
        .write_batch(&[done2.clone(), started2])
        .expect("final then start in one batch");
    assert_eq!(
        store.get(done2.id).expect("get"),
        Some(done2.clone()),
        "same batch"
    );

    let (started3, done3) = call(3);
    store
        .write_batch(std::slice::from_ref(&started3))
        .expect("start");
    let mut interrupted = started3.clone();
    interrupted.status = EventStatus::Interrupted;
    interrupted.finished_at = Some(done3.started_at + chrono::Duration::seconds(60));
    interrupted.error = Some(Box::new(ErrorInfo {
        message: "the process died".into(),
        kind: Some("interrupted".into()),
        ..ErrorInfo::default()
    }));
    store
        .write_batch(&[interrupted.clone()])
        .expect("interrupted");
    assert_eq!(store.get(done3.id).expect("get"), Some(interrupted.clone()));
    store
        .write_batch(std::slice::from_ref(&done3))
        .expect("own outcome");
    assert_eq!(
        store.get(done3.id).expect("get"),
        Some(done3.clone()),
        "outcome wins"
    );
    store.write_batch(&[interrupted]).expect("late interrupted");
    assert_eq!(
        store.get(done3.id).expect("get"),
        Some(done3.clone()),
        "stays"
    );

    let mut older = done.clone();
    older.status = EventStatus::Failed;
    older.finished_at = Some(done.started_at + chrono::Duration::seconds(1));
    older.result = None;
    store.write_batch(&[older]).expect("older final");
    assert_eq!(
        store.get(done.id).expect("get"),
        Some(done.clone()),
        "older final"
    );

    let mut rewritten = done.clone();
    rewritten.result = Some(Json::from(serde_json::json!({"rewritten": true})));
    store
        .write_batch(&[rewritten.clone()])
        .expect("same end time");
    assert_eq!(
        store.get(done.id).expect("get"),
        Some(rewritten),
        "a rewrite"
    );

    let all = Query::new();
    assert_eq!(store.count(&all).expect("count"), 3);
    assert_eq!(
        store
            .count(&Query::new().status(EventStatus::Success))
            .expect("count"),
        3
    );
    let stats = store.stats(&StatsQuery::new(all.filter)).expect("stats");
    assert_eq!(stats.summary.total, 3, "statistics count each call once");
}
