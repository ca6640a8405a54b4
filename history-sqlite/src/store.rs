//! [`SqliteStore`]: opening and closing, and the [`HistoryStore`] implementation. Statistics
//! (`stats.rs`), retention (`retention.rs`), recovery (`recovery.rs`) and rollups add their
//! methods to [`SqliteStore`] in their own files.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use history::retention::{PurgeReport, Retention};
use history::stats::{Stats, StatsQuery};
use history::{
    ChangePage, ChangeToken, Cursor, Event, EventId, Filter, HistoryStore, Page, Query, StoreError,
};
use rusqlite::params_from_iter;

use crate::background::Background;
use crate::codec::COLUMNS;
use crate::connections::Connections;
use crate::options::SqliteOptions;
use crate::query::{add_cursor, filter, order_by};
use crate::read;
use crate::{owner, schema, SqliteError};

/// Events in an embedded SQLite file.
///
/// One connection writes (behind a lock; the recorder's writer thread is its usual user);
/// queries use their own connections, so in WAL mode they never wait for the writer. Several
/// processes may open the same file: writers take turns (each waits up to the busy timeout
/// for the lock, then reports [`StoreError::Unavailable`], which the recorder retries).
///
/// ```
/// use history::{Event, EventType, HistoryStore, Query};
/// use history_sqlite::SqliteStore;
///
/// let dir = tempfile::tempdir()?;
/// let store = SqliteStore::open(dir.path().join("history.db"))?;
/// let event = Event::builder(EventType::VmCreate, "vm::create").user_id(7).build()?;
/// store.write_batch(&[event.clone()])?;
/// assert_eq!(store.get(event.id)?, Some(event));
/// assert_eq!(store.count(&Query::new().user_id(7))?, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct SqliteStore {
    conns: Arc<Connections>,
    /// Heartbeat and checkpoints; none for a store opened read-only.
    background: Option<Background>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.conns.path)
            .finish_non_exhaustive()
    }
}

impl SqliteOptions {
    /// Opens the store at `path`; see [`SqliteStore::open`].
    pub fn open(self, path: impl AsRef<Path>) -> Result<SqliteStore, SqliteError> {
        SqliteStore::open_with(path.as_ref(), self)
    }
}

impl SqliteStore {
    /// Opens the history database at `path`, creating it (mode 0600) with the current schema
    /// when missing and upgrading an older schema in place, with default options.
    ///
    /// Refused, with the file left untouched: a directory, a file that is not SQLite (or is
    /// damaged), another application's SQLite database, and a database written by a newer
    /// version.
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteStore, SqliteError> {
        SqliteStore::open_with(path.as_ref(), SqliteOptions::default())
    }

    /// Opens the history database at `path` for reading only: nothing is created, migrated
    /// or written, so reading a history never changes its file (see
    /// [`SqliteOptions::read_only`]).
    ///
    /// ```
    /// use history::{HistoryStore, Query};
    /// use history_sqlite::{SqliteError, SqliteStore};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("history.db");
    /// assert!(matches!(SqliteStore::open_read_only(&path), Err(SqliteError::Missing { .. })));
    /// drop(SqliteStore::open(&path)?); // a writer creates it
    /// let store = SqliteStore::open_read_only(&path)?;
    /// assert_eq!(store.count(&Query::new())?, 0);
    /// assert!(store.write_batch(&[]).is_ok()); // nothing to write
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open_read_only(path: impl AsRef<Path>) -> Result<SqliteStore, SqliteError> {
        SqliteStore::open_with(path.as_ref(), SqliteOptions::default().read_only(true))
    }

    /// Options for opening a store (recovery, heartbeat, busy timeout, read-only).
    pub fn options() -> SqliteOptions {
        SqliteOptions::default()
    }

    fn open_with(path: &Path, options: SqliteOptions) -> Result<SqliteStore, SqliteError> {
        options.validate()?;
        if options.read_only {
            let reader = schema::open_read_only_connection(path, options.busy_timeout)?;
            let owner = *EventId::new().as_bytes();
            let conns = Arc::new(Connections::new(path.to_owned(), None, owner, options));
            conns.add_reader(reader);
            return Ok(SqliteStore {
                conns,
                background: None,
            });
        }
        // Opening (schema, registration, recovery) waits at least 5 s for other writers, even
        // with a short busy timeout for the writes that follow.
        let patient = options.busy_timeout.max(Duration::from_secs(5));
        let cache_kib = (options.write_cache / 1024) as u32;
        let writer = schema::open_write_connection(path, patient, cache_kib)?;
        let owner = *EventId::new().as_bytes();
        let conns = Arc::new(Connections::new(
            path.to_owned(),
            Some(writer),
            owner,
            options,
        ));
        owner::register(&conns)?;
        let background = Some(Background::start(&conns)?);
        let store = SqliteStore { conns, background };
        if store.conns.options.recover_on_open {
            store.recover_interrupted()?;
        }
        let busy = store.conns.options.busy_timeout;
        store.conns.write(|conn| Ok(conn.busy_timeout(busy)?))?;
        Ok(store)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.conns.path
    }

    /// The connections, for the features that add methods in their own files.
    pub(crate) fn connections(&self) -> &Connections {
        &self.conns
    }

