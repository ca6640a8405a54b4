//! [`PostgresStore`]: opening and closing, and the [`HistoryStore`] implementation.
//! Statistics (`stats.rs`), retention (`retention.rs`), the change feed (`feed.rs`) and
//! recovery (`writers.rs`) live in their own files.

use std::path::PathBuf;
use std::sync::Arc;

use history::retention::{PurgeReport, Retention};
use history::stats::{Stats, StatsQuery};
use std::time::Duration;

use history::{
    ChangePage, ChangeToken, Event, EventId, Filter, HistoryStore, Page, Query, StoreError,
};
use parking_lot::Mutex;

use crate::background::Background;
use crate::codec::{read_event, COLUMNS};
use crate::connections::{Connector, Readers};
use crate::names::Names;
use crate::options::PostgresOptions;
use crate::partitions::Partitions;
use crate::query::{add_cursor, filter, order_by};
use crate::shared::Shared;
use crate::write::WriteSession;
use crate::writers::{self, Registration};
use crate::{feed, retention, schema, stats, PostgresError};

/// Events in PostgreSQL: one history for many hosts.
///
/// Every table lives in the store's own schema (default `history`), created and migrated on
/// open. Events are partitioned by start time; batches are copied into a staging table and
/// upserted in one statement; several hosts may write at once. Queries use a small pool of
/// reader connections, so they never wait for the writer.
///
/// ```no_run
/// use history::{Event, EventType, HistoryStore, Query};
/// use history_postgres::PostgresStore;
///
/// let store = PostgresStore::open("postgres://history@db.internal/app")?;
/// let event = Event::builder(EventType::VmCreate, "vm::create").user_id(7).build()?;
/// store.write_batch(&[event.clone()])?;
/// assert_eq!(store.count(&Query::new().user_id(7))?, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct PostgresStore {
    shared: Arc<Shared>,
    background: Background,
    spill: Option<PathBuf>,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("url", &self.shared.connector.shown())
            .field("schema", &self.shared.names.schema)
            .finish_non_exhaustive()
    }
}

impl PostgresOptions {
    /// Opens the store at `url`; see [`PostgresStore::open`].
    pub fn open(self, url: &str) -> Result<PostgresStore, PostgresError> {
        PostgresStore::open_with(url, self)
    }
}

/// This machine's host name, or `unknown`.
fn this_host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

fn this_program() -> Option<String> {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
}

impl PostgresStore {
    /// Opens the history at `url` (`postgres://user:password@host:port/database`, or the
    /// `key=value` form) with default options: creates its schema when missing and upgrades
    /// an older one in place, registers this store as a writer, and marks the unfinished
    /// events of writers that stopped `interrupted`.
    ///
    /// Refused, with nothing changed: a schema written by a newer version, and a schema
    /// holding another application's tables. The password never appears in errors or logs.
    pub fn open(url: &str) -> Result<PostgresStore, PostgresError> {
        PostgresStore::open_with(url, PostgresOptions::default())
    }

    /// Options for opening a store (schema, partitions, readers, heartbeat).
    pub fn options() -> PostgresOptions {
        PostgresOptions::default()
    }

    fn open_with(url: &str, options: PostgresOptions) -> Result<PostgresStore, PostgresError> {
        options.validate()?;
        let connector = Connector::new(url)?;
        let names = Names::new(&options.schema);
        let mut client = connector.connect()?;
        let span = schema::migrate(&mut client, &names, options.partition_span.as_secs() as i64)?;
        if span != options.partition_span.as_secs() as i64 {
            tracing::debug!(
                span_secs = span,
                "history-postgres: the schema keeps the partition span it was created with"
            );
        }
        let partitions = Partitions::new(span);
        partitions.ensure(
            &mut client,
            &names,
            std::iter::empty(),
            options.partitions_ahead,
        )?;
        let me = Registration {
            id: *EventId::new().as_uuid(),
            host: options.host.clone().unwrap_or_else(this_host),
            service: this_program(),
        };
        writers::beat(&mut client, &names, &me)?;
        let stale = options.stale_after.as_secs_f64();
        if options.recover_on_open {
            writers::recover(&mut client, &names, &me, stale)?;
        }
        let shared = Arc::new(Shared {
            readers: Readers::new(options.readers),
            writer: Mutex::new(WriteSession::new(&names)),
            spill: options.spill.clone(),
            listener: Mutex::new(None),
            connector,
            names,
            options,
            partitions,
            me,
        });
        shared.readers.give(client);
        let background = Background::start(&shared).map_err(|e| PostgresError::InvalidOption {
            option: "background thread",
            reason: e.to_string(),
        })?;
        let spill = shared.spill.clone();
        Ok(PostgresStore {
            shared,
            background,
            spill,
        })
    }

