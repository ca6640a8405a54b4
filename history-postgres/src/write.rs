//! The write path: batches are copied (`COPY`, binary) into a per-session staging table and
//! upserted into `events` in one statement at commit, keeping one record per id by the rule
//! of [`Event::replaces`](history::Event::replaces), in SQL. Several batches may be staged
//! before one commit (group commit). The upsert is prepared once per connection, in two
//! forms: when the staged ids are all different (the writer keeps them) the rows are taken
//! as they are; only when one repeats are they sorted to pick each id's winner first.
//!
//! The change feed's numbers are taken in commit order: the upsert runs under a
//! transaction-level advisory lock held until the commit, so a writer that numbers its rows
//! after another has waited for that one's commit to be visible. The lock covers only the
//! upsert and the commit, never the copying. Followers are woken with `NOTIFY`.

use postgres::binary_copy::BinaryCopyInWriter;
use std::collections::HashSet;

use postgres::{Client, Statement};
use uuid::Uuid;

use crate::codec::{copy_row, COPY_STAGING, CREATE_STAGING, STAGING_TYPES};
use crate::names::{lock_key, Names};
use crate::{Connector, PostgresError};

/// How far a status is along (`Event::replaces`): unfinished, interrupted, finished.
macro_rules! rank {
    ($t:literal) => {
        concat!(
            "(CASE ",
            $t,
            ".status WHEN 'in_progress' THEN 1 WHEN 'pending' THEN 0 \
             WHEN 'interrupted' THEN 2 ELSE 3 END)"
        )
    };
}

/// Which of two records of one id the fold of `Event::replaces` keeps: the furthest along,
/// then (finished records) the latest finish, then the one written last.
const WINNER_ORDER: &str = concat!(
    "id, started_at, ",
    rank!("w"),
    " DESC, CASE WHEN w.status IN ('in_progress', 'pending') THEN 'epoch'::timestamptz \
     ELSE coalesce(w.finished_at, 'epoch') END DESC, w.ord DESC"
);

/// Whether `excluded` (the new record) replaces the stored `e`: `Event::replaces` in SQL.
const REPLACES: &str = concat!(
    rank!("excluded"),
    " > ",
    rank!("e"),
    " OR (",
    rank!("excluded"),
    " = ",
    rank!("e"),
    " AND (excluded.status IN ('in_progress', 'pending') \
     OR coalesce(excluded.finished_at, 'epoch') >= coalesce(e.finished_at, 'epoch')))"
);

/// The upsert of everything staged. `dedup`: the staged rows may hold several records of one
/// id, so the winner of each is picked first (a sort); without, the rows are taken as they
/// are (the ids are known to be unique).
/// The writer session's memory for sorts and the rollup triggers' transition tables.
const WRITER_WORK_MEM: &str = "SET work_mem = '64MB'";

fn upsert_sql(names: &Names, dedup: bool) -> String {
    let source = if dedup {
        format!(
            "(SELECT DISTINCT ON (id, started_at) * FROM pg_temp.history_staging w \
             ORDER BY {WINNER_ORDER})"
        )
    } else {
        "pg_temp.history_staging".to_owned()
    };
    names.sql(&format!(
        "INSERT INTO {{s}}.events AS e (id, started_at, event_type, status, finished_at, \
         duration_us, operation, user_id, vm_id, credential_id, organization_id, parent_id, \
         trace_id, correlation_id, host, service, labels, parameters, result, error, \
         terraform_status, execution, writer, change_seq, external_trace_id, external_span_id) \
         SELECT id, started_at, event_type, status, finished_at, duration_us, operation, \
         user_id::jsonb, vm_id::jsonb, credential_id::jsonb, organization_id::jsonb, \
         parent_id, trace_id, correlation_id, host, service, labels::jsonb, \
         parameters::jsonb, result::jsonb, error::jsonb, terraform_status, execution::jsonb, \
         writer, nextval('{{s}}.changes'), external_trace_id, external_span_id \
         FROM {source} w \
         ON CONFLICT (id, started_at) DO UPDATE SET event_type = excluded.event_type, \
         status = excluded.status, finished_at = excluded.finished_at, \
         duration_us = excluded.duration_us, operation = excluded.operation, \
         user_id = excluded.user_id, vm_id = excluded.vm_id, \
         credential_id = excluded.credential_id, organization_id = excluded.organization_id, \
         parent_id = excluded.parent_id, trace_id = excluded.trace_id, \
         correlation_id = excluded.correlation_id, host = excluded.host, \
         service = excluded.service, labels = excluded.labels, \
         parameters = excluded.parameters, result = excluded.result, error = excluded.error, \
         terraform_status = excluded.terraform_status, execution = excluded.execution, \
         writer = excluded.writer, change_seq = excluded.change_seq, \
         external_trace_id = excluded.external_trace_id, \
         external_span_id = excluded.external_span_id \
         WHERE {REPLACES}"
    ))
}

/// The writer's connection and its open group, if any.
pub(crate) struct WriteSession {
    client: Option<Client>,
    /// A transaction is open with batches staged in it.
    open: bool,
    /// The connection was lost with batches staged: the next commit must say so.
    lost: bool,
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

impl WriteSession {
    pub(crate) fn new(names: &Names) -> WriteSession {
        WriteSession {
            client: None,
            open: false,
            lost: false,
            ord: 0,
            staged: HashSet::new(),
            repeated: false,
            upsert: [upsert_sql(names, false), upsert_sql(names, true)],
            prepared: None,
            notify: format!("NOTIFY \"{}\"", names.channel),
            lock: lock_key("changes", &names.schema),
        }
    }

    fn forget_staged(&mut self) {
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
        self.client
            .as_mut()
            .ok_or_else(|| PostgresError::Corrupt("no writer connection".into()))
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
            self.forget_staged();
            if self.open {
                self.lost = true;
            }
            self.open = false;
        }
        e
    }

    /// Copies `batch` into the open transaction (opening one). On error nothing of `batch`
    /// stays, and what was staged before stays staged (unless the connection was lost:
    /// then the next commit reports it).
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
        let open = self.open;
        let mut ord = self.ord;
        let client = self.client(connector)?;
        if !open {
            client.batch_execute("BEGIN")?;
        }
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
                self.open = true;
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
                    let undo = if open {
                        "ROLLBACK TO SAVEPOINT history_batch"
                    } else {
                        "ROLLBACK"
                    };
                    let _ = client.batch_execute(undo);
                }
                Err(e)
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
                self.open = false;
                self.ord = 0;
                self.forget_staged();
                Err(e)
            }
        }
    }

    fn commit_inner(&mut self) -> Result<u64, PostgresError> {
        let client = self
            .client
            .as_mut()
            .ok_or_else(|| PostgresError::Corrupt("no writer connection".into()))?;
        client.execute("SELECT pg_advisory_xact_lock($1)", &[&self.lock])?;
        let prepared = self
            .prepared
            .as_ref()
            .ok_or_else(|| PostgresError::Corrupt("upsert not prepared".into()))?;
        let n = client.execute(&prepared[usize::from(self.repeated)], &[])?;
        if n > 0 {
            client.batch_execute(&self.notify)?;
        }
        client.batch_execute("COMMIT")?;
        self.open = false;
        self.ord = 0;
        self.forget_staged();
        Ok(n)
    }
}
