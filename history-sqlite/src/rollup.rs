//! Hourly rollups for fast statistics: per (hour, event type, status), the count, the
//! durations' count, sum, min and max, and a histogram of durations. Maintained in the same
//! transaction as every write, purge and recovery, so counts, sums, min and max stay exact;
//! percentiles read from the histogram are within about 4.5% (buckets are 2^(1/8) wide: the
//! layout of `history::stats::histogram`, which every store shares).

use std::collections::{BTreeMap, HashMap};

use rusqlite::{params, Connection, OptionalExtension, Params, Statement};

use crate::SqliteError;

// The one histogram layout every store keeps (`history::stats::histogram`).
use history::stats::histogram::bucket;

/// One hour in microseconds.
pub(crate) const HOUR_US: i64 = 3_600_000_000;

/// The start of the hour holding `t_us` (flooring, also before 1970).
pub(crate) fn hour_of(t_us: i64) -> i64 {
    t_us - t_us.rem_euclid(HOUR_US)
}

/// Aggregates of one (hour, type, status) cell, or a change to them.
#[derive(Clone, Debug, Default)]
pub(crate) struct Cell {
    pub events: i64,
    pub timed: i64,
    pub sum_us: i64,
    pub min_us: Option<i64>,
    pub max_us: Option<i64>,
    pub hist: BTreeMap<u16, i64>,
    /// The smallest and largest duration taken away (a change only).
    pub removed: Option<(i64, i64)>,
}

impl Cell {
    pub(crate) fn add(&mut self, duration_us: Option<i64>) {
        self.events += 1;
        if let Some(d) = duration_us {
            self.timed += 1;
            self.sum_us += d;
            self.min_us = Some(self.min_us.map_or(d, |m| m.min(d)));
            self.max_us = Some(self.max_us.map_or(d, |m| m.max(d)));
            *self.hist.entry(bucket(d)).or_insert(0) += 1;
        }
    }

    fn remove(&mut self, duration_us: Option<i64>) {
        self.events -= 1;
        if let Some(d) = duration_us {
            self.timed -= 1;
            self.sum_us -= d;
            *self.hist.entry(bucket(d)).or_insert(0) -= 1;
            self.removed = Some(self.removed.map_or((d, d), |(a, b)| (a.min(d), b.max(d))));
        }
    }

    /// Adds another cell's figures (for reading: cells of several hours into one group).
    pub(crate) fn merge(&mut self, other: &Cell) {
        self.events += other.events;
        self.timed += other.timed;
        self.sum_us += other.sum_us;
        for (m, o, pick) in [
            (
                &mut self.min_us,
                other.min_us,
                i64::min as fn(i64, i64) -> i64,
            ),
            (&mut self.max_us, other.max_us, i64::max),
        ] {
            if let Some(o) = o {
                *m = Some(m.map_or(o, |x| pick(x, o)));
            }
        }
        for (b, n) in &other.hist {
            *self.hist.entry(*b).or_insert(0) += n;
        }
    }
}

fn encode(hist: &BTreeMap<u16, i64>) -> Vec<u8> {
    let mut out = Vec::with_capacity(hist.len() * 10);
    for (b, n) in hist {
        if *n > 0 {
            out.extend_from_slice(&b.to_le_bytes());
            out.extend_from_slice(&(*n as u64).to_le_bytes());
        }
    }
    out
}

pub(crate) fn decode(bytes: &[u8]) -> Result<BTreeMap<u16, i64>, SqliteError> {
    if !bytes.len().is_multiple_of(10) {
        return Err(SqliteError::Corrupt("stats_hourly.hist: bad length".into()));
    }
    let mut out = BTreeMap::new();
    for chunk in bytes.chunks_exact(10) {
        let b = u16::from_le_bytes([chunk[0], chunk[1]]);
        let mut n = [0u8; 8];
        n.copy_from_slice(&chunk[2..]);
        out.insert(b, u64::from_le_bytes(n) as i64);
    }
    Ok(out)
}

/// What a row read by [`Deltas::gather`] does to the rollups.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Change {
    /// The row enters them (written, or counted again from scratch).
    Enter,
    /// The row leaves them (deleted).
    Leave,
    /// The row leaves them under its status and enters them under this one.
    Restatus(&'static str),
}

/// The columns [`Deltas::gather`] reads, in its order.
pub(crate) const CHANGE_COLUMNS: &str = "started_at, event_type, status, duration_us";

/// A rollup cell's key: the hour, the event type and the status.
type Key = (i64, String, String);

/// Up to how many cells [`Deltas`] finds by a linear search, with no map (and no key to
/// build): a batch of writes touches a handful (its hours × types × statuses).
const LINEAR: usize = 16;

