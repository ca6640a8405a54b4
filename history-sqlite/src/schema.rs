//! The schema, its versions, and opening a file safely: a file that is not a history database
//! (not SQLite, another application's, or from a newer version) is refused before anything is
//! written to it.

use std::fs::OpenOptions;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, TransactionBehavior};

use crate::SqliteError;

/// `PRAGMA application_id` of a history database ("HIST").
pub const APPLICATION_ID: i32 = 0x4849_5354;

/// The schema version this library writes (`PRAGMA user_version`).
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// One step of the schema: SQL, or code for what SQL cannot do alone.
enum Migration {
    Sql(&'static str),
    Code(fn(&Connection) -> rusqlite::Result<()>),
}

/// Migration `i` takes a database from version `i` to `i + 1`. Each runs in the one
/// transaction that opens the database; never edit a released migration, add one.
const MIGRATIONS: &[Migration] = &[
    // 1: events, one row per event id.
    //
    // Times and durations are integer microseconds; ids are 16-byte blobs (UUID bytes, which
    // sort like the ids). Subject ids have no declared type, so integers stay integers and
    // text stays text (1 and "1" are different subjects). Columns that filters use are
    // columns; the rest is JSON text. Every index costs write speed, so only the lookups that
    // must be fast have one: the time order (every page, keyset cursor), a user's or a VM's
    // events in time order, and the sparse tree/correlation ids (partial indexes cost nothing
    // for events without them).
    Migration::Sql(
        r#"
    CREATE TABLE events (
        id               BLOB    NOT NULL PRIMARY KEY,
        started_at       INTEGER NOT NULL,
        event_type       TEXT    NOT NULL,
        status           TEXT    NOT NULL,
        finished_at      INTEGER,
        duration_us      INTEGER,
        operation        TEXT    NOT NULL,
        user_id,
        vm_id,
        credential_id,
        organization_id,
        parent_id        BLOB,
        trace_id         BLOB,
        correlation_id   TEXT,
        labels           TEXT,
        parameters       TEXT    NOT NULL,
        result           TEXT,
        error            TEXT,
        terraform_status TEXT,
        execution        TEXT
    );
    CREATE INDEX events_by_time ON events (started_at, id);
    CREATE INDEX events_by_user ON events (user_id, started_at, id) WHERE user_id IS NOT NULL;
    CREATE INDEX events_by_vm ON events (vm_id, started_at, id) WHERE vm_id IS NOT NULL;
    CREATE INDEX events_by_trace ON events (trace_id) WHERE trace_id IS NOT NULL;
    CREATE INDEX events_by_parent ON events (parent_id) WHERE parent_id IS NOT NULL;
    CREATE INDEX events_by_correlation ON events (correlation_id)
        WHERE correlation_id IS NOT NULL;
    "#,
    ),
    // 2: crash recovery. Each open store registers as an owner with a heartbeat; unfinished
    // events carry their writer's owner id, so events of a dead process can be told from
    // events a live one is still working on. The partial index holds only unfinished events.
    Migration::Sql(
        r#"
    ALTER TABLE events ADD COLUMN owner BLOB;
    CREATE TABLE owners (
        id           BLOB    NOT NULL PRIMARY KEY,
        pid          INTEGER NOT NULL,
        host         TEXT    NOT NULL,
        opened_at    INTEGER NOT NULL,
        heartbeat_at INTEGER NOT NULL
    );
    CREATE INDEX events_unfinished ON events (owner) WHERE status IN ('pending', 'in_progress');
    "#,
    ),
    // 3: no VM index. Every batch dirties one page of a subject index per distinct subject
    // in it, which the WAL writes whole: with the user and VM indexes, ingest ran at about a
    // third of the speed without them (measured with 1,000-event batches). The user index
    // stays (a user's events by time); VM filters ride the user or time index.
    Migration::Sql(
        r#"
    DROP INDEX IF EXISTS events_by_vm;
    "#,
    ),
    // 4: hourly rollups (count, sum, min, max, duration histogram per hour × type × status),
    // kept in the same transaction as every write, for statistics over long ranges.
    Migration::Code(crate::rollup::create_and_backfill),
    // 5: the time index also carries status and type, so pages filtered by them ("newest 50
    // failed") test each candidate in the index and read only the rows they return. Appended
    // in time order, the wider entries cost little on insert.
    Migration::Sql(
        r#"
    DROP INDEX events_by_time;
    CREATE INDEX events_by_time ON events (started_at, id, status, event_type);
    "#,
    ),
    // 6: leaner entries in the two indexes every tracked call fills (issue 6: ingest).
    // - The user index is the one whose pages are random (one per distinct user per write
    //   transaction): its entries drop the 16-byte id (the rowid already makes them unique);
    //   equal timestamps of one user are put in id order by a sort of just those ties.
    // - A root call is its own trace (`trace_id = id`): those rows are found by their primary
    //   key, so the trace index keeps only the members of a trace below its root.
    Migration::Sql(
        r#"
    DROP INDEX events_by_user;
    CREATE INDEX events_by_user ON events (user_id, started_at) WHERE user_id IS NOT NULL;
    DROP INDEX events_by_trace;
    CREATE INDEX events_by_trace ON events (trace_id)
        WHERE trace_id IS NOT NULL AND trace_id <> id;
    "#,
    ),
    // 7: no `pending` status any more: such rows become `in_progress`, rollups included.
    Migration::Code(crate::rollup::retire_pending),
    // 8: where each event ran. No index: one SQLite file usually serves one host, so a
    // filter on them narrows little and would cost every write.
    Migration::Sql(
        r#"
    ALTER TABLE events ADD COLUMN host TEXT;
    ALTER TABLE events ADD COLUMN service TEXT;
    "#,
    ),
    // 9: the change feed. Each row carries the number of the change that last wrote it
    // (`change_seq.rs`); stored rows are numbered in the order they were inserted. The index is
    // appended to at its end (numbers only grow). `feed.deleted_through` keeps the largest
    // number retention deleted, so no number is given out twice.
    Migration::Sql(
        r#"
    ALTER TABLE events ADD COLUMN change_seq INTEGER;
    UPDATE events SET change_seq = rowid;
    CREATE UNIQUE INDEX events_by_change ON events (change_seq);
    CREATE TABLE feed (
        id              INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
        deleted_through INTEGER NOT NULL
    );
    INSERT INTO feed (id, deleted_through) VALUES (1, 0);
    "#,
    ),
    // 10: the external (W3C) trace and span ids, 16- and 8-byte blobs. Partial indexes: they
    // cost nothing for events without them, and a filter on either ("every event of this
    // distributed trace", "the event of this span") is a lookup.
    Migration::Sql(
        r#"
    ALTER TABLE events ADD COLUMN external_trace_id BLOB;
    ALTER TABLE events ADD COLUMN external_span_id BLOB;
    CREATE INDEX events_by_external_trace ON events (external_trace_id)
        WHERE external_trace_id IS NOT NULL;
    CREATE INDEX events_by_external_span ON events (external_span_id)
        WHERE external_span_id IS NOT NULL;
    "#,
    ),
];

/// Creates the file (mode 0600) when missing, checks what it holds without writing to it,
/// then brings its schema to [`SCHEMA_VERSION`] in one transaction.
pub(crate) fn open_write_connection(
    path: &Path,
    busy: Duration,
    cache_kib: u32,
) -> Result<Connection, SqliteError> {
    if path.is_dir() {
        return Err(SqliteError::IsDirectory {
            path: path.to_owned(),
        });
    }
    create_private(path)?;
    for file in [path.to_owned(), beside(path, "-wal"), beside(path, "-shm")] {
        tighten(&file);
    }
    check_writable(path)?;
    check_header(path)?;
    let conn = connect(path, busy)?;
    if conn.is_readonly(rusqlite::MAIN_DB)? {
        return Err(SqliteError::ReadOnly {
            path: path.to_owned(),
            reason: "SQLite could open it only for reading",
            source: std::io::Error::from(std::io::ErrorKind::PermissionDenied),
        });
    }
    let what = inspect(&conn, path)?;
    if what == Found::Fresh {
        // Must precede the first table; stored in the header.
        conn.pragma_update(None, "auto_vacuum", "INCREMENTAL")?;
    }
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    // Checkpoints (copying the WAL back, with an fsync) would stall the writer's commit that
    // triggers them: a background thread checkpoints instead (see `recovery.rs`), and this
    // automatic one (at about 400 MB of WAL) is only a backstop.
    conn.pragma_update(None, "wal_autocheckpoint", 100_000)?;
    // Negative: KiB, not pages.
    conn.pragma_update(None, "cache_size", -i64::from(cache_kib))?;
    migrate(&conn, path)?;
    Ok(conn)
}

/// A connection for background checkpoints.
pub(crate) fn open_checkpoint_connection(
    path: &Path,
    busy: Duration,
) -> Result<Connection, SqliteError> {
    connect(path, busy)
}

/// Opens `path` for reading only, refusing — before anything could be written — a file that
/// is missing, empty, not a history database, or of another schema version than
/// [`SCHEMA_VERSION`]. Never creates, migrates or writes the database file.
pub(crate) fn open_read_only_connection(
    path: &Path,
    busy: Duration,
) -> Result<Connection, SqliteError> {
    match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(SqliteError::Missing {
                path: path.to_owned(),
            })
        }
        Err(source) => {
            return Err(SqliteError::CannotOpen {
                path: path.to_owned(),
                source,
            })
        }
        Ok(meta) if meta.is_dir() => {
            return Err(SqliteError::IsDirectory {
                path: path.to_owned(),
            })
        }
        Ok(meta) if meta.len() == 0 => {
            return Err(SqliteError::Empty {
                path: path.to_owned(),
            })
        }
        Ok(_) => {}
    }
    check_header(path)?;
    let conn = open_read_connection(path, busy, true)?;
    if inspect(&conn, path)? == Found::Fresh {
        return Err(SqliteError::Empty {
            path: path.to_owned(),
        });
    }
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if version < SCHEMA_VERSION {
        return Err(SqliteError::OlderSchema {
            path: path.to_owned(),
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    Ok(conn)
}

/// A connection for reads only; `read_only`: opened with SQLite's read-only flag, so that
/// neither it nor its closing (no checkpoint on close) can write the database file.
pub(crate) fn open_read_connection(
    path: &Path,
    busy: Duration,
    read_only: bool,
) -> Result<Connection, SqliteError> {
    let conn = if read_only {
        connect_with(path, busy, OpenFlags::SQLITE_OPEN_READ_ONLY)?
    } else {
        connect(path, busy)?
    };
    if read_only {
        conn.set_db_config(
            rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE,
            true,
        )
        .map_err(|e| not_a_database(e, path))?;
    }
    conn.pragma_update(None, "query_only", true)?;
    // Read pages straight from the OS cache instead of copying them in (256 MB window).
    conn.pragma_update(None, "mmap_size", 268_435_456)?;
    // Plans that do not depend on the values bound (SQLite's query planner stability
    // guarantee). Otherwise SQLite plans a statement again whenever a value it planned with
    // is bound anew, and a cached statement has its values cleared on every use: each page
    // query would be planned from scratch, which costs more than reading its rows. Statuses,
    // the one filter whose value decides the index, are written into the SQL as literals.
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;
    Ok(conn)
}

/// `path` as SQLite must be given it to open that very file: a relative path that starts with
/// `file:` would be read as a URI (`file:x.db?mode=memory`, an in-memory database), so it is
/// prefixed with `./`. URIs are never enabled.
fn file_path(path: &Path) -> std::borrow::Cow<'_, Path> {
    if path.as_os_str().as_encoded_bytes().starts_with(b"file:") {
        std::borrow::Cow::Owned(Path::new(".").join(path))
    } else {
        std::borrow::Cow::Borrowed(path)
    }
}

fn connect(path: &Path, busy: Duration) -> Result<Connection, SqliteError> {
    connect_with(path, busy, OpenFlags::SQLITE_OPEN_READ_WRITE)
}

/// Opens `path` with `mode` (read-write or read-only; never create).
fn connect_with(path: &Path, busy: Duration, mode: OpenFlags) -> Result<Connection, SqliteError> {
    let flags = mode | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(file_path(path), flags).map_err(|e| {
        SqliteError::CannotOpen {
            path: path.to_owned(),
            // SQLite's message alone: its own source would say the same again.
            source: std::io::Error::other(e.to_string()),
        }
    })?;
    let setup = || -> rusqlite::Result<()> {
        conn.busy_timeout(busy)?;
        conn.set_prepared_statement_cache_capacity(64);
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        conn.pragma_update(None, "cache_size", -16_000) // 16 MB
    };
    setup().map_err(|e| not_a_database(e, path))?;
    Ok(conn)
}

/// `<path><suffix>`: SQLite's `-wal` and `-shm` files beside the database.
fn beside(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Takes away every permission of group and others from `file` (when it exists), saying so:
/// a database made by an older version, by hand or under another umask may be readable by
/// anyone. SQLite gives the `-wal` and `-shm` files it creates the database's mode.
fn tighten(file: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let Ok(meta) = std::fs::metadata(file) else {
            return;
        };
        let mode = meta.permissions().mode() & 0o7777;
        if mode & 0o077 == 0 || !meta.is_file() {
            return;
        }
        match std::fs::set_permissions(file, std::fs::Permissions::from_mode(mode & 0o700)) {
            Ok(()) => tracing::warn!(
                "history-sqlite: {} had mode {mode:o}, open to other users; tightened to {:o}",
                file.display(),
                mode & 0o700
            ),
            Err(e) => tracing::warn!(
                "history-sqlite: {} has mode {mode:o}, open to other users, and could not be \
                 tightened: {e}",
                file.display()
            ),
        }
    }
}

/// Refuses a database this process cannot write (read-only file or file system, no write
/// permission) with its name and why, before SQLite fails on it with a vaguer message.
fn check_writable(path: &Path) -> Result<(), SqliteError> {
    match OpenOptions::new().read(true).write(true).open(path) {
        Ok(_) => Ok(()),
        Err(source) => {
            let reason = match source.kind() {
                std::io::ErrorKind::ReadOnlyFilesystem => "its file system is mounted read-only",
                std::io::ErrorKind::PermissionDenied => "this process may not write it",
                _ => "it cannot be opened for writing",
            };
            Err(SqliteError::ReadOnly {
                path: path.to_owned(),
                reason,
                source,
            })
        }
    }
}

/// Creates `path` with mode 0600 if it does not exist (history holds sensitive data). SQLite
/// gives its `-wal` and `-shm` files the same mode.
fn create_private(path: &Path) -> Result<(), SqliteError> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(source) => Err(SqliteError::CannotOpen {
            path: path.to_owned(),
            source,
        }),
    }
}

