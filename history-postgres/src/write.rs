//! The write path. A group of batches is written in one transaction, committed together
//! (group commit), in one of two ways per batch:
//!
//! - **direct**: a batch whose ids are all new to the group and not known to be stored
//!   already is copied (`COPY`, binary) straight into `events`, numbered in the change feed
//!   as it goes. Should an id be stored after all, the server refuses the row (primary key)
//!   and the batch is staged instead: nothing is ever overwritten by this path.
//! - **staged**: the batch is copied into a per-session staging table and upserted into
//!   `events` in one statement at commit, keeping one record per id by the rule of
//!   [`Event::replaces`](history::Event::replaces), in SQL (`upsert.rs`). Once a batch of a
//!   group is staged, the group's later batches are staged too, so that the records of one
//!   id are applied in the order they came.
//!
//! The change feed's numbers are taken in commit order: they are taken under a
//! transaction-level advisory lock held until the commit, so a writer that numbers its rows
//! after another has waited for that one's commit to be visible. A direct batch takes the
//! lock before it is copied; staged batches are copied without it, and the lock covers only
//! their upsert and the commit. Followers are woken with `NOTIFY`.

use postgres::binary_copy::BinaryCopyInWriter;
use std::collections::HashSet;

use postgres::{Client, Statement};
use uuid::Uuid;

use crate::codec::{
    copy_event_row, copy_events_sql, copy_row, COPY_STAGING, CREATE_STAGING, EVENT_TYPES,
    STAGING_TYPES,
};
use crate::names::{lock_key, Names};
use crate::upsert::{upsert_sql, WRITER_WORK_MEM};
use crate::{Connector, PostgresError};

/// The most ids of unfinished records a session remembers (they send a later record of the
/// same id to the staging table at once rather than through a refused direct `COPY`).
const UNFINISHED_REMEMBERED: usize = 100_000;

/// The writer's connection and its open group, if any.
pub(crate) struct WriteSession {
    client: Option<Client>,
    /// A transaction is open with batches written in it.
    open: bool,
    /// The connection was lost with batches staged: the next commit must say so.
    lost: bool,
    /// The open transaction holds the change-feed lock.
    locked: bool,
    /// The group's next batch may go straight into `events` (nothing of it staged yet).
    direct_ok: bool,
    /// Rows the group copied straight into `events`.
    direct_rows: u64,
    /// Every id the open group wrote, either way.
    grouped: HashSet<Uuid>,
    /// Ids this session wrote unfinished records of (a later record of one is an update).
    unfinished: HashSet<Uuid>,
    /// The next staging row's order.
    ord: i64,
    /// The ids staged in the open transaction, and whether one came twice (then the upsert
    /// picks each id's winner first).
    staged: HashSet<Uuid>,
    repeated: bool,
    /// The upsert's SQL: ids unique, ids repeated.
    upsert: [String; 2],
    /// Both, prepared on the current connection.
    prepared: Option<[Statement; 2]>,
    /// `COPY` straight into `events`.
    copy_events: String,
    /// Takes `$1` numbers of the change feed at once; returns the last.
    reserve: String,
    notify: String,
    lock: i64,
}

impl std::fmt::Debug for WriteSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteSession")
            .field("connected", &self.client.is_some())
            .field("open", &self.open)
            .finish_non_exhaustive()
    }
}

/// The connection, which the caller made sure of.
fn conn(client: &mut Option<Client>) -> Result<&mut Client, PostgresError> {
    client
        .as_mut()
        .ok_or_else(|| PostgresError::Corrupt("no writer connection".into()))
}

/// Whether `e` is the server refusing a duplicate key.
fn is_unique_violation(e: &PostgresError) -> bool {
    matches!(e, PostgresError::Postgres(e)
        if e.code() == Some(&postgres::error::SqlState::UNIQUE_VIOLATION))
}

impl WriteSession {
    pub(crate) fn new(names: &Names) -> WriteSession {
        WriteSession {
            client: None,
            open: false,
            lost: false,
            locked: false,
            direct_ok: true,
            direct_rows: 0,
            grouped: HashSet::new(),
            unfinished: HashSet::new(),
            ord: 0,
            staged: HashSet::new(),
            repeated: false,
            upsert: [upsert_sql(names, false), upsert_sql(names, true)],
            prepared: None,
            copy_events: names.sql(&copy_events_sql()),
            reserve: names.sql("SELECT setval('{s}.changes', nextval('{s}.changes') + $1 - 1)"),
            notify: format!("NOTIFY \"{}\"", names.channel),
            lock: lock_key("changes", &names.schema),
        }
    }

