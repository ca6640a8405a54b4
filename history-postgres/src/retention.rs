//! Retention: partitions that fall wholly inside a time-only policy are dropped (their rows
//! counted first, in the same transaction); what is left is deleted in chunks, each its own
//! short transaction. Policies that keep the newest N per subject select in newest-first
//! order with [`Selection`](history::retention::Selection), the one definition, and delete
//! the selected ids in chunks. A dry run only counts. Deletes take the change-feed lock and
//! keep the rollups (`rollup.rs`): the triggers for rows, explicitly for dropped partitions.

use chrono::{DateTime, Utc};
use history::retention::{PurgeReport, Retention};
use history::{Filter, Order, Query};
use postgres::Client;
use uuid::Uuid;

use crate::codec::{read_event, COLUMNS};
use crate::names::lock_key;
use crate::partitions::{self, Partition};
use crate::query::{add_cursor, filter, order_by};
use crate::shared::Shared;
use crate::PostgresError;

/// Whether `f` selects by start time only (so whole partitions can go).
fn time_only(f: &Filter) -> bool {
    let mut rest = f.clone();
    rest.since = None;
    rest.until = None;
    rest.matches_everything() && f.until.is_some()
}

/// The partitions wholly inside `[since, until)`.
fn inside(all: &[Partition], f: &Filter) -> Vec<Partition> {
    all.iter()
        .filter(|p| f.since.is_none_or(|s| p.start >= s) && f.until.is_some_and(|u| p.end <= u))
        .cloned()
        .collect()
}

fn add_range(
    report: &mut PurgeReport,
    n: i64,
    oldest: Option<DateTime<Utc>>,
    newest: Option<DateTime<Utc>>,
) {
    report.deleted += n.max(0) as u64;
    if let Some(o) = oldest {
        report.oldest = Some(report.oldest.map_or(o, |x| x.min(o)));
    }
    if let Some(o) = newest {
        report.newest = Some(report.newest.map_or(o, |x| x.max(o)));
    }
}

/// The lock every change to the events takes (`write.rs`), so that the rollup cells the
/// triggers keep are never changed by two transactions at once.
fn changes_lock(shared: &Shared) -> i64 {
    lock_key("changes", &shared.names.schema)
}

/// Applies `policy` (already validated).
pub(crate) fn purge(shared: &Shared, policy: &Retention) -> Result<PurgeReport, PostgresError> {
    if policy.keep_last.is_some() {
        return purge_selected(shared, policy);
    }
    let mut report = PurgeReport::empty(policy.dry_run);
    let f = filter(&policy.filter);
    let count_sql = shared.names.sql(&format!(
        "SELECT count(*), min(started_at), max(started_at) FROM {{s}}.events WHERE {}",
        f.clause()
    ));
    if policy.dry_run {
        let row = shared.readers.with(&shared.connector, |c| {
            Ok(c.query_one(count_sql.as_str(), &f.params())?)
        })?;
        add_range(&mut report, row.get(0), row.get(1), row.get(2));
        return Ok(report);
    }
    let mut client = shared.connector.connect()?;
    if time_only(&policy.filter) {
        let all = partitions::list(&mut client, &shared.names, &shared.partitions)?;
        for p in inside(&all, &policy.filter) {
            drop_partition(&mut client, shared, &p, &mut report)?;
        }
    }
    // What is left: boundary partitions, the default partition, other filters.
    let delete_sql = shared.names.sql(&format!(
        "WITH gone AS (DELETE FROM {{s}}.events WHERE (id, started_at) IN \
           (SELECT id, started_at FROM {{s}}.events WHERE {} LIMIT {}) \
           RETURNING started_at) \
         SELECT count(*), min(started_at), max(started_at) FROM gone",
        f.clause(),
        shared.options.purge_chunk
    ));
    let lock = changes_lock(shared);
    loop {
        let mut tx = client.transaction()?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&lock])?;
        let row = tx.query_one(delete_sql.as_str(), &f.params())?;
        tx.commit()?;
        let n: i64 = row.get(0);
        add_range(&mut report, n, row.get(1), row.get(2));
        if n < shared.options.purge_chunk as i64 {
            return Ok(report);
        }
    }
}

/// Counts a partition's rows and drops it, in one transaction.
fn drop_partition(
    client: &mut Client,
    shared: &Shared,
    p: &Partition,
    report: &mut PurgeReport,
) -> Result<(), PostgresError> {
    let mut tx = client.transaction()?;
    tx.batch_execute("SET LOCAL lock_timeout = '10s'")?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&changes_lock(shared)])?;
    let table = format!("{{s}}.\"{}\"", p.table);
    let row = tx.query_one(
        &shared.names.sql(&format!(
            "SELECT count(*), min(started_at), max(started_at) FROM {table}"
        )),
        &[],
    )?;
    add_range(report, row.get(0), row.get(1), row.get(2));
    // The rollup cells of its hours go with it (partitions span whole hours).
    tx.execute(
        &shared
            .names
            .sql("DELETE FROM {s}.stats_hourly WHERE hour >= $1 AND hour < $2"),
        &[&p.start, &p.end],
    )?;
    tx.batch_execute(&shared.names.sql(&format!(
        "ALTER TABLE {{s}}.events DETACH PARTITION {table}; DROP TABLE {table}"
    )))?;
    tx.commit()?;
    shared.partitions.forget(p.start);
    tracing::info!(partition = %p.table, "history-postgres: retention dropped a partition");
    Ok(())
}

/// `keep_last` policies: newest-first pages through the time index, selected by the one
/// definition, deleted by key in chunks.
fn purge_selected(shared: &Shared, policy: &Retention) -> Result<PurgeReport, PostgresError> {
    let mut selection = policy.selection();
    let mut report = PurgeReport::empty(policy.dry_run);
    let mut chosen: Vec<(Uuid, DateTime<Utc>)> = Vec::new();
    // Keeping the newest N per subject looks at every event of a subject, matching or not.
    let mut q = Query::new().limit(1_000);
    q.order = Order::NewestFirst;
    loop {
        let mut f = filter(&Filter::new());
        add_cursor(&mut f, &q);
        let sql = shared.names.sql(&format!(
            "SELECT {COLUMNS} FROM {{s}}.events WHERE {} ORDER BY {} LIMIT {}",
            f.clause(),
            order_by(q.order),
            q.limit
        ));
        let rows = shared.readers.with(&shared.connector, |c| {
            Ok(c.query(sql.as_str(), &f.params())?)
        })?;
        let mut last = None;
        for row in &rows {
            let e = read_event(row)?;
            if selection.selects(&e) {
                report.add(&e);
                chosen.push((*e.id.as_uuid(), e.started_at));
            }
            last = Some(history::Cursor::after(&e));
        }
        match last {
            Some(c) if rows.len() == q.limit => q.cursor = Some(c),
            _ => break,
        }
    }
    if policy.dry_run || chosen.is_empty() {
        return Ok(report);
    }
    let mut client = shared.connector.connect()?;
    let sql = shared.names.sql(
        "DELETE FROM {s}.events WHERE (id, started_at) IN \
         (SELECT * FROM unnest($1::uuid[], $2::timestamptz[]))",
    );
    let lock = changes_lock(shared);
    for chunk in chosen.chunks(shared.options.purge_chunk) {
        let ids: Vec<Uuid> = chunk.iter().map(|c| c.0).collect();
        let times: Vec<DateTime<Utc>> = chunk.iter().map(|c| c.1).collect();
        let mut tx = client.transaction()?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&lock])?;
        tx.execute(sql.as_str(), &[&ids, &times])?;
        tx.commit()?;
    }
    Ok(report)
}
