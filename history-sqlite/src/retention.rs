//! Purging in SQL: candidates are chosen with one read (window function for keep-last-N),
//! then deleted in small transactions so that writers (this process's recorder and other
//! processes) get the lock between chunks; freed pages go back to the file system by
//! incremental vacuum, also in steps.
//!
//! After every step the purge waits, outside the write lock, until the WAL frames it wrote
//! are checkpointed into the database ([`Pacer`]). Without that, a purge writes WAL far
//! faster than the background checkpointer copies it back: the backlog grew to the size of
//! the database (400 MB for a third of 1M events), every checkpoint then ran for up to 200 ms
//! of I/O, and the commits of a concurrent writer (and the purge's own, under the lock the
//! writer waits for) queued behind it for up to 280 ms. Paced, the purge takes longer but
//! never gets more than one step ahead of the disk.

use std::time::Duration;

use history::retention::{PurgeReport, Retention, Subject};
use rusqlite::{params_from_iter, Connection, TransactionBehavior};

use crate::query::filter;
use crate::rollup::Deltas;
use crate::{SqliteError, SqliteStore};

/// Events deleted per transaction.
pub const PURGE_CHUNK: usize = 500;
/// Pages freed per incremental-vacuum step.
const VACUUM_STEP: u32 = 256;
/// How often, and how long apart, the pacer retries a checkpoint another connection is
/// running (the store's background checkpointer, another process).
const PACE_RETRIES: u32 = 20;
const PACE_RETRY_AFTER: Duration = Duration::from_millis(5);

/// Keeps a long job in step with the disk: after each of the job's transactions, checkpoints
/// the WAL on a connection of its own, so the write lock is free meanwhile and the next step
/// starts only once the last one's frames are in the database file.
pub(crate) struct Pacer {
    conn: Connection,
}

impl Pacer {
    pub(crate) fn open(store: &SqliteStore) -> Result<Pacer, SqliteError> {
        let inner = store.inner();
        Ok(Pacer {
            conn: crate::schema::open_checkpoint_connection(
                &inner.path,
                inner.options.busy_timeout,
            )?,
        })
    }

    /// Checkpoints (passive: never blocks a writer or reader). While another connection is
    /// checkpointing, waits for it and tries again, a bounded number of times. Best effort:
    /// an error here only loses the pacing, never the job (the job's own writes report real
    /// failures).
    pub(crate) fn catch_up(&self) {
        for _ in 0..PACE_RETRIES {
            let busy = self
                .conn
                .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(0));
            match busy {
                Ok(0) | Err(_) => return,
                Ok(_) => std::thread::sleep(PACE_RETRY_AFTER),
            }
        }
    }
}

/// The rowids a policy selects, and the earliest and latest start among them (micros).
struct Candidates {
    rowids: Vec<i64>,
    oldest: Option<i64>,
    newest: Option<i64>,
}

fn candidates(store: &SqliteStore, policy: &Retention) -> Result<Candidates, SqliteError> {
    let f = filter(&policy.filter);
    let sql = match policy.keep_last {
        None => format!("SELECT rowid, started_at FROM events WHERE {}", f.clause()),
        Some(k) => {
            let col = match k.per {
                Subject::Vm => "vm_id",
                Subject::User => "user_id",
            };
            format!(
                "SELECT rowid, started_at FROM events WHERE {col} IS NOT NULL AND {} \
                 AND rowid NOT IN (SELECT r FROM (SELECT rowid AS r, row_number() OVER \
                 (PARTITION BY {col} ORDER BY started_at DESC, id DESC) AS n \
                 FROM events WHERE {col} IS NOT NULL) WHERE n <= {})",
                f.clause(),
                k.count.min(i64::MAX as u64)
            )
        }
    };
    store.inner().read(|conn| {
        let mut stmt = conn.prepare(&sql)?;
        let mut rows = stmt.query(params_from_iter(f.values.iter()))?;
        let (mut ids, mut oldest, mut newest) = (Vec::new(), None::<i64>, None::<i64>);
        while let Some(row) = rows.next()? {
            ids.push(row.get::<_, i64>(0)?);
            let t: i64 = row.get(1)?;
            oldest = Some(oldest.map_or(t, |o| o.min(t)));
            newest = Some(newest.map_or(t, |o| o.max(t)));
        }
        Ok(Candidates {
            rowids: ids,
            oldest,
            newest,
        })
    })
}

