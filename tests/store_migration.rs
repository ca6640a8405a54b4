//! A database of each released schema (kept as SQL text under tests/fixtures/) is upgraded
//! in place on open, keeping every event.

use std::path::Path;

use history::{Event, EventStatus, HistoryStore, Query};
use history_sqlite::SqliteStore;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

fn load_fixture(version: u32, path: &Path) -> Vec<Event> {
    let sql = std::fs::read_to_string(format!("{FIXTURES}/schema_v{version}.sql")).unwrap();
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch(&sql).unwrap();
    let v: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(v, i64::from(version));
    let json =
        std::fs::read_to_string(format!("{FIXTURES}/schema_v{version}_events.json")).unwrap();
    serde_json::from_str(&json).unwrap()
}

fn user_version(path: &Path) -> i64 {
    rusqlite::Connection::open(path)
        .unwrap()
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap()
}

/// The released schema versions with a fixture.
const RELEASED: [u32; 2] = [1, 5];

#[test]
fn every_released_schema_opens_keeping_every_event() {
    for v in RELEASED {
        a_released_database_is_upgraded_in_place_keeping_every_event(v);
    }
}

fn a_released_database_is_upgraded_in_place_keeping_every_event(version: u32) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    let mut events = load_fixture(version, &path);
    // Roots recorded by `#[track_history]` are their own trace (`trace_id = id`); schema 6
    // keeps them out of the trace index. Make the fixture's roots look like that.
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute(
            "UPDATE events SET trace_id = id WHERE trace_id IS NULL AND parent_id IS NULL",
            [],
        )
        .unwrap();
    for e in events.iter_mut() {
        if e.trace_id.is_none() && e.parent_id.is_none() {
            e.trace_id = Some(e.id);
        }
    }
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(user_version(&path), history_sqlite::schema::SCHEMA_VERSION);
    assert_eq!(store.count(&Query::new()).unwrap(), events.len() as u64);
    for e in &events {
        assert_eq!(store.get(e.id).unwrap().as_ref(), Some(e));
    }
    // The indexes rebuilt by the upgrade answer like the reference semantics: every trace and
    // every user of the fixture.
    let mut queries: Vec<Query> = Vec::new();
    for e in &events {
        if let Some(t) = e.trace_id {
            queries.push(Query::new().trace_id(t));
        }
        if let Some(u) = &e.user_id {
            queries.push(Query::new().user_id(u.clone()));
        }
    }
    for q in queries {
        let q = q.limit(1_000);
        let mut want: Vec<_> = events
            .iter()
            .filter(|e| q.matches(e))
            .map(|e| e.id)
            .collect();
        let mut got: Vec<_> = store
            .query(&q)
            .unwrap()
            .items
            .iter()
            .map(|e| e.id)
            .collect();
        want.sort();
        got.sort();
        assert_eq!(got, want, "v{version}: {q:?}");
    }
    // Every stored event is in the change feed once; what is written next follows it.
    let (changes, last) = history::conformance::follow(&store, history::ChangeToken::START, 7);
    let mut fed: Vec<_> = changes.iter().map(|c| c.event.id).collect();
    let mut stored: Vec<_> = events.iter().map(|e| e.id).collect();
    fed.sort();
    stored.sort();
    assert_eq!(
        fed, stored,
        "v{version}: the feed holds every upgraded event once"
    );
    // The upgraded file works as a current one.
    let mut more = events[1].clone();
    more.id = history::EventId::new();
    store.write_batch(&[more.clone()]).unwrap();
    assert_eq!(store.get(more.id).unwrap(), Some(more.clone()));
    let (changes, _) = history::conformance::follow(&store, last, 7);
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].event, more);
    drop(store);
    // Opening again is a no-op.
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.count(&Query::new()).unwrap(), events.len() as u64 + 1);
}

#[test]
fn unfinished_events_from_before_the_upgrade_are_recoverable() {
    for v in RELEASED {
        unfinished_events_are_recoverable(v);
    }
}

fn unfinished_events_are_recoverable(version: u32) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    let events = load_fixture(version, &path);
    assert_eq!(events[0].status, EventStatus::InProgress);
    let store = SqliteStore::options()
        .recover_on_open(true)
        .open(&path)
        .unwrap();
    let e = store.get(events[0].id).unwrap().unwrap();
    assert_eq!(e.status, EventStatus::Interrupted);
    assert!(e.error.unwrap().message.contains("ended before"));
    assert_eq!(store.get(events[1].id).unwrap().as_ref(), Some(&events[1]));
}

#[test]
fn the_statistics_rollups_match_the_stored_events_after_opening() {
    for v in RELEASED {
        rollups_match(v);
    }
}

fn rollups_match(version: u32) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    let events = load_fixture(version, &path);
    // exact_stats_up_to(0): answer from the rollups the migration built.
    let store = SqliteStore::options()
        .exact_stats_up_to(0)
        .open(&path)
        .unwrap();
    let q = history::stats::StatsQuery::new(history::Filter::new());
    let want = history::stats::compute(&q, &events).summary;
    let got = store.stats(&q).unwrap().summary;
    assert_eq!(got.total, want.total);
    assert_eq!(got.by_status, want.by_status);
    let (g, w) = (got.duration.unwrap(), want.duration.unwrap());
    assert_eq!(
        (g.count, g.avg, g.min, g.max),
        (w.count, w.avg, w.min, w.max)
    );
}

#[test]
fn events_stored_as_pending_become_in_progress() {
    for v in RELEASED {
        pending_becomes_in_progress(v);
    }
}

/// `pending` was a status nothing set; the fixtures hold rows with it all the same. After the
/// upgrade no row is `pending`: each is `in_progress`, found by a status filter and by
/// recovery like any unfinished event, and the rollups count it there.
fn pending_becomes_in_progress(version: u32) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    load_fixture(version, &path);
    let raw = |sql: &str| -> i64 {
        rusqlite::Connection::open(&path)
            .unwrap()
            .query_row(sql, [], |r| r.get(0))
            .unwrap()
    };
    let pending = raw("SELECT count(*) FROM events WHERE status = 'pending'");
    let unfinished = raw("SELECT count(*) FROM events WHERE status IN ('pending', 'in_progress')");
    assert!(pending > 0, "v{version}: the fixture holds pending rows");
    let store = SqliteStore::options()
        .exact_stats_up_to(0)
        .open(&path)
        .unwrap();
    assert_eq!(
        raw("SELECT count(*) FROM events WHERE status = 'pending'"),
        0
    );
    assert_eq!(
        raw("SELECT count(*) FROM stats_hourly WHERE status = 'pending'"),
        0
    );
    let in_progress = history::Filter::new().status(EventStatus::InProgress);
    assert_eq!(store.count(&in_progress).unwrap(), unfinished as u64);
    let stats = store
        .stats(&history::stats::StatsQuery::new(history::Filter::new()))
        .unwrap();
    assert_eq!(
        stats
            .summary
            .by_status
            .get(&EventStatus::InProgress)
            .copied(),
        Some(unfinished as u64)
    );
    drop(store);
    let store = SqliteStore::options()
        .recover_on_open(true)
        .open(&path)
        .unwrap();
    assert_eq!(store.count(&in_progress).unwrap(), 0, "all recovered");
}
