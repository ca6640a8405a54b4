//! [`SqliteStore`]: the connections, and the [`HistoryStore`] implementation.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use history::retention::{PurgeReport, Retention};
use history::stats::{Stats, StatsQuery};
use history::{Cursor, Event, EventId, Filter, HistoryStore, Page, Query, StoreError};
use parking_lot::Mutex;
use rusqlite::{params_from_iter, Connection};

use crate::codec::{self, COLUMNS};
use crate::group::WriteConn;
use crate::query::{add_cursor, filter, order_by};
use crate::{recovery, schema, SqliteError};

/// How many idle read connections are kept for reuse.
const MAX_IDLE_READERS: usize = 8;

/// How a [`SqliteStore`] is opened; start from [`SqliteStore::options`].
#[derive(Clone, Debug)]
#[must_use = "call .open(path)"]
pub struct SqliteOptions {
    pub(crate) recover_on_open: bool,
    pub(crate) heartbeat: Duration,
    pub(crate) stale_after: Duration,
    pub(crate) busy_timeout: Duration,
    pub(crate) exact_stats_up_to: u64,
    pub(crate) write_cache: u64,
}

/// The write connection's page cache unless [`SqliteOptions::write_cache`] says otherwise.
pub const DEFAULT_WRITE_CACHE: u64 = 16 * 1024 * 1024;
/// The smallest [`SqliteOptions::write_cache`]: 1 MiB.
pub const MIN_WRITE_CACHE: u64 = 1024 * 1024;
/// The largest [`SqliteOptions::write_cache`]: 4 GiB.
pub const MAX_WRITE_CACHE: u64 = 4 * 1024 * 1024 * 1024;

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions {
            recover_on_open: false,
            heartbeat: Duration::from_secs(5),
            stale_after: Duration::from_secs(30),
            busy_timeout: Duration::from_secs(5),
            exact_stats_up_to: 20_000,
            write_cache: DEFAULT_WRITE_CACHE,
        }
    }
}

impl SqliteOptions {
    /// On open, mark events left unfinished by dead processes as interrupted
    /// ([`SqliteStore::recover_interrupted`]). Off by default.
    pub fn recover_on_open(mut self, on: bool) -> Self {
        self.recover_on_open = on;
        self
    }
    /// How often this store tells other processes it is alive (default 5 s).
    pub fn heartbeat(mut self, every: Duration) -> Self {
        self.heartbeat = every.max(Duration::from_millis(10));
        self
    }
    /// A writer whose last heartbeat is older than this is taken for dead (default 30 s;
    /// on Linux a writer on this host whose process is gone is dead at once).
    pub fn stale_after(mut self, after: Duration) -> Self {
        self.stale_after = after;
        self
    }
    /// How long a write waits for another process's write lock before reporting
    /// [`StoreError::Unavailable`] (default 5 s).
    pub fn busy_timeout(mut self, timeout: Duration) -> Self {
        self.busy_timeout = timeout;
        self
    }
    /// Statistics over at most this many events are computed exactly from the events
    /// (default 20,000); larger ones filtered only by type, status and time come from hourly
    /// rollups, with percentiles within about 4.5%.
    pub fn exact_stats_up_to(mut self, events: u64) -> Self {
        self.exact_stats_up_to = events;
        self
    }
    /// The page cache of the connection that writes, in bytes (default
    /// [`DEFAULT_WRITE_CACHE`], 16 MiB; from [`MIN_WRITE_CACHE`] to [`MAX_WRITE_CACHE`], else
    /// `open` fails with [`SqliteError::InvalidOption`]). It holds the index pages writes
    /// touch: a larger cache speeds up ingest into files much larger than it, and costs the
    /// process that much memory. Read connections use SQLite's default and read through a
    /// memory map.
    pub fn write_cache(mut self, bytes: u64) -> Self {
        self.write_cache = bytes;
        self
    }
    /// Opens the store at `path`; see [`SqliteStore::open`].
    pub fn open(self, path: impl AsRef<Path>) -> Result<SqliteStore, SqliteError> {
        SqliteStore::open_with(path.as_ref(), self)
    }
}