/// Changes to the rollups, gathered while writing and applied once per transaction.
#[derive(Debug, Default)]
pub(crate) struct Deltas {
    /// The cells changed, in the order they were first changed.
    cells: Vec<(Key, Cell)>,
    /// Where each cell is in `cells`; kept only once there are more than [`LINEAR`] of them
    /// (purges, recovery and migrations gather many).
    index: HashMap<Key, usize>,
}

impl Deltas {
    pub(crate) fn add(
        &mut self,
        started_us: i64,
        event_type: &str,
        status: &str,
        duration_us: Option<i64>,
    ) {
        self.cell(started_us, event_type, status).add(duration_us);
    }

    pub(crate) fn remove(
        &mut self,
        started_us: i64,
        event_type: &str,
        status: &str,
        duration_us: Option<i64>,
    ) {
        self.cell(started_us, event_type, status)
            .remove(duration_us);
    }

    /// Runs `stmt`, which selects [`CHANGE_COLUMNS`], and applies `change` to each row it
    /// returns. Returns how many rows.
    pub(crate) fn gather(
        &mut self,
        stmt: &mut Statement<'_>,
        params: impl Params,
        change: Change,
    ) -> rusqlite::Result<u64> {
        let mut rows = stmt.query(params)?;
        let mut n = 0u64;
        while let Some(r) = rows.next()? {
            let (t, ty, st, d): (i64, String, String, Option<i64>) =
                (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?);
            match change {
                Change::Enter => self.add(t, &ty, &st, d),
                Change::Leave => self.remove(t, &ty, &st, d),
                Change::Restatus(to) => {
                    self.remove(t, &ty, &st, d);
                    self.add(t, &ty, to, d);
                }
            }
            n += 1;
        }
        Ok(n)
    }

    /// The cell of (the hour of `started_us`, `event_type`, `status`), created empty if it
    /// has not changed yet. A write looks it up once per row: among few cells with no
    /// allocation, among many through the index.
    fn cell(&mut self, started_us: i64, event_type: &str, status: &str) -> &mut Cell {
        let hour = hour_of(started_us);
        let found = if self.index.is_empty() {
            self.cells
                .iter()
                .position(|((h, t, s), _)| *h == hour && t == event_type && s == status)
        } else {
            let key = (hour, event_type.to_owned(), status.to_owned());
            self.index.get(&key).copied()
        };
        let at = match found {
            Some(at) => at,
            None => {
                let at = self.cells.len();
                let key = (hour, event_type.to_owned(), status.to_owned());
                if !self.index.is_empty() {
                    self.index.insert(key.clone(), at);
                }
                self.cells.push((key, Cell::default()));
                if self.cells.len() == LINEAR + 1 {
                    self.index = (self.cells.iter().enumerate())
                        .map(|(i, (key, _))| (key.clone(), i))
                        .collect();
                }
                at
            }
        };
        &mut self.cells[at].1
    }

