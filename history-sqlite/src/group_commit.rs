//! Group commit: the write connection, and the transaction it may keep open across batches.
//!
//! A write transaction costs SQLite one WAL frame per page it dirties. Every tracked call
//! puts an entry into the user index, at a place that depends on the user: a transaction
//! dirties about one page of that index per distinct user in it, however few of that user's
//! events it holds. Under sustained load the recorder therefore stages several batches into
//! one open transaction ([`HistoryStore::stage_batch`](history::HistoryStore::stage_batch))
//! and commits them together; each batch sits in its own savepoint, so a batch that fails
//! leaves the ones before it staged.
//!
//! Anyone else who needs the write connection (purge, recovery, the heartbeat, `ANALYZE`,
//! closing the store) goes through [`WriteConn::connection`], which commits staged batches
//! first: nothing ever runs inside a group it does not belong to, and dropping the store
//! commits what is staged.

use history::{Event, StoreError};
use rusqlite::Connection;

use crate::change_seq;
use crate::codec;
use crate::rollup::Deltas;
use crate::SqliteError;

/// The write connection and the state of its group transaction.
pub(crate) struct WriteConn {
    conn: Connection,
    /// Events staged in the open transaction; `None` when none is open.
    staged: Option<u64>,
    /// A group that was rolled back (by SQLite, after an I/O error, or because its commit
    /// failed on behalf of another user of the connection): how many events, and why. The
    /// next [`WriteConn::commit`] reports it (the recorder keeps staged events until their
    /// commit succeeds, and writes them again).
    lost: Option<RolledBack>,
}

impl WriteConn {
    pub(crate) fn new(conn: Connection) -> WriteConn {
        WriteConn {
            conn,
            staged: None,
            lost: None,
        }
    }

    /// The connection, with any staged batches committed first (a failed commit is
    /// remembered for the recorder's next [`WriteConn::commit`]).
    pub(crate) fn connection(&mut self) -> &mut Connection {
        if let Err(failed) = self.commit_group() {
            let earlier = self.lost.take().map_or(0, |l| l.events);
            self.lost = Some(RolledBack {
                events: failed.events + earlier,
                ..failed
            });
        }
        &mut self.conn
    }

    /// Writes `batch` (last record of an id wins) inside the open transaction, starting one
    /// if none is open.
    ///
    /// On error, the rows of `batch` before the failing one stay written, with their rollup
    /// changes (a savepoint per batch would copy every page it touches into a sub-journal,
    /// which costs more than the writes it protects), and what was staged before stays staged;
    /// writing the batch again replaces those rows by id, so nothing is counted twice. If
    /// SQLite rolled the whole transaction back (I/O error, disk full), the staged events are
    /// lost and [`WriteConn::commit`] reports them.
    pub(crate) fn stage(&mut self, batch: &[Event], owner: &[u8; 16]) -> Result<(), SqliteError> {
        if self.staged.is_none() {
            // Takes the write lock now (BUSY here, with nothing staged, is retried by the
            // recorder); held until the group commits.
            self.conn.execute_batch("BEGIN IMMEDIATE")?;
            self.staged = Some(0);
        }
        match write_rows(&self.conn, batch, owner) {
            Ok(()) => {
                if let Some(n) = self.staged.as_mut() {
                    *n += batch.len() as u64;
                }
                Ok(())
            }
            Err(e) => {
                if self.conn.is_autocommit() {
                    // SQLite rolled back the whole transaction.
                    if let Some(events) = self.staged.take().filter(|&n| n > 0) {
                        self.lost = Some(RolledBack {
                            events,
                            transient: e.is_transient(),
                            why: e.to_string(),
                        });
                    }
                }
                Err(e)
            }
        }
    }

    /// Commits the staged batches. On error none of them is committed (the transaction is
    /// rolled back, whatever state SQLite left it in), and the error says how many.
    pub(crate) fn commit(&mut self) -> Result<(), StoreError> {
        if let Some(earlier) = self.lost.take() {
            // A group of the recorder's was rolled back since its last commit: everything it
            // staged since then is written again, so what was staged after goes too.
            let later = self.roll_back().unwrap_or(0);
            return Err(rolled_back(RolledBack {
                events: earlier.events + later,
                ..earlier
            }));
        }
        self.commit_group().map_err(rolled_back)
    }

