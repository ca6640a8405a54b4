//! The upsert of everything staged in the writer's staging table: one statement that keeps
//! one record per id by the rule of [`Event::replaces`](history::Event::replaces), in SQL,
//! and numbers each row it changes in the change feed.

use crate::names::Names;

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

/// The writer session's memory for sorts and the rollup triggers' transition tables.
pub(crate) const WRITER_WORK_MEM: &str = "SET work_mem = '64MB'";

/// The upsert of everything staged. `dedup`: the staged rows may hold several records of one
/// id, so the winner of each is picked first (a sort); without, the rows are taken as they
/// are (the ids are known to be unique).
pub(crate) fn upsert_sql(names: &Names, dedup: bool) -> String {
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
