//! [`SqliteError`]: what the SQLite store reports, and how it maps onto [`StoreError`].

use std::path::PathBuf;

use history::StoreError;
use rusqlite::ErrorCode;

/// Everything that can go wrong opening or using a [`SqliteStore`](crate::SqliteStore).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SqliteError {
    /// The path names a directory, not a database file.
    #[error("cannot open history database {}: it is a directory (give a file path, e.g. {}/history.db)", path.display(), path.display())]
    IsDirectory {
        /// The path given.
        path: PathBuf,
    },
    /// The file could not be created or opened (missing parent directory, no permission, …).
    #[error("cannot create or open history database {}", path.display())]
    CannotOpen {
        /// The path given.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The database cannot be written by this process: a read-only file or file system, or
    /// no write permission. It was left untouched.
    #[error("history database {} is read-only for this process: {reason}; it was left untouched", path.display())]
    ReadOnly {
        /// The path given.
        path: PathBuf,
        /// Why, in words.
        reason: &'static str,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The file exists but is not a SQLite database (or is damaged). It was not modified.
    #[error("{} is not a SQLite database (or it is damaged); it was left untouched", path.display())]
    NotADatabase {
        /// The path given.
        path: PathBuf,
    },
    /// The file is a SQLite database of some other application. It was not modified.
    #[error("{} is a SQLite database of another application (tables: {tables}), not a history database; it was left untouched", path.display())]
    ForeignDatabase {
        /// The path given.
        path: PathBuf,
        /// Some of the tables it holds.
        tables: String,
    },
    /// The database was written by a newer version of this library. It was not modified.
    #[error("{} has history schema version {found}, newer than the {supported} this version of history-sqlite knows; upgrade history-sqlite to open it (the file was left untouched)", path.display())]
    NewerSchema {
        /// The path given.
        path: PathBuf,
        /// The schema version in the file.
        found: i64,
        /// The newest schema version this library knows.
        supported: i64,
    },
    /// A read-only open found no file at the path (a read-only open creates nothing).
    #[error("no history database at {}: the file does not exist", path.display())]
    Missing {
        /// The path given.
        path: PathBuf,
    },
    /// A read-only open found an empty file: no history has been written to it yet.
    #[error("{} is empty: no history has been recorded into it yet", path.display())]
    Empty {
        /// The path given.
        path: PathBuf,
    },
    /// A read-only open found a database of an older schema, which only a store opened for
    /// writing upgrades. It was not modified.
    #[error("{} has history schema version {found}, older than the {supported} this version of history-sqlite reads; open it once for writing to upgrade it (the file was left untouched)", path.display())]
    OlderSchema {
        /// The path given.
        path: PathBuf,
        /// The schema version in the file.
        found: i64,
        /// The schema version this library reads.
        supported: i64,
    },
    /// A write (or recovery, purge, rollup rebuild, `ANALYZE`) through a store opened with
    /// [`SqliteOptions::read_only`](crate::SqliteOptions::read_only).
    #[error("history database {} was opened read-only; it cannot be written through this store", path.display())]
    OpenedReadOnly {
        /// The database file.
        path: PathBuf,
    },
    /// An option of [`SqliteOptions`](crate::SqliteOptions) is out of its range; nothing was
    /// opened.
    #[error("invalid `{option}`: {reason}")]
    InvalidOption {
        /// The option, e.g. `write_cache`.
        option: &'static str,
        /// What is wrong and what the limit is.
        reason: String,
    },
    /// Stored data could not be read back (a column holds something this library never writes).
    #[error("stored data is unreadable: {0}")]
    Corrupt(String),
    /// An error from SQLite: its message (SQLite's own error code stays on the value; it is
    /// not repeated as a source, whose text would say the same again).
    #[error("{0}")]
    Sqlite(rusqlite::Error),
}

impl From<rusqlite::Error> for SqliteError {
    fn from(e: rusqlite::Error) -> SqliteError {
        SqliteError::Sqlite(e)
    }
}

impl SqliteError {
    /// Whether the same call may succeed later (the database is busy or locked, or I/O
    /// failed).
    pub fn is_transient(&self) -> bool {
        matches!(self, SqliteError::Sqlite(e) if is_transient(e))
    }
}

pub(crate) fn is_transient(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(
            ErrorCode::DatabaseBusy
                | ErrorCode::DatabaseLocked
                | ErrorCode::SystemIoFailure
                | ErrorCode::DiskFull
                | ErrorCode::CannotOpen
        )
    )
}

impl From<SqliteError> for StoreError {
    fn from(e: SqliteError) -> StoreError {
        match e {
            e if e.is_transient() => StoreError::Unavailable(Box::new(e)),
            SqliteError::Corrupt(msg) => StoreError::Corrupt(msg),
            SqliteError::Sqlite(ref s)
                if matches!(
                    s.sqlite_error_code(),
                    Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase)
                ) =>
            {
                StoreError::Corrupt(e.to_string())
            }
            e => StoreError::Backend(Box::new(e)),
        }
    }
}