    /// Applies the changes, inside the caller's transaction (after the events changed).
    pub(crate) fn apply(self, conn: &Connection) -> Result<(), SqliteError> {
        let mut read = conn.prepare_cached(
            "SELECT events, timed, sum_us, min_us, max_us, hist FROM stats_hourly \
             WHERE hour = ?1 AND event_type = ?2 AND status = ?3",
        )?;
        let mut write = conn.prepare_cached(
            "INSERT OR REPLACE INTO stats_hourly \
             (hour, event_type, status, events, timed, sum_us, min_us, max_us, hist) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?;
        let mut delete = conn.prepare_cached(
            "DELETE FROM stats_hourly WHERE hour = ?1 AND event_type = ?2 AND status = ?3",
        )?;
        let mut extremes = conn.prepare_cached(
            "SELECT min(duration_us), max(duration_us) FROM events \
             WHERE started_at >= ?1 AND started_at < ?2 AND event_type = ?3 AND status = ?4",
        )?;
        for ((hour, ty, st), delta) in self.cells {
            let stored: Option<(Cell, Vec<u8>)> = read
                .query_row(params![hour, ty, st], |r| {
                    Ok((
                        Cell {
                            events: r.get(0)?,
                            timed: r.get(1)?,
                            sum_us: r.get(2)?,
                            min_us: r.get(3)?,
                            max_us: r.get(4)?,
                            ..Cell::default()
                        },
                        r.get(5)?,
                    ))
                })
                .optional()?;
            let mut cell = match stored {
                Some((mut c, hist)) => {
                    c.hist = decode(&hist)?;
                    c
                }
                None => Cell::default(),
            };
            let removed = delta.removed;
            cell.merge(&delta);
            if cell.events <= 0 {
                delete.execute(params![hour, ty, st])?;
                continue;
            }
            let hit_extreme = removed.is_some_and(|(lo, hi)| {
                cell.min_us.is_some_and(|m| lo <= m) || cell.max_us.is_some_and(|m| hi >= m)
            });
            if hit_extreme || cell.timed == 0 {
                let (lo, hi): (Option<i64>, Option<i64>) = extremes
                    .query_row(params![hour, hour + HOUR_US, ty, st], |r| {
                        Ok((r.get(0)?, r.get(1)?))
                    })?;
                cell.min_us = lo;
                cell.max_us = hi;
            }
            write.execute(params![
                hour,
                ty,
                st,
                cell.events,
                cell.timed,
                cell.sum_us,
                cell.min_us,
                cell.max_us,
                encode(&cell.hist)
            ])?;
        }
        Ok(())
    }
}

/// Migration: creates the rollup table and fills it from the stored events.
pub(crate) fn create_and_backfill(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "CREATE TABLE stats_hourly (
            hour       INTEGER NOT NULL,
            event_type TEXT    NOT NULL,
            status     TEXT    NOT NULL,
            events     INTEGER NOT NULL,
            timed      INTEGER NOT NULL,
            sum_us     INTEGER NOT NULL,
            min_us     INTEGER,
            max_us     INTEGER,
            hist       BLOB    NOT NULL,
            PRIMARY KEY (hour, event_type, status)
        ) WITHOUT ROWID;",
    )?;
    let mut deltas = Deltas::default();
    deltas.gather(
        &mut conn.prepare(&format!("SELECT {CHANGE_COLUMNS} FROM events"))?,
        [],
        Change::Enter,
    )?;
    deltas.apply(conn).map_err(into_rusqlite)
}

/// Migration: rows stored as `pending` (a status earlier versions declared but never set;
/// they read as in progress) become `in_progress`, and their rollup cells move with them.
pub(crate) fn retire_pending(conn: &Connection) -> rusqlite::Result<()> {
    let mut deltas = Deltas::default();
    deltas.gather(
        &mut conn.prepare(&format!(
            "SELECT {CHANGE_COLUMNS} FROM events WHERE status = 'pending'"
        ))?,
        [],
        Change::Restatus("in_progress"),
    )?;
    conn.execute(
        "UPDATE events SET status = 'in_progress' WHERE status = 'pending'",
        [],
    )?;
    deltas.apply(conn).map_err(into_rusqlite)
}

/// A migration step's error as SQLite's (migrations run as `rusqlite` code).
fn into_rusqlite(e: SqliteError) -> rusqlite::Error {
    match e {
        SqliteError::Sqlite(e) => e,
        other => rusqlite::Error::ToSqlConversionFailure(Box::new(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The bucket layout itself is tested where it lives, in `history::stats::histogram`.
    #[test]
    fn hours_and_histograms_round_trip() {
        assert_eq!(hour_of(-1), -HOUR_US);
        let h: BTreeMap<u16, i64> = [(3, 5), (200, 1)].into();
        assert_eq!(decode(&encode(&h)).unwrap(), h);
    }

    /// Few cells are found by a linear search, many through the index: both find the same
    /// cell for the same key, and a new key gets a new cell.
    #[test]
    fn deltas_find_their_cells_few_and_many() {
        let mut deltas = Deltas::default();
        let cells = 3 * LINEAR as i64;
        for round in 0..2 {
            for n in 0..cells {
                let ty = if n % 2 == 0 { "vm_create" } else { "vm_delete" };
                deltas.add(n * HOUR_US + round, ty, "success", Some(n));
                deltas.add(n * HOUR_US, ty, "failed", None);
            }
        }
        assert_eq!(deltas.cells.len(), 2 * cells as usize);
        assert_eq!(deltas.index.len(), deltas.cells.len());
        for ((hour, ty, st), cell) in &deltas.cells {
            let n = hour / HOUR_US;
            assert_eq!(ty, if n % 2 == 0 { "vm_create" } else { "vm_delete" });
            assert_eq!(cell.events, 2, "{hour} {ty} {st}");
            let timed = if st == "success" { 2 } else { 0 };
            assert_eq!((cell.timed, cell.sum_us), (timed, timed * n));
        }
        let mut few = Deltas::default();
        few.add(0, "vm_create", "success", Some(1));
        few.remove(1, "vm_create", "success", Some(1));
        few.add(HOUR_US, "vm_create", "success", None);
        assert_eq!(few.cells.len(), 2);
        assert!(few.index.is_empty());
        assert_eq!((few.cells[0].1.events, few.cells[0].1.timed), (0, 0));
    }
}
