//! Purging in SQL: candidates are chosen with one read (window function for keep-last-N),
//! then deleted in small transactions so that writers (this process's recorder and other
//! processes) get the lock between chunks; freed pages go back to the file system by
//! incremental vacuum, also in steps. After every step the purge waits, outside the write
//! lock, until the WAL frames it wrote are checkpointed into the database
//! ([`Checkpointer::catch_up`]).

use history::retention::{Per, PurgeReport, Retention};
use rusqlite::{params_from_iter, TransactionBehavior};

use crate::checkpoint::Checkpointer;
use crate::query::filter;
use crate::rollup::{Change, Deltas, CHANGE_COLUMNS};
use crate::{SqliteError, SqliteStore};

/// Events deleted per transaction.
pub const PURGE_CHUNK: usize = 500;
/// Pages freed per incremental-vacuum step.
const VACUUM_STEP: u32 = 256;

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
                Per::Vm => "vm_id",
                Per::User => "user_id",
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
    store.connections().read(|conn| {
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

impl SqliteStore {
    /// Deletes (or, on a dry run, counts) what `policy` selects, in chunks, pacing itself by
    /// the disk; then returns the freed pages to the file system.
    pub(crate) fn purge_events(&self, policy: &Retention) -> Result<PurgeReport, SqliteError> {
        purge(self, policy)
    }
}

fn purge(store: &SqliteStore, policy: &Retention) -> Result<PurgeReport, SqliteError> {
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
         RETURNING {CHANGE_COLUMNS}",
        f.clause()
    );
    let conns = store.connections();
    let pacer = Checkpointer::open(&conns.path, conns.options.busy_timeout)?;
    let mut deleted = 0u64;
    for chunk in ids.chunks(PURGE_CHUNK) {
        let list = serde_json::to_string(chunk).map_err(|e| SqliteError::Corrupt(e.to_string()))?;
        let mut values = f.values.clone();
        values.push(rusqlite::types::Value::Text(list));
        deleted += store.connections().write_step(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            crate::change_seq::remember_before_delete(&tx)?;
            let mut deltas = Deltas::default();
            let n = deltas.gather(
                &mut *tx.prepare_cached(&sql)?,
                params_from_iter(values.iter()),
                Change::Leave,
            )?;
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
fn reclaim_space(store: &SqliteStore, pacer: &Checkpointer) -> Result<(), SqliteError> {
    let auto: i64 = store
        .connections()
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
    store.connections().write_step(|conn| {
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
    use std::time::Duration;

    use history::{Event, EventType, HistoryStore, Json, Query};

    use super::*;

    fn free_pages(store: &SqliteStore) -> i64 {
        store
            .connections()
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
            .connections()
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
                .connections()
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

    #[test]
    fn an_age_beyond_the_calendar_purges_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = filled(&dir, 3);
        for age in [
            Duration::MAX,
            Duration::from_secs(10_000_000 * 365 * 86_400),
        ] {
            let report = store.purge(&Retention::older_than(age)).unwrap();
            assert_eq!(report.deleted, 0);
        }
        assert_eq!(store.count(&Query::new()).unwrap(), 3);
    }
}
