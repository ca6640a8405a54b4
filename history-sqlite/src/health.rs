//! [`Health`]: a read-only check of a history file — SQLite's integrity check, the schema
//! version, whether the hourly rollups agree with the events, and events left unfinished by
//! writers that are gone. The repairs are [`SqliteStore::rebuild_rollups`] and
//! [`SqliteStore::recover_interrupted`].

use std::collections::HashSet;

use crate::codec::micros;
use crate::owner::{host, process_gone};
use crate::rollup::HOUR_US;
use crate::{SqliteError, SqliteStore};

/// The most problems of SQLite's integrity check that are reported.
const MAX_INTEGRITY_PROBLEMS: u32 = 20;

/// What [`SqliteStore::check`] found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Health {
    /// The problems SQLite's `PRAGMA integrity_check` reports (at most 20); empty when the
    /// file is sound.
    pub integrity_problems: Vec<String>,
    /// The schema version of the file (`PRAGMA user_version`).
    pub schema_version: i64,
    /// How many events the file holds.
    pub events: u64,
    /// How many (hour, event type, status) cells of the rollups disagree with the events
    /// (0: statistics over long ranges are exact). Repaired by
    /// [`SqliteStore::rebuild_rollups`].
    pub rollup_mismatches: u64,
    /// Events still `in_progress` whose writer is gone (not registered, its heartbeat stale,
    /// or its process gone from this host). Marked interrupted by
    /// [`SqliteStore::recover_interrupted`].
    pub orphaned: u64,
}

impl Health {
    /// Whether nothing is wrong.
    pub fn is_ok(&self) -> bool {
        self.integrity_problems.is_empty() && self.rollup_mismatches == 0 && self.orphaned == 0
    }
}

/// Cells whose event count differs between the events and the rollups (rollup cells emptied
/// by deletions may stay with a count of 0).
const ROLLUP_MISMATCHES: &str = "SELECT count(*) FROM ( \
       SELECT started_at - (((started_at % ?1) + ?1) % ?1) AS hour, event_type, status, \
              count(*) AS n \
       FROM events GROUP BY 1, 2, 3 \
     ) AS e FULL OUTER JOIN ( \
       SELECT hour, event_type, status, events AS n FROM stats_hourly WHERE events <> 0 \
     ) AS r USING (hour, event_type, status) \
     WHERE e.n IS NOT r.n";

impl SqliteStore {
    /// Checks the file without writing to it (works on a store opened
    /// [read-only](crate::SqliteOptions::read_only)): SQLite's integrity check, the schema
    /// version, the rollups against the events, and orphaned in-progress events.
    ///
    /// ```
    /// use history::{Event, EventType, HistoryStore};
    /// use history_sqlite::SqliteStore;
    ///
    /// let dir = tempfile::tempdir()?;
    /// let store = SqliteStore::open(dir.path().join("history.db"))?;
    /// store.write_batch(&[Event::new(EventType::VmCreate, "vm::create")])?;
    /// let health = store.check()?;
    /// assert!(health.is_ok());
    /// assert_eq!(health.events, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn check(&self) -> Result<Health, SqliteError> {
        let conns = self.connections();
        let now = micros(history::now());
        let stale_us = i64::try_from(conns.options.stale_after.as_micros()).unwrap_or(i64::MAX);
        let this_host = host();
        conns.read(|conn| {
            let mut health = Health {
                schema_version: conn.pragma_query_value(None, "user_version", |r| r.get(0))?,
                ..Health::default()
            };
            let mut stmt =
                conn.prepare(&format!("PRAGMA integrity_check({MAX_INTEGRITY_PROBLEMS})"))?;
            let lines = stmt.query_map([], |r| r.get::<_, String>(0))?;
            for line in lines {
                let line = line?;
                if line != "ok" {
                    health.integrity_problems.push(line);
                }
            }
            let events: i64 = conn.query_row("SELECT count(*) FROM events", [], |r| r.get(0))?;
            health.events = events.max(0) as u64;
            let mismatches: i64 = conn.query_row(ROLLUP_MISMATCHES, [HOUR_US], |r| r.get(0))?;
            health.rollup_mismatches = mismatches.max(0) as u64;

            let mut live: HashSet<Vec<u8>> = HashSet::new();
            let mut owners = conn.prepare("SELECT id, pid, host, heartbeat_at FROM owners")?;
            let rows = owners.query_map([], |r| {
                Ok((
                    r.get::<_, Vec<u8>>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                ))
            })?;
            for row in rows {
                let (id, pid, host, heartbeat_at) = row?;
                let stale = heartbeat_at < now.saturating_sub(stale_us);
                let gone = host == this_host && process_gone(pid);
                if !stale && !gone {
                    live.insert(id);
                }
            }
            let mut unfinished = conn
                .prepare("SELECT owner FROM events WHERE status IN ('pending', 'in_progress')")?;
            let owners = unfinished.query_map([], |r| r.get::<_, Option<Vec<u8>>>(0))?;
            for owner in owners {
                if !owner?.is_some_and(|o| live.contains(&o)) {
                    health.orphaned += 1;
                }
            }
            Ok(health)
        })
    }
}
