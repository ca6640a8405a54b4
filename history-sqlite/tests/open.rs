//! Opening files: new files, bad paths, files that are not history databases. A refused file
//! is never modified.

use std::path::Path;

use history::{Event, EventType, HistoryStore, Query};
use history_sqlite::{SqliteError, SqliteStore};

fn bytes(path: &Path) -> Vec<u8> {
    std::fs::read(path).expect("read file")
}

fn event() -> Event {
    Event::builder(EventType::VmStart, "vm::start")
        .user_id(1)
        .build()
        .expect("event")
}

#[test]
fn a_new_file_is_created_private_with_the_schema_and_reopens() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.db");
    let e = event();
    {
        let store = SqliteStore::open(&path).unwrap();
        store.write_batch(std::slice::from_ref(&e)).unwrap();
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "history files hold sensitive data");
    }
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.get(e.id).unwrap(), Some(e));
    let conn = rusqlite::Connection::open(&path).unwrap();
    let mode: String = conn
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, history_sqlite::schema::SCHEMA_VERSION);
}

#[test]
fn a_directory_is_refused_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let err = SqliteStore::open(dir.path()).unwrap_err();
    assert!(matches!(err, SqliteError::IsDirectory { .. }), "{err:?}");
    assert!(err.to_string().contains("is a directory"), "{err}");
}

#[test]
fn an_unwritable_path_is_refused_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    // A path "inside" a regular file cannot be created, even by root.
    let file = dir.path().join("plain");
    std::fs::write(&file, b"x").unwrap();
    let err = SqliteStore::open(file.join("h.db")).unwrap_err();
    assert!(matches!(err, SqliteError::CannotOpen { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("cannot create or open") && msg.contains("plain"),
        "{msg}"
    );
    let missing = dir.path().join("no/such/dir/h.db");
    let err = SqliteStore::open(&missing).unwrap_err();
    assert!(err.to_string().contains("no/such/dir"), "{err}");
}

#[test]
fn a_file_that_is_not_sqlite_is_refused_and_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.txt");
    let content = b"these are my notes, not a database\n".repeat(200);
    std::fs::write(&path, &content).unwrap();
    let err = SqliteStore::open(&path).unwrap_err();
    assert!(matches!(err, SqliteError::NotADatabase { .. }), "{err:?}");
    assert!(err.to_string().contains("not a SQLite database"), "{err}");
    assert_eq!(bytes(&path), content);
}

#[test]
fn a_damaged_sqlite_file_is_refused_and_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.db");
    let mut content = b"SQLite format 3\0".to_vec();
    content.extend(std::iter::repeat_n(0xA5u8, 8192));
    std::fs::write(&path, &content).unwrap();
    let err = SqliteStore::open(&path).unwrap_err();
    assert!(matches!(err, SqliteError::NotADatabase { .. }), "{err:?}");
    assert_eq!(bytes(&path), content);
}

#[test]
fn another_applications_database_is_refused_and_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.db");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO customers VALUES (1, 'ada');")
            .unwrap();
    }
    let before = bytes(&path);
    let err = SqliteStore::open(&path).unwrap_err();
    assert!(
        matches!(err, SqliteError::ForeignDatabase { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("customers"), "{err}");
    assert_eq!(bytes(&path), before);
}

#[test]
fn a_newer_schema_is_refused_and_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.db");
    drop(SqliteStore::open(&path).unwrap());
    let future = history_sqlite::schema::SCHEMA_VERSION + 1;
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", future).unwrap();
        conn.pragma_update(None, "journal_mode", "DELETE").unwrap();
    }
    let before = bytes(&path);
    let err = SqliteStore::open(&path).unwrap_err();
    match &err {
        SqliteError::NewerSchema { found, .. } => assert_eq!(*found, future),
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("newer"), "{err}");
    assert_eq!(bytes(&path), before);
}

#[test]
fn an_empty_file_becomes_a_history_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.db");
    std::fs::write(&path, b"").unwrap();
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.count(&Query::new()).unwrap(), 0);
}

#[test]
fn the_store_is_send_and_sync() {
    fn check<T: Send + Sync + 'static>() {}
    check::<SqliteStore>();
}

#[test]
fn the_wal_is_checkpointed_in_the_background() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.db");
    let store = SqliteStore::open(&path).unwrap();
    let batch: Vec<Event> = (0..2_000).map(|_| event()).collect();
    store.write_batch(&batch).unwrap();
    let main_file = || std::fs::metadata(&path).unwrap().len();
    let before = main_file();
    // The events reach the main file without any further write by this store.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while main_file() <= before {
        assert!(std::time::Instant::now() < deadline, "no checkpoint");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn a_write_cache_out_of_range_is_refused_naming_the_option_and_the_limits() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.db");
    for bytes in [
        0,
        history_sqlite::MIN_WRITE_CACHE - 1,
        history_sqlite::MAX_WRITE_CACHE + 1,
    ] {
        let err = SqliteStore::options()
            .write_cache(bytes)
            .open(&path)
            .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("write_cache") && text.contains("1 MiB to 4 GiB"),
            "{text}"
        );
        assert!(!path.exists(), "nothing is created for a refused option");
    }
    let store = SqliteStore::options()
        .write_cache(history_sqlite::MIN_WRITE_CACHE)
        .open(&path)
        .unwrap();
    drop(store);
}