pub(crate) struct Inner {
    pub path: PathBuf,
    pub writer: Mutex<WriteConn>,
    readers: Mutex<Vec<Connection>>,
    pub owner: [u8; 16],
    pub options: SqliteOptions,
    /// Committed write transactions (tells the checkpointer there is work).
    pub writes: std::sync::atomic::AtomicU64,
}

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
    inner: Arc<Inner>,
    heartbeat: Option<(mpsc::Sender<()>, JoinHandle<()>)>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.inner.path)
            .finish_non_exhaustive()
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

    /// Options for opening a store (recovery, heartbeat, busy timeout).
    pub fn options() -> SqliteOptions {
        SqliteOptions::default()
    }

    fn open_with(path: &Path, options: SqliteOptions) -> Result<SqliteStore, SqliteError> {
        // Opening (schema, registration, recovery) waits at least 5 s for other writers, even
        // with a short busy timeout for the writes that follow.
        let patient = options.busy_timeout.max(Duration::from_secs(5));
        if !(MIN_WRITE_CACHE..=MAX_WRITE_CACHE).contains(&options.write_cache) {
            return Err(SqliteError::InvalidOption {
                option: "write_cache",
                reason: format!(
                    "must be {MIN_WRITE_CACHE} to {MAX_WRITE_CACHE} bytes (1 MiB to 4 GiB), got {}",
                    options.write_cache
                ),
            });
        }
        let cache_kib = (options.write_cache / 1024) as u32;
        let writer = schema::open_write_connection(path, patient, cache_kib)?;
        let owner = *EventId::new().as_bytes();
        let inner = Arc::new(Inner {
            path: path.to_owned(),
            writer: Mutex::new(WriteConn::new(writer)),
            readers: Mutex::new(Vec::new()),
            owner,
            options,
            writes: std::sync::atomic::AtomicU64::new(0),
        });
        recovery::register(&inner)?;
        let heartbeat = recovery::start_heartbeat(&inner)?;
        let store = SqliteStore {
            inner,
            heartbeat: Some(heartbeat),
        };
        if store.inner.options.recover_on_open {
            store.recover_interrupted()?;
        }
        let busy = store.inner.options.busy_timeout;
        store.inner.write(|conn| Ok(conn.busy_timeout(busy)?))?;
        Ok(store)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Marks events that were left pending or in progress by a process that died (no
    /// heartbeat for the stale time, or gone from this host) as
    /// [`Interrupted`](history::EventStatus::Interrupted), with an error saying so. Events
    /// of live writers, this store included, are left alone. Returns how many were marked.
    pub fn recover_interrupted(&self) -> Result<u64, SqliteError> {
        recovery::recover(&self.inner)
    }

    pub(crate) fn inner(&self) -> &Inner {
        &self.inner
    }

    /// The SQLite query plan of `query` (`EXPLAIN QUERY PLAN`, one line per step): which
    /// index a query uses. For diagnostics and tests.
    pub fn explain(&self, query: &Query) -> Result<Vec<String>, SqliteError> {
        let (sql, values) = select_sql(query);
        self.inner.read(|conn| {
            let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?;
            let rows =
                stmt.query_map(params_from_iter(values.iter()), |r| r.get::<_, String>(3))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    /// Runs `ANALYZE`, so the query planner knows how the data is spread.
    pub fn analyze(&self) -> Result<(), SqliteError> {
        self.inner.write(|conn| Ok(conn.execute_batch("ANALYZE")?))
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        if let Some((stop, handle)) = self.heartbeat.take() {
            drop(stop);
            let _ = handle.join();
        }
        recovery::unregister(&self.inner);
    }
}

impl Inner {
    /// Runs `f` on an idle read connection (opening one when none is idle).
    pub(crate) fn read<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, SqliteError>,
    ) -> Result<T, SqliteError> {
        let idle = self.readers.lock().pop();
        let conn = match idle {
            Some(c) => c,
            None => schema::open_read_connection(&self.path, self.options.busy_timeout)?,
        };
        let out = f(&conn);
        let mut idle = self.readers.lock();
        if idle.len() < MAX_IDLE_READERS {
            idle.push(conn);
        }
        out
    }

    /// Tells the checkpointer a write transaction committed.
    pub(crate) fn wrote(&self) {
        self.writes
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// Runs `f` on the write connection (staged batches are committed first).
    pub(crate) fn write<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, SqliteError>,
    ) -> Result<T, SqliteError> {
        let out = f(self.writer.lock().connection());
        self.writes
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        out
    }

    /// Like [`Inner::write`], then hands the connection straight to a waiting writer: long
    /// jobs done in steps (purge, vacuum) never keep the recorder waiting for more than a
    /// step.
    pub(crate) fn write_step<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, SqliteError>,
    ) -> Result<T, SqliteError> {
        let mut guard = self.writer.lock();
        let out = f(guard.connection());
        parking_lot::MutexGuard::unlock_fair(guard);
        self.writes
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        out
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
        let mut writer = self.inner.writer.lock();
        if let Err(e) = writer.stage(batch, &self.inner.owner) {
            // Atomic: none of this batch stays. (What the recorder staged before, if anything,
            // stays staged for its next commit.)
            writer.roll_back_unstaged();
            return Err(e.into());
        }
        let committed = writer.commit();
        drop(writer);
        self.inner.wrote();
        committed
    }

    /// Stages `batch` in the write transaction the store keeps open until
    /// [`commit_staged`](HistoryStore::commit_staged) (group commit; see the recorder).
    fn stage_batch(&self, batch: &[Event]) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        Ok(self.inner.writer.lock().stage(batch, &self.inner.owner)?)
    }

    fn commit_staged(&self) -> Result<(), StoreError> {
        let mut writer = self.inner.writer.lock();
        let open = writer.is_open();
        let committed = writer.commit();
        drop(writer);
        if open {
            self.inner.wrote();
        }
        committed
    }

    fn get(&self, id: EventId) -> Result<Option<Event>, StoreError> {
        self.inner
            .read(|conn| {
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
            .inner
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

    fn count(&self, query: &Filter) -> Result<u64, StoreError> {
        let f = filter(query);
        let sql = format!("SELECT count(*) FROM events WHERE {}", f.clause());
        self.inner
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
        let mut name = self.inner.path.as_os_str().to_owned();
        name.push("-spill");
        Some(PathBuf::from(name))
    }

    fn stats(&self, query: &StatsQuery) -> Result<Stats, StoreError> {
        crate::stats::stats(self, query).map_err(StoreError::from)
    }

    fn purge(&self, policy: &Retention) -> Result<PurgeReport, StoreError> {
        policy.validate()?;
        crate::retention::purge(self, policy).map_err(StoreError::from)
    }
}
