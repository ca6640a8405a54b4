//! Marked spans become events: a real `tracing` subscriber, a recorder, a real SQLite file.

use std::sync::Arc;
use std::time::Duration;

use history::{EventStatus, HistoryStore, Query, Recorder};
use history_sqlite::SqliteStore;
use history_tracing::HistoryLayer;
use tracing::instrument::WithSubscriber;
use tracing::{error, info, info_span, instrument};
use tracing_subscriber::layer::SubscriberExt;

struct Db {
    _dir: tempfile::TempDir,
    store: Arc<SqliteStore>,
    recorder: Recorder,
}

fn db() -> Db {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path().join("history.db")).unwrap());
    let recorder = Recorder::new(store.clone()).unwrap();
    Db {
        _dir: dir,
        store,
        recorder,
    }
}

fn all(db: &Db) -> Vec<history::Event> {
    db.recorder.flush().unwrap();
    db.store
        .query(&Query::new().oldest_first().limit(100))
        .unwrap()
        .items
}

#[instrument(fields(history.event_type = "vm_create", user_id = user), skip(user))]
fn create_vm(user: u64, name: &str, password: &str) -> Result<u32, String> {
    info!("creating");
    std::thread::sleep(Duration::from_millis(5));
    if name == "bad" {
        return Err("quota exceeded".into());
    }
    Ok(4)
}

#[test]
fn an_instrumented_function_is_recorded_with_its_fields_redacted_and_its_duration() {
    let db = db();
    let subscriber = tracing_subscriber::registry().with(HistoryLayer::new(db.recorder.clone()));
    tracing::subscriber::with_default(subscriber, || {
        create_vm(7, "web", "hunter2").unwrap();
    });
    let events = all(&db);
    assert_eq!(events.len(), 1, "{events:#?}");
    let e = &events[0];
    assert_eq!(e.event_type.as_str(), "vm_create");
    assert_eq!(e.status, EventStatus::Success);
    assert_eq!(e.operation, "layer::create_vm");
    assert_eq!(e.user_id, Some(7.into()));
    let params = e.parameters.to_value();
    assert_eq!(params["name"], "web");
    assert_eq!(params["password"], "[redacted]");
    assert!(!e.parameters.to_string().contains("hunter2"));
    assert!(e.duration.unwrap() >= Duration::from_millis(5));
    assert!(e.finished_at.is_some());
    assert_eq!(e.trace_id, Some(e.id));
}

#[test]
fn an_error_field_or_an_error_log_inside_fails_the_event() {
    let db = db();
    let subscriber = tracing_subscriber::registry().with(HistoryLayer::new(db.recorder.clone()));
    tracing::subscriber::with_default(subscriber, || {
        let span = info_span!(
            "delete",
            history.event_type = "vm_delete",
            vm_id = "i-9",
            error = tracing::field::Empty
        );
        span.in_scope(|| {
            span.record("error", "no such VM");
        });
        drop(span);
        let span = info_span!("apply", history.event_type = "terraform_apply");
        span.in_scope(|| error!(code = 3, "terraform exited with 1"));
        drop(span);
        let span = info_span!("fine", history.event_type = "backup_run", error = false);
        span.in_scope(|| info!("ok"));
    });
    let events = all(&db);
    assert_eq!(events.len(), 3, "{events:#?}");
    assert_eq!(events[0].status, EventStatus::Failed);
    assert_eq!(events[0].vm_id, Some("i-9".into()));
    assert_eq!(events[0].error.as_ref().unwrap().message, "no such VM");
    assert_eq!(events[1].status, EventStatus::Failed);
    assert_eq!(
        events[1].error.as_ref().unwrap().message,
        "terraform exited with 1"
    );
    assert_eq!(events[2].status, EventStatus::Success);
    assert_eq!(events[2].event_type.as_str(), "backup_run");
}

#[history::track_history(event_type = "vm_start", recorder = recorder)]
fn tracked_step(recorder: &Recorder, vm_id: u64) {
    let inner = info_span!("probe", history.event_type = "vm_probe", vm_id);
    inner.in_scope(|| info!("probing"));
}

#[test]
fn spans_and_tracked_calls_nest_both_ways() {
    let db = db();
    let subscriber = tracing_subscriber::registry().with(HistoryLayer::new(db.recorder.clone()));
    let recorder = db.recorder.clone();
    tracing::subscriber::with_default(subscriber, || {
        let outer = info_span!("deploy", history.event_type = "deploy", service = "api");
        outer.in_scope(|| {
            tracked_step(&recorder, 5);
            let child = info_span!("migrate", history.event_type = "db_migrate");
            child.in_scope(|| info!("migrating"));
        });
    });
    let events = all(&db);
    let by_type = |t: &str| {
        events
            .iter()
            .find(|e| e.event_type.as_str() == t)
            .unwrap_or_else(|| panic!("no {t}: {events:#?}"))
    };
    let deploy = by_type("deploy");
    let start = by_type("vm_start");
    let probe = by_type("vm_probe");
    let migrate = by_type("db_migrate");
    assert_eq!(
        events.len(),
        4,
        "the tracked call's span is not recorded twice"
    );
    assert_eq!(deploy.parent_id, None);
    assert_eq!(deploy.parameters.to_value()["service"], "api");
    assert_eq!(start.parent_id, Some(deploy.id));
    assert_eq!(probe.parent_id, Some(start.id));
    assert_eq!(probe.vm_id, Some(5.into()));
    assert_eq!(migrate.parent_id, Some(deploy.id));
    for e in [start, probe, migrate] {
        assert_eq!(e.trace_id, Some(deploy.id));
    }
}

#[instrument(fields(history.event_type = "vm_resize"))]
async fn resize(vm_id: u64) -> u64 {
    tokio::time::sleep(Duration::from_millis(5)).await;
    info!("resized");
    vm_id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_async_span_is_one_event_across_awaits() {
    let db = db();
    let subscriber = tracing_subscriber::registry().with(HistoryLayer::new(db.recorder.clone()));
    let _guard = tracing::subscriber::set_default(subscriber);
    // The task runs on the runtime's threads, under the test's subscriber.
    let handle = tokio::spawn(resize(11).with_current_subscriber());
    assert_eq!(handle.await.unwrap(), 11);
    let events = all(&db);
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0].status, EventStatus::Success);
    assert_eq!(events[0].vm_id, Some(11.into()));
    assert!(events[0].duration.unwrap() >= Duration::from_millis(5));
}

#[test]
fn unmarked_spans_and_bad_types_record_nothing() {
    let db = db();
    let subscriber = tracing_subscriber::registry().with(HistoryLayer::new(db.recorder.clone()));
    tracing::subscriber::with_default(subscriber, || {
        info_span!("plain", vm_id = 1).in_scope(|| info!("x"));
        info_span!("bad", history.event_type = "Not A Type").in_scope(|| info!("x"));
    });
    assert!(all(&db).is_empty());
}