    /// The schema holding this history.
    pub fn schema(&self) -> &str {
        &self.shared.names.schema
    }

    /// This store's writer id (the `writers` table; unfinished events it wrote carry it).
    pub fn writer_id(&self) -> uuid::Uuid {
        self.shared.me.id
    }

    /// Marks the unfinished events of writers whose heartbeat stopped (on any host)
    /// [`Interrupted`](history::EventStatus::Interrupted), with an error saying so; the
    /// background thread does this at every heartbeat. Exactly one store marks each dead
    /// writer's events. Returns how many were marked.
    pub fn recover_interrupted(&self) -> Result<u64, PostgresError> {
        let s = &self.shared;
        s.readers.with(&s.connector, |c| {
            writers::recover(c, &s.names, &s.me, s.options.stale_after.as_secs_f64())
        })
    }

    /// Recomputes the hourly rollups that long-range [statistics](HistoryStore::stats) read,
    /// from the stored events, in one transaction; returns the number of events counted.
    ///
    /// Every write, recovery and purge through this library keeps the rollups exact (the
    /// server's triggers change them in the same transaction). They drift only when events
    /// are changed by other means that fire no trigger — a partition truncated or dropped
    /// by hand, triggers disabled — and then statistics over long ranges disagree with the
    /// events until this is called. Writers wait for it; readers do not.
    pub fn rebuild_rollups(&self) -> Result<u64, PostgresError> {
        let s = &self.shared;
        s.readers.with(&s.connector, |c| {
            let mut tx = c.transaction()?;
            tx.execute(
                "SELECT pg_advisory_xact_lock($1)",
                &[&crate::names::lock_key("changes", &s.names.schema)],
            )?;
            tx.batch_execute(&s.names.sql(crate::rollup::REBUILD))?;
            let n: i64 = tx
                .query_one(
                    &s.names
                        .sql("SELECT coalesce(sum(events), 0)::bigint FROM {s}.stats_hourly"),
                    &[],
                )?
                .get(0);
            tx.commit()?;
            Ok(n.max(0) as u64)
        })
    }

    /// Runs `ANALYZE` on the events, so the planner knows how the data is spread.
    pub fn analyze(&self) -> Result<(), PostgresError> {
        let s = &self.shared;
        s.readers.with(&s.connector, |c| {
            Ok(c.batch_execute(&s.names.sql("ANALYZE {s}.events"))?)
        })
    }

    /// The query plan of `query` (`EXPLAIN`, one line per step). For diagnostics and tests.
    pub fn explain(&self, query: &Query) -> Result<Vec<String>, PostgresError> {
        let (sql, f) = select_sql(&self.shared.names, query);
        self.shared.readers.with(&self.shared.connector, |c| {
            let rows = c.query(&format!("EXPLAIN {sql}"), &f.params())?;
            Ok(rows.iter().map(|r| r.get::<_, String>(0)).collect())
        })
    }

    /// Waits until a change after `after` is committed (by any writer, on any host), at most
    /// `timeout`; returns whether there is one. Woken by `NOTIFY`, so followers need not
    /// poll: read it with [`changes_after`](HistoryStore::changes_after).
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use history::HistoryStore;
    ///
    /// let store = history_postgres::PostgresStore::open("postgres://localhost/ops")?;
    /// let mut after = store.latest_change()?; // follow from now
    /// loop {
    ///     if store.wait_for_change(after, Duration::from_secs(30))? {
    ///         let page = store.changes_after(after, 1_000)?;
    ///         for change in &page.changes {
    ///             println!("{} {} {}", change.token, change.event.id, change.event.status);
    ///         }
    ///         after = page.next;
    ///     }
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn wait_for_change(
        &self,
        after: ChangeToken,
        timeout: Duration,
    ) -> Result<bool, PostgresError> {
        feed::wait(&self.shared, after, timeout)
    }