    /// Forgets the group (after its transaction ended, either way).
    fn end_group(&mut self) {
        self.open = false;
        self.locked = false;
        self.direct_ok = true;
        self.direct_rows = 0;
        self.grouped.clear();
        self.ord = 0;
        self.staged.clear();
        self.repeated = false;
    }

    /// Whether batches are staged and not yet committed.
    pub(crate) fn is_open(&self) -> bool {
        self.open
    }

    fn client(&mut self, connector: &Connector) -> Result<&mut Client, PostgresError> {
        if self.client.as_ref().is_some_and(Client::is_closed) {
            self.client = None;
        }
        if self.client.is_none() {
            let mut client = connector.connect()?;
            client.batch_execute(CREATE_STAGING)?;
            // A group of staged batches is sorted (repeated ids) and passed to the rollup
            // triggers in memory rather than through temporary files.
            client.batch_execute(WRITER_WORK_MEM)?;
            self.prepared = Some([
                client.prepare(&self.upsert[0])?,
                client.prepare(&self.upsert[1])?,
            ]);
            self.client = Some(client);
        }
        conn(&mut self.client)
    }

    /// Forgets a connection that failed (it is reconnected on the next write); batches
    /// staged on it are gone.
    fn fail(&mut self, e: PostgresError) -> PostgresError {
        // A transient error may come before the client notices its connection is gone (an
        // administrator's termination): start afresh rather than fail on it again.
        let closed = self.client.as_ref().is_none_or(Client::is_closed) || e.is_transient();
        if closed {
            self.client = None;
            self.prepared = None;
            if self.open {
                self.lost = true;
            }
            self.end_group();
        }
        e
    }

    /// Writes `batch` into the open transaction (opening one). On error nothing of `batch`
    /// stays, and what was written before stays (unless the connection was lost: then the
    /// next commit reports it).
    pub(crate) fn stage(
        &mut self,
        connector: &Connector,
        batch: &[history::Event],
        writer: &Uuid,
    ) -> Result<(), PostgresError> {
        match self.stage_inner(connector, batch, writer) {
            Ok(()) => Ok(()),
            Err(e) => Err(self.fail(e)),
        }
    }

    fn stage_inner(
        &mut self,
        connector: &Connector,
        batch: &[history::Event],
        writer: &Uuid,
    ) -> Result<(), PostgresError> {
        let was_open = self.open;
        let client = self.client(connector)?;
        if !was_open {
            client.batch_execute("BEGIN")?;
        }
        match self.write_in_tx(batch, writer) {
            Ok(()) => {
                self.open = true;
                self.remember(batch);
                Ok(())
            }
            Err(e) => {
                if !was_open {
                    if let Some(client) = self.client.as_mut().filter(|c| !c.is_closed()) {
                        let _ = client.batch_execute("ROLLBACK");
                    }
                    self.end_group();
                }
                Err(e)
            }
        }
    }

    /// Whether `batch` may go straight into `events`: none of its ids is in the group
    /// already, repeated within it, or known to be stored unfinished.
    fn all_new(&self, batch: &[history::Event]) -> bool {
        let mut seen = HashSet::with_capacity(batch.len());
        batch.iter().all(|e| {
            let id = e.id.as_uuid();
            !self.grouped.contains(id) && !self.unfinished.contains(id) && seen.insert(*id)
        })
    }

    /// Writes `batch` in the open transaction, straight into `events` when it may, else into
    /// the staging table. On error nothing of `batch` stays.
    fn write_in_tx(
        &mut self,
        batch: &[history::Event],
        writer: &Uuid,
    ) -> Result<(), PostgresError> {
        if self.direct_ok && self.all_new(batch) {
            match self.copy_direct(batch, writer) {
                Ok(()) => return Ok(()),
                // An id was stored before (a retried or replayed batch, a record of a call
                // another session started): stage it, the upsert applies the rule.
                Err(e) if is_unique_violation(&e) => {}
                Err(e) => return Err(e),
            }
        }
        self.direct_ok = false;
        self.copy_staging(batch, writer)
    }

