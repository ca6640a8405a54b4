//! Read-only opens: nothing is created, migrated or written; refusals are clear; reads see
//! what another store commits meanwhile.

use std::path::Path;
use std::time::{Duration, SystemTime};

use history::retention::Retention;
use history::stats::StatsQuery;
use history::{Event, EventStatus, EventType, Filter, HistoryStore, Query};
use history_sqlite::{SqliteError, SqliteStore};

fn fingerprint(path: &Path) -> (Vec<u8>, SystemTime) {
    let bytes = std::fs::read(path).expect("read file");
    let mtime = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .expect("mtime");
    (bytes, mtime)
}

fn events(n: u64) -> Vec<Event> {
    (0..n)
        .map(|i| {
            Event::builder(EventType::VmStart, "vm::start")
                .user_id(i % 3)
                .status(EventStatus::Success)
                .build()
                .expect("event")
        })
        .collect()
}

/// A history file with `n` events, closed (its WAL checkpointed away).
fn history_file(dir: &Path, n: u64) -> std::path::PathBuf {
    let path = dir.join("history.db");
    let store = SqliteStore::open(&path).unwrap();
    store.write_batch(&events(n)).unwrap();
    drop(store);
    path
}

#[test]
fn a_missing_file_is_refused_and_not_created() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nothing.db");
    let err = SqliteStore::open_read_only(&path).unwrap_err();
    assert!(matches!(err, SqliteError::Missing { .. }), "{err:?}");
    assert!(err.to_string().contains("does not exist"), "{err}");
    assert!(!path.exists());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn an_empty_file_is_refused_and_stays_empty() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.db");
    std::fs::write(&path, b"").unwrap();
    let err = SqliteStore::open_read_only(&path).unwrap_err();
    assert!(matches!(err, SqliteError::Empty { .. }), "{err:?}");
    assert_eq!(std::fs::read(&path).unwrap().len(), 0);
}

#[test]
fn a_file_that_is_not_sqlite_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.txt");
    std::fs::write(&path, b"just some text, long enough to have a header").unwrap();
    let err = SqliteStore::open_read_only(&path).unwrap_err();
    assert!(matches!(err, SqliteError::NotADatabase { .. }), "{err:?}");
}

#[test]
fn older_and_newer_schemas_are_refused_and_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = history_file(dir.path(), 1);
    for version in [history_sqlite::schema::SCHEMA_VERSION - 1, 10_000] {
        {
            let conn = rusqlite::Connection::open(&path).unwrap();
            conn.pragma_update(None, "user_version", version).unwrap();
        }
        let before = fingerprint(&path);
        let err = SqliteStore::open_read_only(&path).unwrap_err();
        if version == 10_000 {
            assert!(matches!(err, SqliteError::NewerSchema { .. }), "{err:?}");
        } else {
            assert!(matches!(err, SqliteError::OlderSchema { .. }), "{err:?}");
            assert!(
                err.to_string().contains("open it once for writing"),
                "{err}"
            );
        }
        assert!(before == fingerprint(&path), "refused file was changed");
    }
}

#[test]
fn reads_leave_the_file_bytes_and_mtime_unchanged_and_writes_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = history_file(dir.path(), 50);
    let before = fingerprint(&path);
    // mtime has a coarse clock on some file systems: a write now would show.
    std::thread::sleep(Duration::from_millis(20));
    {
        let store = SqliteStore::open_read_only(&path).unwrap();
        let page = store.query(&Query::new().limit(10)).unwrap();
        assert_eq!(page.items.len(), 10);
        assert_eq!(
            store.get(page.items[0].id).unwrap().as_ref(),
            Some(&page.items[0])
        );
        assert_eq!(store.count(&Filter::new().user_id(1)).unwrap(), 17);
        let feed = store
            .changes_after(history::ChangeToken::START, 100)
            .unwrap();
        assert_eq!(feed.changes.len(), 50);
        assert_eq!(store.latest_change().unwrap(), feed.next);
        assert_eq!(
            store.stats(&StatsQuery::default()).unwrap().summary.total,
            50
        );
        let dry = Retention::matching(Filter::new().event_type(EventType::VmStart)).dry_run();
        assert_eq!(store.purge(&dry).unwrap().deleted, 50);

        let err = store.write_batch(&events(1)).unwrap_err();
        assert!(err.to_string().contains("opened read-only"), "{err}");
        assert!(store
            .purge(&Retention::matching(
                Filter::new().event_type(EventType::VmStart)
            ))
            .is_err());
        assert!(matches!(
            store.recover_interrupted(),
            Err(SqliteError::OpenedReadOnly { .. })
        ));
        assert!(matches!(
            store.rebuild_rollups(),
            Err(SqliteError::OpenedReadOnly { .. })
        ));
        assert_eq!(store.count(&Filter::new()).unwrap(), 50);
    }
    assert!(
        before == fingerprint(&path),
        "a read-only store changed the file"
    );
}

#[test]
fn a_read_only_store_sees_what_a_writer_commits_meanwhile() {
    let dir = tempfile::tempdir().unwrap();
    let path = history_file(dir.path(), 5);
    let writer = SqliteStore::open(&path).unwrap();
    let reader = SqliteStore::open_read_only(&path).unwrap();
    assert_eq!(reader.count(&Filter::new()).unwrap(), 5);
    let token = reader.latest_change().unwrap();
    let new = events(7);
    writer.write_batch(&new).unwrap();
    assert_eq!(reader.count(&Filter::new()).unwrap(), 12);
    // A follower with a read-only store (`tail -f` in another process) sees the new changes.
    let page = reader.changes_after(token, 100).unwrap();
    let ids: Vec<_> = page.changes.iter().map(|c| c.event.id).collect();
    let want: Vec<_> = new.iter().map(|e| e.id).collect();
    assert_eq!(ids, want);
    drop(writer);
    assert_eq!(reader.count(&Filter::new()).unwrap(), 12);
}

#[test]
fn check_reads_integrity_rollups_and_orphans_without_writing() {
    let dir = tempfile::tempdir().unwrap();
    let path = history_file(dir.path(), 10);
    {
        // An in-progress event of a writer that is gone (no owner row), and a row changed
        // behind the rollups' back.
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute(
            "UPDATE events SET status = 'in_progress', owner = NULL \
             WHERE rowid = (SELECT min(rowid) FROM events)",
            [],
        )
        .unwrap();
    }
    let before = fingerprint(&path);
    let health = SqliteStore::open_read_only(&path).unwrap().check().unwrap();
    assert!(before == fingerprint(&path), "check changed the file");
    assert_eq!(health.events, 10);
    assert_eq!(
        health.schema_version,
        history_sqlite::schema::SCHEMA_VERSION
    );
    assert!(health.integrity_problems.is_empty());
    assert_eq!(health.orphaned, 1);
    assert!(health.rollup_mismatches >= 1, "{health:?}");
    assert!(!health.is_ok());

    let store = SqliteStore::open(&path).unwrap();
    store.rebuild_rollups().unwrap();
    assert_eq!(store.recover_interrupted().unwrap(), 1);
    assert!(store.check().unwrap().is_ok());
}