/// A non-empty file must start with SQLite's magic header.
fn check_header(path: &Path) -> Result<(), SqliteError> {
    let mut file = std::fs::File::open(path).map_err(|source| SqliteError::CannotOpen {
        path: path.to_owned(),
        source,
    })?;
    let mut header = [0u8; 16];
    let mut read = 0;
    while read < header.len() {
        match file.read(&mut header[read..]) {
            Ok(0) => break,
            Ok(n) => read += n,
            Err(source) => {
                return Err(SqliteError::CannotOpen {
                    path: path.to_owned(),
                    source,
                })
            }
        }
    }
    if read == 0 || &header[..read] == b"SQLite format 3\0" {
        return Ok(());
    }
    Err(SqliteError::NotADatabase {
        path: path.to_owned(),
    })
}

#[derive(Debug, PartialEq, Eq)]
enum Found {
    Fresh,
    History,
}

/// SQLite's "not a database" and "malformed" as [`SqliteError::NotADatabase`].
fn not_a_database(e: rusqlite::Error, path: &Path) -> SqliteError {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt) => {
            SqliteError::NotADatabase {
                path: path.to_owned(),
            }
        }
        _ => SqliteError::Sqlite(e),
    }
}

/// Reads the file's identity without writing: fresh, ours, or refused.
fn inspect(conn: &Connection, path: &Path) -> Result<Found, SqliteError> {
    let not_db = |e| not_a_database(e, path);
    let tables: Vec<String> = {
        let mut stmt = conn
            .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")
            .map_err(not_db)?;
        let rows = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(not_db)?;
        rows.collect::<Result<_, _>>().map_err(not_db)?
    };
    let app_id: i32 = conn
        .pragma_query_value(None, "application_id", |r| r.get(0))
        .map_err(not_db)?;
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(not_db)?;
    if app_id == 0 && tables.is_empty() && version == 0 {
        return Ok(Found::Fresh);
    }
    if app_id != APPLICATION_ID {
        let mut listed: Vec<&str> = tables.iter().take(5).map(String::as_str).collect();
        if tables.len() > 5 {
            listed.push("…");
        }
        return Err(SqliteError::ForeignDatabase {
            path: path.to_owned(),
            tables: if listed.is_empty() {
                format!("none, application_id {app_id:#x}")
            } else {
                listed.join(", ")
            },
        });
    }
    check_not_newer(version, path)?;
    Ok(Found::History)
}

fn check_not_newer(version: i64, path: &Path) -> Result<(), SqliteError> {
    if version > SCHEMA_VERSION {
        return Err(SqliteError::NewerSchema {
            path: path.to_owned(),
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    Ok(())
}

/// Applies the missing migrations in one transaction (another process may be doing the same:
/// the version is read again under the write lock).
fn migrate(conn: &Connection, path: &Path) -> Result<(), SqliteError> {
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if version == SCHEMA_VERSION {
        return Ok(());
    }
    let tx = rusqlite::Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
    let version: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
    check_not_newer(version, path)?;
    for (from, step) in MIGRATIONS.iter().enumerate().skip(version.max(0) as usize) {
        match step {
            Migration::Sql(sql) => tx.execute_batch(sql)?,
            Migration::Code(run) => run(&tx)?,
        }
        tx.pragma_update(None, "user_version", from as i64 + 1)?;
    }
    tx.pragma_update(None, "application_id", APPLICATION_ID)?;
    tx.commit()?;
    Ok(())
}
