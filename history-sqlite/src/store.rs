//! [`SqliteStore`]: the connections, and the [`HistoryStore`] implementation.

use std::path::{Path, PathBuf};

use history::{Cursor, Event, EventId, HistoryStore, Page, Query, StoreError};
use parking_lot::Mutex;
use rusqlite::{params_from_iter, Connection, TransactionBehavior};

use crate::codec::{self, COLUMNS};
use crate::query::{add_cursor, filter, order_by};
use crate::schema;
use crate::SqliteError;

/// How many idle read connections are kept for reuse.
const MAX_IDLE_READERS: usize = 8;

/// Events in an embedded SQLite file.
///
/// One connection writes (behind a lock; the recorder's writer thread is its usual user);
/// queries use their own connections, so in WAL mode they never wait for the writer. Several
/// processes may open the same file: writers take turns (each waits up to 5 s for the lock,
/// then reports [`StoreError::Unavailable`], which the recorder retries).
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
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens the history database at `path`, creating it (mode 0600) with the current schema
    /// when missing and upgrading an older schema in place.
    ///
    /// Refused, with the file left untouched: a directory, a file that is not SQLite, another
    /// application's SQLite database, and a database written by a newer version.
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteStore, SqliteError> {
        let path = path.as_ref().to_owned();
        let writer = schema::open_write_connection(&path)?;
        Ok(SqliteStore {
            path,
            writer: Mutex::new(writer),
            readers: Mutex::new(Vec::new()),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` on an idle read connection (opening one when none is idle).
    pub(crate) fn read<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, SqliteError>,
    ) -> Result<T, SqliteError> {
        let idle = self.readers.lock().pop();
        let conn = match idle {
            Some(c) => c,
            None => schema::open_read_connection(&self.path)?,
        };
        let out = f(&conn);
        let mut idle = self.readers.lock();
        if idle.len() < MAX_IDLE_READERS {
            idle.push(conn);
        }
        out
    }

    /// Runs `f` on the write connection.
    pub(crate) fn write<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, SqliteError>,
    ) -> Result<T, SqliteError> {
        f(&mut self.writer.lock())
    }

    /// The SQLite query plan of `query` (`EXPLAIN QUERY PLAN`, one line per step): which
    /// index a query uses. For diagnostics and tests.
    pub fn explain(&self, query: &Query) -> Result<Vec<String>, SqliteError> {
        let (sql, values) = select_sql(query);
        self.read(|conn| {
            let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?;
            let rows =
                stmt.query_map(params_from_iter(values.iter()), |r| r.get::<_, String>(3))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    /// Runs `ANALYZE`, so the query planner knows how the data is spread.
    pub fn analyze(&self) -> Result<(), SqliteError> {
        self.write(|conn| Ok(conn.execute_batch("ANALYZE")?))
    }
}

fn select_sql(query: &Query) -> (String, Vec<rusqlite::types::Value>) {
    let mut f = filter(query);
    add_cursor(&mut f, query);
    let limit = f.values.len() + 1;
    let sql = format!(
        "SELECT {COLUMNS} FROM events WHERE {} ORDER BY {} LIMIT ?{limit}",
        f.clause(),
        order_by(query.order)
    );
    let mut values = f.values;
    // One more than asked: tells whether another page follows.
    values.push(rusqlite::types::Value::Integer(query.limit as i64 + 1));
    (sql, values)
}

impl HistoryStore for SqliteStore {
    fn write_batch(&self, batch: &[Event]) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        self.write(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            {
                let mut stmt = tx.prepare_cached(codec::UPSERT)?;
                for e in batch {
                    codec::upsert(&mut stmt, e)?;
                }
            }
            tx.commit()?;
            Ok(())
        })
        .map_err(StoreError::from)
    }

    fn get(&self, id: EventId) -> Result<Option<Event>, StoreError> {
        self.read(|conn| {
            let mut stmt =
                conn.prepare_cached(&format!("SELECT {COLUMNS} FROM events WHERE id = ?1"))?;
            let mut rows = stmt.query([&id.as_bytes()[..]])?;
            match rows.next()? {
                Some(row) => Ok(Some(codec::read_event(row)?)),
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
        let mut items = self
            .read(|conn| {
                let mut stmt = conn.prepare_cached(&sql)?;
                let mut rows = stmt.query(params_from_iter(values.iter()))?;
                let mut items = Vec::with_capacity(query.limit.min(1024) + 1);
                while let Some(row) = rows.next()? {
                    items.push(codec::read_event(row)?);
                }
                Ok(items)
            })
            .map_err(StoreError::from)?;
        let next_cursor = if items.len() > query.limit {
            items.truncate(query.limit);
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

    fn count(&self, query: &Query) -> Result<u64, StoreError> {
        let f = filter(query);
        let sql = format!("SELECT count(*) FROM events WHERE {}", f.clause());
        self.read(|conn| {
            let n: i64 = conn
                .prepare_cached(&sql)?
                .query_row(params_from_iter(f.values.iter()), |r| r.get(0))?;
            Ok(n as u64)
        })
        .map_err(StoreError::from)
    }
}
