//! [`PostgresOptions`]: how a [`PostgresStore`](crate::PostgresStore) is opened.

use std::time::Duration;

use crate::PostgresError;

/// Options for opening a [`PostgresStore`](crate::PostgresStore); start from
/// [`PostgresStore::options`](crate::PostgresStore::options).
///
/// ```
/// use std::time::Duration;
/// let options = history_postgres::PostgresStore::options()
///     .schema("audit_history")
///     .partition_span(Duration::from_secs(7 * 86_400))
///     .readers(8);
/// # let _ = options;
/// ```
#[derive(Clone, Debug)]
#[must_use = "call .open(url) to open the store"]
pub struct PostgresOptions {
    pub(crate) schema: String,
    pub(crate) partition_span: Duration,
    pub(crate) partitions_ahead: u32,
    pub(crate) readers: usize,
    pub(crate) heartbeat: Duration,
    pub(crate) stale_after: Duration,
    pub(crate) recover_on_open: bool,
    pub(crate) purge_chunk: usize,
    pub(crate) exact_stats_up_to: u64,
    pub(crate) host: Option<String>,
    pub(crate) spill: Option<std::path::PathBuf>,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        PostgresOptions {
            schema: "history".into(),
            partition_span: Duration::from_secs(86_400),
            partitions_ahead: 2,
            readers: 4,
            heartbeat: Duration::from_secs(5),
            stale_after: Duration::from_secs(30),
            recover_on_open: true,
            purge_chunk: 10_000,
            exact_stats_up_to: 20_000,
            host: None,
            spill: None,
        }
    }
}

impl PostgresOptions {
    /// The schema that holds every table of the history (default `history`): created when
    /// missing, never shared with the application's own tables. Lower-case letters, digits
    /// and `_`, starting with a letter or `_`, at most 48 characters.
    pub fn schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = schema.into();
        self
    }
    /// The time each partition of the events table covers (default one day; whole hours).
    /// Retention drops whole partitions, so this is also its granularity. Used when the
    /// schema is created; an existing schema keeps the span it was created with.
    pub fn partition_span(mut self, span: Duration) -> Self {
        self.partition_span = span;
        self
    }
    /// How many partitions after the current one the writer keeps created (default 2).
    pub fn partitions_ahead(mut self, n: u32) -> Self {
        self.partitions_ahead = n;
        self
    }
    /// How many idle reader connections are kept for queries (default 4). More may be open
    /// at once under concurrent queries; the surplus is closed when returned.
    pub fn readers(mut self, n: usize) -> Self {
        self.readers = n;
        self
    }
    /// How often this store's writer registration is refreshed (default 5 s), and after how
    /// long without a refresh another host takes a writer for dead and marks its unfinished
    /// events `interrupted` (default 30 s).
    pub fn heartbeat(mut self, every: Duration, stale_after: Duration) -> Self {
        self.heartbeat = every;
        self.stale_after = stale_after;
        self
    }
    /// Whether opening marks the unfinished events of dead writers `interrupted` (default
    /// yes). The background thread keeps doing so at every heartbeat either way.
    pub fn recover_on_open(mut self, yes: bool) -> Self {
        self.recover_on_open = yes;
        self
    }
    /// How many rows one retention delete statement removes at most (default 10,000): each
    /// chunk is its own short transaction.
    pub fn purge_chunk(mut self, rows: usize) -> Self {
        self.purge_chunk = rows;
        self
    }
    /// Statistics over at most this many events are computed exactly from the events
    /// (default 20,000, as in the SQLite store); larger ones filtered only by type, status
    /// and time come from the hourly rollups, with percentiles within about 4.5%.
    pub fn exact_stats_up_to(mut self, events: u64) -> Self {
        self.exact_stats_up_to = events;
        self
    }
    /// The host name this store registers its writer under (default: the machine's).
    pub fn host(mut self, host: impl Into<String>) -> Self {
        self.host = Some(host.into());
        self
    }
    /// Where a [`Recorder`](history::Recorder) over this store keeps batches while the
    /// server cannot be reached (default: nowhere — set it, or the recorder's own
    /// `spill_path`, so that a server restart loses nothing). A private file on this host.
    pub fn spill_path(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.spill = Some(path.into());
        self
    }

    pub(crate) fn validate(&self) -> Result<(), PostgresError> {
        let bad = |option, reason: &str| {
            Err(PostgresError::InvalidOption {
                option,
                reason: reason.into(),
            })
        };
        let s = &self.schema;
        let first_ok = s
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_');
        if !first_ok
            || s.len() > 48
            || !s
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            return bad(
                "schema",
                "lower-case letters, digits and `_`, starting with a letter or `_`, 1 to 48 long",
            );
        }
        let span = self.partition_span.as_secs();
        if span < 3_600 || !span.is_multiple_of(3_600) || self.partition_span.subsec_nanos() != 0 {
            return bad("partition_span", "whole hours, at least one");
        }
        if self.heartbeat.is_zero() || self.stale_after <= self.heartbeat * 2 {
            return bad(
                "heartbeat",
                "the stale time must be more than twice the heartbeat, which must not be zero",
            );
        }
        if self.purge_chunk == 0 {
            return bad("purge_chunk", "at least 1");
        }
        Ok(())
    }
}
