//! Crash recovery: events left unfinished by a dead owner (see `owner.rs`) are marked
//! interrupted.

use rusqlite::TransactionBehavior;

use crate::codec::micros;
use crate::owner::{host, process_gone};
use crate::rollup::{Change, Deltas, CHANGE_COLUMNS};
use crate::{SqliteError, SqliteStore};

/// Unfinished events whose owner is not registered (any more). Worded as the partial index
/// `events_unfinished` is, so SQLite uses it (no row is `pending` since schema 7).
const ORPHANED: &str = "status IN ('pending', 'in_progress') \
                        AND (owner IS NULL OR owner NOT IN (SELECT id FROM owners))";

impl SqliteStore {
    /// Marks events that were left pending or in progress by a process that died (no
    /// heartbeat for the stale time, or gone from this host) as
    /// [`Interrupted`](history::EventStatus::Interrupted), with an error saying so. Events
    /// of live writers, this store included, are left alone. Returns how many were marked.
    ///
    /// Runs in one write transaction, so an owner registering meanwhile is seen.
    pub fn recover_interrupted(&self) -> Result<u64, SqliteError> {
        let conns = self.connections();
        let now = micros(history::now());
        let stale_us = i64::try_from(conns.options.stale_after.as_micros()).unwrap_or(i64::MAX);
        let this_host = host();
        conns.write(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let owners: Vec<(Vec<u8>, i64, String, i64)> = {
                let mut stmt = tx.prepare("SELECT id, pid, host, heartbeat_at FROM owners")?;
                let rows =
                    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
                rows.collect::<Result<_, _>>()?
            };
            for (id, pid, host, heartbeat_at) in owners {
                if id[..] == conns.owner[..] {
                    continue;
                }
                let stale = heartbeat_at < now.saturating_sub(stale_us);
                let gone = host == this_host && process_gone(pid);
                if stale || gone {
                    tx.execute("DELETE FROM owners WHERE id = ?1", [&id])?;
                }
            }
            // Each row's old status leaves the rollups, `interrupted` enters them.
            let mut deltas = Deltas::default();
            let n = deltas.gather(
                &mut tx.prepare(&format!(
                    "SELECT {CHANGE_COLUMNS} FROM events WHERE {ORPHANED}"
                ))?,
                [],
                Change::Restatus("interrupted"),
            )?;
            // Each marked row is a change: it takes the next number of the feed.
            let last = crate::change_seq::last_seq(&tx)?;
            let changed = tx.execute(
                &format!(
                    "UPDATE events SET status = 'interrupted', owner = NULL, \
                     error = coalesce(error, json_object('message', \
                       'the process recording this event ended before the event finished', \
                       'kind', 'interrupted')), \
                     change_seq = ?1 + orphan.n \
                     FROM (SELECT rowid AS r, row_number() OVER (ORDER BY rowid) AS n \
                           FROM events WHERE {ORPHANED}) AS orphan \
                     WHERE events.rowid = orphan.r"
                ),
                [last],
            )?;
            debug_assert_eq!(changed as u64, n);
            deltas.apply(&tx)?;
            tx.commit()?;
            Ok(n)
        })
    }
}