    fn stage(&self, batch: &[Event]) -> Result<(), PostgresError> {
        let s = &self.shared;
        let times: Vec<i64> = batch
            .iter()
            .map(|e| e.started_at.timestamp_micros())
            .collect();
        s.readers.with(&s.connector, |c| {
            s.partitions.ensure(
                c,
                &s.names,
                times.iter().copied(),
                s.options.partitions_ahead,
            )
        })?;
        s.writer.lock().stage(&s.connector, batch, &s.me.id)
    }
}

impl Drop for PostgresStore {
    fn drop(&mut self) {
        self.background.stop();
        let s = &self.shared;
        if s.writer.lock().is_open() {
            tracing::warn!("history-postgres: closing with staged batches not committed");
        }
        let _ = s
            .readers
            .with(&s.connector, |c| writers::unregister(c, &s.names, &s.me));
    }
}

fn select_sql(names: &Names, query: &Query) -> (String, crate::query::Where) {
    let mut f = filter(query);
    add_cursor(&mut f, query);
    let sql = names.sql(&format!(
        "SELECT {COLUMNS} FROM {{s}}.events WHERE {} ORDER BY {} LIMIT {}",
        f.clause(),
        order_by(query.order),
        // One more than asked: tells whether another page follows.
        query.limit + 1
    ));
    (sql, f)
}

impl HistoryStore for PostgresStore {
    fn write_batch(&self, batch: &[Event]) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        self.stage(batch)?;
        self.shared.writer.lock().commit()?;
        Ok(())
    }

    /// Stages `batch` in the write transaction the store keeps open until
    /// [`commit_staged`](HistoryStore::commit_staged) (group commit; see the recorder).
    fn stage_batch(&self, batch: &[Event]) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        Ok(self.stage(batch)?)
    }

    fn commit_staged(&self) -> Result<(), StoreError> {
        self.shared.writer.lock().commit()?;
        Ok(())
    }

    fn get(&self, id: EventId) -> Result<Option<Event>, StoreError> {
        let s = &self.shared;
        let sql = s.names.sql(&format!(
            "SELECT {COLUMNS} FROM {{s}}.events WHERE id = $1 LIMIT 1"
        ));
        Ok(s.readers.with(&s.connector, |c| {
            match c.query_opt(sql.as_str(), &[id.as_uuid()])? {
                Some(row) => Ok(Some(read_event(&row)?)),
                None => Ok(None),
            }
        })?)
    }

    fn query(&self, query: &Query) -> Result<Page<Event>, StoreError> {
        query.validate()?;
        let total = if query.with_total {
            Some(self.count(query)?)
        } else {
            None
        };
        let (sql, f) = select_sql(&self.shared.names, query);
        let s = &self.shared;
        let items = s.readers.with(&s.connector, |c| {
            let rows = c.query(sql.as_str(), &f.params())?;
            rows.iter().map(read_event).collect::<Result<Vec<_>, _>>()
        })?;
        Ok(Page::from_read(items, query.limit, total))
    }

    fn count(&self, query: &Filter) -> Result<u64, StoreError> {
        let f = filter(query);
        let s = &self.shared;
        let sql = s.names.sql(&format!(
            "SELECT count(*) FROM {{s}}.events WHERE {}",
            f.clause()
        ));
        let n: i64 = s.readers.with(&s.connector, |c| {
            Ok(c.query_one(sql.as_str(), &f.params())?.get(0))
        })?;
        Ok(n as u64)
    }

    /// The spill file set with [`PostgresOptions::spill_path`], if any.
    fn spill_path(&self) -> Option<PathBuf> {
        self.spill.clone()
    }

    fn stats(&self, query: &StatsQuery) -> Result<Stats, StoreError> {
        query.filter.validate()?;
        Ok(stats::compute(&self.shared, query)?)
    }

    fn purge(&self, policy: &Retention) -> Result<PurgeReport, StoreError> {
        policy.validate()?;
        Ok(retention::purge(&self.shared, policy)?)
    }

    /// Changes in commit order across every writer: numbers are taken under a lock held to
    /// the commit (see the module `write`).
    fn changes_after(&self, after: ChangeToken, limit: usize) -> Result<ChangePage, StoreError> {
        history::feed::validate_limit(limit)?;
        Ok(feed::changes_after(&self.shared, after, limit)?)
    }

    fn latest_change(&self) -> Result<ChangeToken, StoreError> {
        Ok(feed::latest(&self.shared)?)
    }
}
