//! [`Connections`]: the state of an open store — the write connection, the idle read
//! connections, this store's owner id and options — shared by the store and its background
//! thread. Each feature adds its methods to [`SqliteStore`](crate::SqliteStore) in its own file
//! and reaches the database through these.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;
use rusqlite::Connection;

use crate::group_commit::WriteConn;
use crate::options::SqliteOptions;
use crate::{schema, SqliteError};

/// How many idle read connections are kept for reuse.
const MAX_IDLE_READERS: usize = 8;

/// The connections of one open store.
pub(crate) struct Connections {
    /// The database file.
    pub path: PathBuf,
    /// The one connection that writes, with its group transaction (none when opened
    /// read-only).
    writer: Option<Mutex<WriteConn>>,
    readers: Mutex<Vec<Connection>>,
    /// This store's id in the `owners` table (crash recovery).
    pub owner: [u8; 16],
    /// How the store was opened.
    pub options: SqliteOptions,
    /// Committed write transactions (tells the checkpointer there is work).
    writes: AtomicU64,
}

impl Connections {
    /// The state of a store whose write connection is `writer`.
    /// `writer` is `None` for a store opened read-only.
    pub(crate) fn new(
        path: PathBuf,
        writer: Option<Connection>,
        owner: [u8; 16],
        options: SqliteOptions,
    ) -> Connections {
        Connections {
            path,
            writer: writer.map(|w| Mutex::new(WriteConn::new(w))),
            readers: Mutex::new(Vec::new()),
            owner,
            options,
            writes: AtomicU64::new(0),
        }
    }

    /// Runs `f` on an idle read connection (opening one when none is idle).
    pub(crate) fn read<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, SqliteError>,
    ) -> Result<T, SqliteError> {
        let idle = self.readers.lock().pop();
        let conn = match idle {
            Some(c) => c,
            None => schema::open_read_connection(
                &self.path,
                self.options.busy_timeout,
                self.options.read_only,
            )?,
        };
        let out = f(&conn);
        let mut idle = self.readers.lock();
        if idle.len() < MAX_IDLE_READERS {
            idle.push(conn);
        }
        out
    }

    /// Adds an open read connection to the idle ones.
    pub(crate) fn add_reader(&self, conn: Connection) {
        self.readers.lock().push(conn);
    }

    /// Whether the store was opened read-only (it has no write connection).
    pub(crate) fn is_read_only(&self) -> bool {
        self.writer.is_none()
    }

    /// The write connection, locked; [`SqliteError::OpenedReadOnly`] for a read-only store.
    pub(crate) fn writer(&self) -> Result<parking_lot::MutexGuard<'_, WriteConn>, SqliteError> {
        match &self.writer {
            Some(w) => Ok(w.lock()),
            None => Err(SqliteError::OpenedReadOnly {
                path: self.path.clone(),
            }),
        }
    }

    /// Tells the checkpointer a write transaction committed.
    pub(crate) fn wrote(&self) {
        self.writes.fetch_add(1, Ordering::Relaxed);
    }

    /// How many write transactions committed so far.
    pub(crate) fn writes(&self) -> u64 {
        self.writes.load(Ordering::Relaxed)
    }

    /// Runs `f` on the write connection (staged batches are committed first).
    pub(crate) fn write<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, SqliteError>,
    ) -> Result<T, SqliteError> {
        let out = f(self.writer()?.connection());
        self.wrote();
        out
    }

    /// Like [`Connections::write`], then hands the connection straight to a waiting writer:
    /// long jobs done in steps (purge, vacuum) never keep the recorder waiting for more than
    /// a step.
    pub(crate) fn write_step<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, SqliteError>,
    ) -> Result<T, SqliteError> {
        let mut guard = self.writer()?;
        let out = f(guard.connection());
        parking_lot::MutexGuard::unlock_fair(guard);
        self.wrote();
        out
    }
}
