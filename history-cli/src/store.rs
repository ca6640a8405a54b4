//! Opening the history file: read-only for every read command; for writing (prune --yes,
//! check --repair / --recover) only a file that already is a history.

use std::path::Path;

use history_sqlite::SqliteStore;

use crate::error::CliError;

/// The history at `db`, read-only: never created, migrated or written.
pub(crate) fn read(db: &Path) -> Result<SqliteStore, CliError> {
    Ok(SqliteStore::open_read_only(db)?)
}

/// The history at `db`, for writing. A missing, empty or foreign file is refused as a read
/// would refuse it (nothing is created); an older schema is upgraded.
pub(crate) fn write(db: &Path) -> Result<SqliteStore, CliError> {
    match SqliteStore::open_read_only(db) {
        Ok(_) | Err(history_sqlite::SqliteError::OlderSchema { .. }) => {}
        Err(e) => return Err(e.into()),
    }
    Ok(SqliteStore::open(db)?)
}