    fn commit_group(&mut self) -> Result<(), RolledBack> {
        let Some(events) = self.staged else {
            return Ok(());
        };
        if let Err(e) = self.conn.execute_batch("COMMIT") {
            // SQLite may have rolled back already (disk full, I/O error) or left the
            // transaction open (busy): either way nothing of it is committed now.
            self.roll_back();
            return Err(RolledBack {
                events,
                transient: crate::error::is_transient(&e),
                why: e.to_string(),
            });
        }
        self.staged = None;
        Ok(())
    }

    /// Ends the open transaction without committing it; how many events it had staged.
    fn roll_back(&mut self) -> Option<u64> {
        let staged = self.staged.take();
        if !self.conn.is_autocommit() {
            // If even this fails, the connection is unusable and every later write says so.
            let _ = self.conn.execute_batch("ROLLBACK");
        }
        staged
    }

    /// Rolls back a transaction that holds nothing staged but the failed batch of a
    /// [`HistoryStore::write_batch`](history::HistoryStore::write_batch), which is atomic.
    pub(crate) fn roll_back_unstaged(&mut self) {
        if self.staged == Some(0) {
            self.staged = None;
            if !self.conn.is_autocommit() {
                let _ = self.conn.execute_batch("ROLLBACK");
            }
        }
    }

    /// Whether a transaction is open.
    pub(crate) fn is_open(&self) -> bool {
        self.staged.is_some()
    }
}

/// A group of staged batches that did not commit.
struct RolledBack {
    events: u64,
    /// Whether the cause may pass (disk full, busy, I/O error).
    transient: bool,
    why: String,
}

fn rolled_back(r: RolledBack) -> StoreError {
    let message = format!(
        "a group commit of {} staged events failed and was rolled back: {}",
        r.events, r.why
    );
    if r.transient {
        StoreError::Unavailable(message.into())
    } else {
        StoreError::Backend(message.into())
    }
}

/// The rows of `batch` and their rollup changes, on `conn` (inside a transaction). On error,
/// the rollups still get the changes of the rows written before it.
fn write_rows(conn: &Connection, batch: &[Event], owner: &[u8; 16]) -> Result<(), SqliteError> {
    let mut deltas = Deltas::default();
    let rows = write_rows_gathering(conn, batch, owner, &mut deltas);
    let rollups = deltas.apply(conn);
    rows.and(rollups)
}

fn write_rows_gathering(
    conn: &Connection,
    batch: &[Event],
    owner: &[u8; 16],
    deltas: &mut Deltas,
) -> Result<(), SqliteError> {
    {
        let mut insert = conn.prepare_cached(codec::INSERT_NEW)?;
        let mut upsert = conn.prepare_cached(codec::UPSERT)?;
        let mut old = conn.prepare_cached(
            "SELECT started_at, event_type, status, duration_us FROM events WHERE id = ?1",
        )?;
        // Writers take turns on the database (this runs inside a write transaction), so the
        // numbers follow commit order, also across processes.
        let mut last = change_seq::last_seq(conn)?;
        for e in batch {
            let seq = last + 1;
            if codec::write(&mut insert, e, owner, seq)? == 0 {
                // A rewrite (usually the final record of an in-progress event): the old
                // record leaves the rollups once the new one is written.
                let (started, ty, st, duration) = old.query_row([&e.id.as_bytes()[..]], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, Option<i64>>(3)?,
                    ))
                })?;
                if codec::write(&mut upsert, e, owner, seq)? == 0 {
                    // The stored record is further along (a resent or replayed older one).
                    continue;
                }
                deltas.remove(started, &ty, &st, duration);
            }
            last = seq;
            deltas.add(
                codec::micros(e.started_at),
                e.event_type.as_str(),
                e.status.as_str(),
                e.duration.map(codec::duration_micros),
            );
        }
    }
    Ok(())
}
