//! WAL checkpoints on a connection of their own: the background thread's passive checkpoint
//! after writes, and the pacing of long jobs (purge, vacuum) by the disk.
//!
//! Without pacing, a purge writes WAL far faster than the background checkpointer copies it
//! back: the backlog grew to the size of the database (400 MB for a third of 1M events),
//! every checkpoint then ran for up to 200 ms of I/O, and the commits of a concurrent writer
//! queued behind it for up to 280 ms. Paced, the job takes longer but never gets more than one
//! step ahead of the disk.

use std::path::Path;
use std::time::Duration;

use rusqlite::Connection;

use crate::SqliteError;

/// How often, and how long apart, [`Checkpointer::catch_up`] retries a checkpoint another
/// connection is running (the store's background checkpointer, another process).
const CATCH_UP_RETRIES: u32 = 20;
const CATCH_UP_RETRY_AFTER: Duration = Duration::from_millis(5);

/// A connection that only checkpoints the WAL.
pub(crate) struct Checkpointer {
    conn: Connection,
}

impl Checkpointer {
    /// A checkpoint connection to `path`, waiting up to `busy` for locks.
    pub(crate) fn open(path: &Path, busy: Duration) -> Result<Checkpointer, SqliteError> {
        Ok(Checkpointer {
            conn: crate::schema::open_checkpoint_connection(path, busy)?,
        })
    }

    /// One passive checkpoint (never blocks a writer or reader). Busy (another checkpoint
    /// running) is fine: the caller tries again later.
    pub(crate) fn passive(&self) {
        let _ = self.conn.execute_batch("PRAGMA wal_checkpoint(PASSIVE)");
    }

    /// Keeps a long job in step with the disk: call it after each of the job's transactions,
    /// outside the write lock; it returns once that step's frames are in the database file.
    /// While another connection is checkpointing, waits for it and tries again, a bounded
    /// number of times. Best effort: an error here only loses the pacing, never the job (the
    /// job's own writes report real failures).
    pub(crate) fn catch_up(&self) {
        for _ in 0..CATCH_UP_RETRIES {
            let busy = self
                .conn
                .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(0));
            match busy {
                Ok(0) | Err(_) => return,
                Ok(_) => std::thread::sleep(CATCH_UP_RETRY_AFTER),
            }
        }
    }
}
