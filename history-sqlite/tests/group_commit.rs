//! Group commit on the SQLite store: staged batches become durable and visible together; a
//! failing row keeps the group (and leaves `write_batch` atomic); anyone else who needs the
//! write connection commits the group first; rollups stay right.

use history::conformance::follow;
use history::{ChangeToken, Event, EventType, HistoryStore, Query};
use history_sqlite::SqliteStore;

fn events(n: usize, operation: &'static str) -> Vec<Event> {
    (0..n)
        .map(|i| {
            let mut e = Event::new(EventType::VmCreate, operation);
            e.user_id = Some((i as i64 % 7).into());
            e.finish(history::EventStatus::Success);
            e
        })
        .collect()
}

/// A store whose inserts fail for events with operation `boom` (a trigger), as a row SQLite
/// refuses would.
fn store_with_a_poison_row(dir: &tempfile::TempDir) -> SqliteStore {
    let path = dir.path().join("h.db");
    drop(SqliteStore::open(&path).unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(
        "CREATE TRIGGER poison BEFORE INSERT ON events WHEN NEW.operation = 'boom' \
         BEGIN SELECT RAISE(ABORT, 'poison row'); END;",
    )
    .unwrap();
    drop(conn);
    SqliteStore::open(&path).unwrap()
}

fn all(store: &SqliteStore) -> u64 {
    store.count(&Query::new()).unwrap()
}

/// The rollup table, as the writes left it.
fn rollups(store: &SqliteStore) -> Vec<(i64, String, String, i64, i64, i64)> {
    let conn = rusqlite::Connection::open(store.path()).unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT hour, event_type, status, events, timed, sum_us FROM stats_hourly \
             ORDER BY hour, event_type, status",
        )
        .unwrap();
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
            ))
        })
        .unwrap();
    rows.collect::<Result<_, _>>().unwrap()
}

fn assert_rollups_match_the_events(store: &SqliteStore) {
    let kept = rollups(store);
    store.rebuild_rollups().unwrap();
    assert_eq!(kept, rollups(store), "rollups drifted from the events");
}

#[test]
fn staged_batches_become_visible_together_at_commit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.db");
    let store = SqliteStore::open(&path).unwrap();
    let other = SqliteStore::open(&path).unwrap();
    store.stage_batch(&events(300, "a")).unwrap();
    store.stage_batch(&events(200, "b")).unwrap();
    assert_eq!(
        all(&other),
        0,
        "staged events are not visible before the commit"
    );
    store.commit_staged().unwrap();
    assert_eq!(all(&other), 500);
    // Nothing open: committing again is a no-op, and a plain write commits at once.
    store.commit_staged().unwrap();
    store.write_batch(&events(10, "c")).unwrap();
    assert_eq!(all(&other), 510);
    assert_rollups_match_the_events(&store);
}

#[test]
fn a_group_left_uncommitted_is_committed_when_the_store_closes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.db");
    let store = SqliteStore::open(&path).unwrap();
    store.write_batch(&events(5, "kept")).unwrap();
    store.stage_batch(&events(50, "staged")).unwrap();
    drop(store);
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(all(&store), 55);
    assert_rollups_match_the_events(&store);
}

#[test]
fn other_uses_of_the_write_connection_commit_the_group_first() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.db");
    let store = SqliteStore::open(&path).unwrap();
    let other = SqliteStore::open(&path).unwrap();
    store.stage_batch(&events(40, "a")).unwrap();
    // Recovery runs its own transaction on the write connection: it must not run inside the
    // group (it would fail to begin, or commit the group half-way).
    store.recover_interrupted().unwrap();
    assert_eq!(all(&other), 40);
    store.stage_batch(&events(60, "b")).unwrap();
    store.analyze().unwrap();
    assert_eq!(all(&other), 100);
    store.commit_staged().unwrap();
    assert_eq!(all(&other), 100);
}

