//! [`SqliteOptions`]: how a store is opened.

use std::time::Duration;

use crate::SqliteError;

/// How a [`SqliteStore`](crate::SqliteStore) is opened; start from [`SqliteStore::options`](crate::SqliteStore::options).
#[derive(Clone, Debug)]
#[must_use = "call .open(path)"]
pub struct SqliteOptions {
    pub(crate) recover_on_open: bool,
    pub(crate) heartbeat: Duration,
    pub(crate) stale_after: Duration,
    pub(crate) busy_timeout: Duration,
    pub(crate) exact_stats_up_to: u64,
    pub(crate) write_cache: u64,
    pub(crate) read_only: bool,
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
            read_only: false,
        }
    }
}

impl SqliteOptions {
    /// On open, mark events left unfinished by dead processes as interrupted
    /// ([`SqliteStore::recover_interrupted`](crate::SqliteStore::recover_interrupted)). Off by default.
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
    /// [`StoreError::Unavailable`](history::StoreError::Unavailable) (default 5 s).
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

    /// Opens for reading only (off by default): the file must already be a history database
    /// of the current schema. Nothing is created, migrated, registered or written — not the
    /// database file, and no heartbeat, recovery or checkpoint runs — so listing a history
    /// never changes it. Reads work while other processes write (WAL). A missing or empty
    /// file, an older schema (open it once for writing to upgrade it) and a newer one are
    /// refused with [`SqliteError::Missing`], [`SqliteError::Empty`],
    /// [`SqliteError::OlderSchema`] and [`SqliteError::NewerSchema`]; writes through such a
    /// store fail with [`SqliteError::OpenedReadOnly`]. [`recover_on_open`](Self::recover_on_open)
    /// is ignored. See also [`SqliteStore::open_read_only`](crate::SqliteStore::open_read_only).
    pub fn read_only(mut self, on: bool) -> Self {
        self.read_only = on;
        self
    }

    /// Refuses options out of their range, naming the option and the limits.
    pub(crate) fn validate(&self) -> Result<(), SqliteError> {
        if !(MIN_WRITE_CACHE..=MAX_WRITE_CACHE).contains(&self.write_cache) {
            return Err(SqliteError::InvalidOption {
                option: "write_cache",
                reason: format!(
                    "must be {MIN_WRITE_CACHE} to {MAX_WRITE_CACHE} bytes (1 MiB to 4 GiB), got {}",
                    self.write_cache
                ),
            });
        }
        Ok(())
    }
}
