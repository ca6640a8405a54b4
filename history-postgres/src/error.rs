//! [`PostgresError`]: what the PostgreSQL store reports, and which of it is worth retrying.

use history::StoreError;

/// What the PostgreSQL store reports.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PostgresError {
    /// The server could not be reached or refused the connection. `url` has no password.
    #[error("cannot connect to PostgreSQL at {url}: {source}")]
    Connect {
        /// The connection URL, its password replaced.
        url: String,
        /// Why.
        #[source]
        source: postgres::Error,
    },
    /// A statement failed.
    #[error("PostgreSQL: {0}")]
    Postgres(#[from] postgres::Error),
    /// The schema was written by a newer version of this library.
    #[error(
        "the history schema `{schema}` is at version {found}, newer than this library \
         supports ({supported}); upgrade the library (nothing was changed)"
    )]
    NewerSchema {
        /// The schema.
        schema: String,
        /// Its version.
        found: i32,
        /// The newest this library knows.
        supported: i32,
    },
    /// The schema holds tables that are not a history's (another application's).
    #[error(
        "the schema `{schema}` holds tables that are not a history's ({tables}); choose \
         another schema (nothing was changed)"
    )]
    ForeignSchema {
        /// The schema.
        schema: String,
        /// Some of its tables.
        tables: String,
    },
    /// An option or URL is not valid.
    #[error("invalid option `{option}`: {reason}")]
    InvalidOption {
        /// Which option.
        option: &'static str,
        /// Why.
        reason: String,
    },
    /// Stored data could not be read back.
    #[error("stored data is unreadable: {0}")]
    Corrupt(String),
    /// Staged batches were lost with the connection before they were committed.
    #[error("the connection was lost before the staged batches were committed")]
    StagedLost,
}

impl PostgresError {
    /// Whether retrying the same call may succeed: the server was unreachable, restarted, the
    /// connection was cut (`pg_terminate_backend`), or a transaction lost a race (deadlock,
    /// serialization failure, lock timeout, too many connections).
    pub fn is_transient(&self) -> bool {
        match self {
            PostgresError::Connect { .. } | PostgresError::StagedLost => true,
            PostgresError::Postgres(e) => is_transient(e),
            _ => false,
        }
    }
}

/// Whether `e` is about the connection or a lost race rather than the statement.
pub(crate) fn is_transient(e: &postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    match e.code() {
        Some(code) => {
            let c = code.code();
            // 08: connection exception; 57P01-57P03: admin shutdown, crash shutdown, cannot
            // connect now; 40001/40P01: serialization failure, deadlock; 53300: too many
            // connections; 55P03: lock not available; 57014: query canceled (timeout).
            c.starts_with("08")
                || matches!(
                    c,
                    "57P01" | "57P02" | "57P03" | "40001" | "40P01" | "53300" | "55P03" | "57014"
                )
        }
        // No SQLSTATE: an I/O error or the connection closing under us.
        None => e.as_db_error().is_none(),
    }
}

impl From<PostgresError> for StoreError {
    fn from(e: PostgresError) -> StoreError {
        match e {
            e if e.is_transient() => StoreError::Unavailable(Box::new(e)),
            PostgresError::Corrupt(m) => StoreError::Corrupt(m),
            e => StoreError::Backend(Box::new(e)),
        }
    }
}