    /// The SQLite query plan of `query` (`EXPLAIN QUERY PLAN`, one line per step): which
    /// index a query uses. For diagnostics and tests.
    pub fn explain(&self, query: &Query) -> Result<Vec<String>, SqliteError> {
        let (sql, values) = select_sql(query);
        self.conns.read(|conn| {
            let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?;
            let rows =
                stmt.query_map(params_from_iter(values.iter()), |r| r.get::<_, String>(3))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    /// Runs `ANALYZE`, so the query planner knows how the data is spread.
    pub fn analyze(&self) -> Result<(), SqliteError> {
        self.conns.write(|conn| Ok(conn.execute_batch("ANALYZE")?))
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        if let Some(background) = self.background.as_mut() {
            background.stop();
        }
        if !self.conns.is_read_only() {
            owner::unregister(&self.conns);
        }
    }
}

fn select_sql(query: &Query) -> (String, Vec<rusqlite::types::Value>) {
    let mut f = filter(query);
    add_cursor(&mut f, query);
    // One more than asked: tells whether another page follows. Written into the statement,
    // not bound: SQLite plans with a bound LIMIT's value and so plans the statement again on
    // every run after binding it (a new plan costs more than reading a page of rows), while a
    // literal keeps the cached plan (one cached statement per page size).
    let sql = format!(
        "SELECT {COLUMNS} FROM events WHERE {} ORDER BY {} LIMIT {}",
        f.clause(),
        order_by(query.order),
        query.limit.saturating_add(1)
    );
    (sql, f.values)
}

impl HistoryStore for SqliteStore {
    fn write_batch(&self, batch: &[Event]) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut writer = self.conns.writer()?;
        if let Err(e) = writer.stage(batch, &self.conns.owner) {
            // Atomic: none of this batch stays. (What the recorder staged before, if anything,
            // stays staged for its next commit.)
            writer.roll_back_unstaged();
            return Err(e.into());
        }
        let committed = writer.commit();
        drop(writer);
        self.conns.wrote();
        committed
    }

    /// Stages `batch` in the write transaction the store keeps open until
    /// [`commit_staged`](HistoryStore::commit_staged) (group commit; see the recorder).
    fn stage_batch(&self, batch: &[Event]) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        Ok(self.conns.writer()?.stage(batch, &self.conns.owner)?)
    }

    fn commit_staged(&self) -> Result<(), StoreError> {
        if self.conns.is_read_only() {
            return Ok(()); // nothing can have been staged
        }
        let mut writer = self.conns.writer()?;
        let open = writer.is_open();
        let committed = writer.commit();
        drop(writer);
        if open {
            self.conns.wrote();
        }
        committed
    }

    fn get(&self, id: EventId) -> Result<Option<Event>, StoreError> {
        self.conns
            .read(|conn| {
                let mut stmt =
                    conn.prepare_cached(&format!("SELECT {COLUMNS} FROM events WHERE id = ?1"))?;
                let mut rows = stmt.query([&id.as_bytes()[..]])?;
                match rows.next()? {
                    Some(row) => Ok(Some(read::read_event(row)?)),
                    None => Ok(None),
                }
            })
            .map_err(StoreError::from)
    }

    fn query(&self, query: &Query) -> Result<Page<Event>, StoreError> {
        query.validate()?;
        let (sql, values) = select_sql(query);
        let total = if query.with_total {
            Some(self.count(query)?)
        } else {
            None
        };
        let (items, more) = self
            .conns
            .read(|conn| {
                let mut stmt = conn.prepare_cached(&sql)?;
                let mut rows = stmt.query(params_from_iter(values.iter()))?;
                let mut items = Vec::with_capacity(query.limit.min(1024));
                while let Some(row) = rows.next()? {
                    if items.len() == query.limit {
                        // The row past the page only tells that another page follows.
                        return Ok((items, true));
                    }
                    items.push(read::read_event(row)?);
                }
                Ok((items, false))
            })
            .map_err(StoreError::from)?;
        let next_cursor = if more {
            items.last().map(Cursor::after)
        } else {
            None
        };
        Ok(Page {
            items,
            next_cursor,
            total,
        })
    }

    fn count(&self, query: &Filter) -> Result<u64, StoreError> {
        let f = filter(query);
        let sql = format!("SELECT count(*) FROM events WHERE {}", f.clause());
        self.conns
            .read(|conn| {
                let n: i64 = conn
                    .prepare_cached(&sql)?
                    .query_row(params_from_iter(f.values.iter()), |r| r.get(0))?;
                Ok(n as u64)
            })
            .map_err(StoreError::from)
    }

    /// `<database>-spill` beside the database file.
    fn spill_path(&self) -> Option<PathBuf> {
        let mut name = self.conns.path.as_os_str().to_owned();
        name.push("-spill");
        Some(PathBuf::from(name))
    }

    fn stats(&self, query: &StatsQuery) -> Result<Stats, StoreError> {
        self.compute_stats(query).map_err(StoreError::from)
    }

    fn purge(&self, policy: &Retention) -> Result<PurgeReport, StoreError> {
        policy.validate()?;
        self.purge_events(policy).map_err(StoreError::from)
    }

    fn changes_after(&self, after: ChangeToken, limit: usize) -> Result<ChangePage, StoreError> {
        self.read_changes(after, limit)
    }

    fn latest_change(&self) -> Result<ChangeToken, StoreError> {
        Ok(self.read_latest_change()?)
    }
}
