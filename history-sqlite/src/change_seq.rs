//! The change sequence: every row carries `change_seq`, the number of the change that last
//! wrote it (unique, indexed). A write transaction numbers its rows from the largest number
//! given out so far: the largest in `events`, or `feed.deleted_through` when retention deleted
//! the newest rows (so a number is never given out twice). Writers take turns on the
//! database, so the numbers follow commit order, across processes too. Reading the feed is in
//! `feed.rs`.

use rusqlite::Connection;

use crate::SqliteError;

/// The largest change number given out so far (0: none).
const LAST_SEQ: &str = "SELECT max(coalesce((SELECT max(change_seq) FROM events), 0), \
                        coalesce((SELECT deleted_through FROM feed WHERE id = 1), 0))";

/// The largest change number given out so far, read on `conn` (inside the write transaction
/// that will number its rows from it, or on a reader).
pub(crate) fn last_seq(conn: &Connection) -> Result<i64, SqliteError> {
    Ok(conn.prepare_cached(LAST_SEQ)?.query_row([], |r| r.get(0))?)
}

/// Run before deleting rows, in the same transaction: the numbers of the rows about to go are
/// never given out again.
pub(crate) fn remember_before_delete(conn: &Connection) -> Result<(), SqliteError> {
    conn.prepare_cached(&format!(
        "UPDATE feed SET deleted_through = ({LAST_SEQ}) WHERE id = 1"
    ))?
    .execute([])?;
    Ok(())
}