    /// Copies `batch` straight into `events` under the change-feed lock, numbering its rows.
    fn copy_direct(
        &mut self,
        batch: &[history::Event],
        writer: &Uuid,
    ) -> Result<(), PostgresError> {
        let client = conn(&mut self.client)?;
        if !self.locked {
            client.execute("SELECT pg_advisory_xact_lock($1)", &[&self.lock])?;
            self.locked = true;
        }
        let n = i64::try_from(batch.len()).unwrap_or(i64::MAX);
        let last: i64 = client.query_one(self.reserve.as_str(), &[&n])?.get(0);
        let first = last - n + 1;
        client.batch_execute("SAVEPOINT history_batch")?;
        let copied = (|| -> Result<(), PostgresError> {
            let sink = client.copy_in(self.copy_events.as_str())?;
            let mut out = BinaryCopyInWriter::new(sink, EVENT_TYPES);
            for (seq, e) in (first..).zip(batch) {
                copy_event_row(&mut out, seq, e, writer)?;
            }
            out.finish()?;
            Ok(())
        })();
        match copied {
            Ok(()) => {
                client.batch_execute("RELEASE SAVEPOINT history_batch")?;
                self.direct_rows += batch.len() as u64;
                Ok(())
            }
            Err(e) => {
                if !client.is_closed() {
                    client.batch_execute("ROLLBACK TO SAVEPOINT history_batch")?;
                }
                Err(e)
            }
        }
    }

    /// Copies `batch` into the staging table, for the upsert at commit.
    fn copy_staging(
        &mut self,
        batch: &[history::Event],
        writer: &Uuid,
    ) -> Result<(), PostgresError> {
        let mut ord = self.ord;
        let client = conn(&mut self.client)?;
        client.batch_execute("SAVEPOINT history_batch")?;
        let copied = (|| -> Result<(), PostgresError> {
            let sink = client.copy_in(COPY_STAGING)?;
            let mut out = BinaryCopyInWriter::new(sink, STAGING_TYPES);
            for e in batch {
                copy_row(&mut out, ord, e, writer)?;
                ord += 1;
            }
            out.finish()?;
            Ok(())
        })();
        match copied {
            Ok(()) => {
                client.batch_execute("RELEASE SAVEPOINT history_batch")?;
                self.ord = ord;
                for e in batch {
                    if !self.staged.insert(*e.id.as_uuid()) {
                        self.repeated = true;
                    }
                }
                Ok(())
            }
            Err(e) => {
                if !client.is_closed() {
                    let _ = client.batch_execute("ROLLBACK TO SAVEPOINT history_batch");
                }
                Err(e)
            }
        }
    }

    /// Notes the ids of a batch written in the group, and which are stored unfinished.
    fn remember(&mut self, batch: &[history::Event]) {
        for e in batch {
            let id = *e.id.as_uuid();
            self.grouped.insert(id);
            if e.status.is_terminal() {
                self.unfinished.remove(&id);
            } else {
                if self.unfinished.len() >= UNFINISHED_REMEMBERED {
                    // Only a shortcut: a direct copy of a stored id is refused, then staged.
                    self.unfinished.clear();
                }
                self.unfinished.insert(id);
            }
        }
    }

    /// Upserts everything staged and commits. Returns how many rows changed.
    pub(crate) fn commit(&mut self) -> Result<u64, PostgresError> {
        if self.lost {
            self.lost = false;
            return Err(PostgresError::StagedLost);
        }
        if !self.open {
            return Ok(0);
        }
        match self.commit_inner() {
            Ok(n) => Ok(n),
            Err(e) => {
                let e = self.fail(e);
                if let Some(client) = self.client.as_mut() {
                    let _ = client.batch_execute("ROLLBACK");
                }
                self.end_group();
                Err(e)
            }
        }
    }

    fn commit_inner(&mut self) -> Result<u64, PostgresError> {
        let client = conn(&mut self.client)?;
        if !self.locked {
            client.execute("SELECT pg_advisory_xact_lock($1)", &[&self.lock])?;
            self.locked = true;
        }
        let mut n = self.direct_rows;
        if !self.staged.is_empty() {
            let prepared = self
                .prepared
                .as_ref()
                .ok_or_else(|| PostgresError::Corrupt("upsert not prepared".into()))?;
            n += client.execute(&prepared[usize::from(self.repeated)], &[])?;
        }
        if n > 0 {
            client.batch_execute(&self.notify)?;
        }
        client.batch_execute("COMMIT")?;
        self.end_group();
        Ok(n)
    }
}