pub(crate) fn purge(store: &SqliteStore, policy: &Retention) -> Result<PurgeReport, SqliteError> {
    let Candidates {
        rowids: mut ids,
        oldest,
        newest,
    } = candidates(store, policy)?;
    let time = |t: Option<i64>| t.and_then(chrono::DateTime::from_timestamp_micros);
    let mut report = history::retention::PurgeReport::default();
    report.dry_run = policy.dry_run;
    report.oldest = time(oldest);
    report.newest = time(newest);
    if policy.dry_run {
        report.deleted = ids.len() as u64;
        return Ok(report);
    }
    ids.sort_unstable();
    // The filter is checked again at delete time: an event rewritten since (e.g. finished)
    // and no longer matching stays.
    let f = filter(&policy.filter);
    let p = f.values.len() + 1;
    let sql = format!(
        "DELETE FROM events WHERE rowid IN (SELECT value FROM json_each(?{p})) AND {} \
         RETURNING started_at, event_type, status, duration_us",
        f.clause()
    );
    let pacer = Pacer::open(store)?;
    let mut deleted = 0u64;
    for chunk in ids.chunks(PURGE_CHUNK) {
        let list = serde_json::to_string(chunk).map_err(|e| SqliteError::Corrupt(e.to_string()))?;
        let mut values = f.values.clone();
        values.push(rusqlite::types::Value::Text(list));
        deleted += store.inner().write_step(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let mut deltas = Deltas::default();
            let mut n = 0u64;
            {
                let mut stmt = tx.prepare_cached(&sql)?;
                let mut rows = stmt.query(params_from_iter(values.iter()))?;
                while let Some(r) = rows.next()? {
                    let ty: String = r.get(1)?;
                    let st: String = r.get(2)?;
                    deltas.remove(r.get(0)?, &ty, &st, r.get(3)?);
                    n += 1;
                }
            }
            deltas.apply(&tx)?;
            tx.commit()?;
            Ok(n)
        })?;
        pacer.catch_up();
    }
    report.deleted = deleted;
    reclaim_space(store, &pacer)?;
    Ok(report)
}

/// Returns free pages to the file system, [`VACUUM_STEP`] pages per transaction (only for
/// files created with incremental auto-vacuum, which this library does).
fn reclaim_space(store: &SqliteStore, pacer: &Pacer) -> Result<(), SqliteError> {
    let auto: i64 = store
        .inner()
        .read(|conn| Ok(conn.pragma_query_value(None, "auto_vacuum", |r| r.get(0))?))?;
    if auto != 2 {
        return Ok(());
    }
    while vacuum_step(store)? > 0 {
        pacer.catch_up();
    }
    Ok(())
}

/// One incremental-vacuum transaction; the pages still free after it.
fn vacuum_step(store: &SqliteStore) -> Result<i64, SqliteError> {
    store.inner().write_step(|conn| {
        // The pragma frees one page per step of the statement: it must be run to the end
        // (`execute_batch` steps it once, which freed one page per transaction).
        let mut stmt = conn.prepare_cached(&format!("PRAGMA incremental_vacuum({VACUUM_STEP})"))?;
        let mut rows = stmt.query([])?;
        while rows.next()?.is_some() {}
        drop(rows);
        drop(stmt);
        Ok(conn.pragma_query_value(None, "freelist_count", |r| r.get(0))?)
    })
}

#[cfg(test)]
mod tests {
    use history::{Event, EventType, HistoryStore, Json, Query};

    use super::*;

    fn free_pages(store: &SqliteStore) -> i64 {
        store
            .inner()
            .read(|conn| Ok(conn.pragma_query_value(None, "freelist_count", |r| r.get(0))?))
            .unwrap()
    }

    fn filled(dir: &tempfile::TempDir, events: usize) -> SqliteStore {
        let store = SqliteStore::open(dir.path().join("history.db")).unwrap();
        let batch: Vec<Event> = (0..events)
            .map(|i| {
                let mut e = Event::new(EventType::VmCreate, "vm::create");
                e.user_id = Some((i as i64).into());
                e.parameters = Json::from(serde_json::json!({ "blob": "x".repeat(1500) }));
                e
            })
            .collect();
        store.write_batch(&batch).unwrap();
        store
    }

    #[test]
    fn one_vacuum_step_frees_a_whole_step_of_pages() {
        let dir = tempfile::tempdir().unwrap();
        let store = filled(&dir, 2_000);
        store
            .inner()
            .write(|conn| Ok(conn.execute("DELETE FROM events", [])?))
            .unwrap();
        let before = free_pages(&store);
        assert!(before > 2 * i64::from(VACUUM_STEP), "{before} free pages");
        let after = vacuum_step(&store).unwrap();
        assert_eq!(before - after, i64::from(VACUUM_STEP));
        assert_eq!(after, free_pages(&store));
    }

    #[test]
    fn a_purge_returns_the_freed_pages_to_the_file_system() {
        let dir = tempfile::tempdir().unwrap();
        let store = filled(&dir, 3_000);
        let pages = |store: &SqliteStore| -> i64 {
            store
                .inner()
                .read(|conn| Ok(conn.pragma_query_value(None, "page_count", |r| r.get(0))?))
                .unwrap()
        };
        let full = pages(&store);
        let report = store
            .purge(&Retention::before(
                history::now() + chrono::Duration::seconds(1),
            ))
            .unwrap();
        assert_eq!(report.deleted, 3_000);
        assert_eq!(store.count(&Query::new()).unwrap(), 0);
        assert_eq!(free_pages(&store), 0);
        assert!(
            pages(&store) * 10 < full,
            "{} of {full} pages left",
            pages(&store)
        );
    }
}