#[test]
fn write_batch_stays_atomic_when_a_row_fails() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_a_poison_row(&dir);
    let mut batch = events(10, "ok");
    batch.insert(5, events(1, "boom").remove(0));
    let err = store.write_batch(&batch).unwrap_err();
    assert!(err.to_string().contains("poison row"), "{err}");
    assert_eq!(all(&store), 0, "none of a failed batch is stored");
    // The connection is usable again, outside any transaction.
    store.write_batch(&events(3, "ok")).unwrap();
    assert_eq!(all(&store), 3);
    assert_rollups_match_the_events(&store);
}

#[test]
fn a_row_that_fails_in_a_group_keeps_what_was_staged_and_rewriting_counts_nothing_twice() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_a_poison_row(&dir);
    let first = events(100, "first");
    store.stage_batch(&first).unwrap();
    let mut second = events(20, "second");
    second.insert(10, events(1, "boom").remove(0));
    assert!(store.stage_batch(&second).is_err());
    store.commit_staged().unwrap();
    // The first batch, and the rows of the second before the poison one.
    assert_eq!(all(&store), 110);
    assert_rollups_match_the_events(&store);
    // What the recorder does next: the failed batch again, without the poison row. The ten
    // rows already there are replaced, not added.
    second.remove(10);
    store.write_batch(&second).unwrap();
    assert_eq!(all(&store), 120);
    assert_rollups_match_the_events(&store);
    for e in first.iter().chain(&second) {
        assert_eq!(store.get(e.id).unwrap().as_ref(), Some(e));
    }
}

#[test]
fn rewriting_staged_in_progress_events_keeps_rollups_right() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("h.db")).unwrap();
    let started: Vec<Event> = (0..50)
        .map(|_| Event::new(EventType::VmStart, "start"))
        .collect();
    store.stage_batch(&started).unwrap();
    let finished: Vec<Event> = started
        .iter()
        .map(|e| {
            let mut e = e.clone();
            e.finish(history::EventStatus::Failed);
            e
        })
        .collect();
    store.stage_batch(&finished).unwrap();
    store.commit_staged().unwrap();
    assert_eq!(all(&store), 50);
    assert_rollups_match_the_events(&store);
}

#[test]
fn staged_batches_reach_the_change_feed_at_commit_in_staging_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.db");
    let store = SqliteStore::open(&path).unwrap();
    let follower = SqliteStore::open(&path).unwrap();
    let a = events(40, "a");
    let b = events(30, "b");
    store.stage_batch(&a).unwrap();
    store.stage_batch(&b).unwrap();
    let (nothing, token) = follow(&follower, ChangeToken::START, 10);
    assert!(nothing.is_empty(), "nothing before the commit");
    store.commit_staged().unwrap();
    let (changes, _) = follow(&follower, token, 9);
    let ids: Vec<_> = changes.iter().map(|c| c.event.id).collect();
    let want: Vec<_> = a.iter().chain(&b).map(|e| e.id).collect();
    assert_eq!(ids, want);
}

#[test]
fn a_failed_row_in_a_group_leaves_the_feed_without_gaps_or_repeats() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_a_poison_row(&dir);
    let first = events(30, "first");
    store.stage_batch(&first).unwrap();
    let mut second = events(20, "second");
    second.insert(10, events(1, "boom").remove(0));
    assert!(store.stage_batch(&second).is_err());
    store.commit_staged().unwrap();
    second.remove(10);
    store.write_batch(&second).unwrap();
    let (changes, last) = follow(&store, ChangeToken::START, 7);
    let mut ids: Vec<_> = changes.iter().map(|c| c.event.id).collect();
    let mut want: Vec<_> = first.iter().chain(&second).map(|e| e.id).collect();
    ids.sort();
    want.sort();
    assert_eq!(ids, want, "each event once");
    assert_eq!(store.latest_change().unwrap(), last);
}
