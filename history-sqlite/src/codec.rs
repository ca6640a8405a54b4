//! Events to rows (the columns, and the statements that write them); [`read`](crate::read)
//! turns rows back into events.

use std::time::Duration;

use chrono::{DateTime, Utc};
use history::{Event, Json, SubjectId};
use rusqlite::types::{ToSqlOutput, Value, ValueRef};

use crate::SqliteError;

/// The columns of `events`, in the order [`read_event`](crate::read::read_event) expects and [`UPSERT`] binds.
pub(crate) const COLUMNS: &str = "id, started_at, event_type, status, finished_at, duration_us, \
    operation, user_id, vm_id, credential_id, organization_id, parent_id, trace_id, \
    correlation_id, labels, parameters, result, error, terraform_status, execution, host, service, \
    external_trace_id, external_span_id";

/// How many columns [`COLUMNS`] names.
pub(crate) const COLUMN_COUNT: usize = 24;

macro_rules! insert_head {
    () => {
        "INSERT INTO events (id, started_at, event_type, status, \
    finished_at, duration_us, operation, user_id, vm_id, credential_id, organization_id, \
    parent_id, trace_id, correlation_id, labels, parameters, result, error, terraform_status, \
    execution, host, service, owner, change_seq, external_trace_id, external_span_id) \
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, \
    ?20, ?21, ?22, ?23, ?24, ?25, ?26)"
    };
}

/// Insert one event unless its id is stored (then nothing changes: the caller updates).
pub(crate) const INSERT_NEW: &str = concat!(insert_head!(), " ON CONFLICT (id) DO NOTHING");

/// Insert one event, or replace the stored one of its id when the new one is further along
/// ([`Event::replaces`](history::Event::replaces): the same rule, in SQL).
pub(crate) const UPSERT: &str = concat!(
    insert_head!(),
    " ON CONFLICT (id) DO UPDATE SET started_at = excluded.started_at, \
    event_type = excluded.event_type, status = excluded.status, \
    finished_at = excluded.finished_at, duration_us = excluded.duration_us, \
    operation = excluded.operation, user_id = excluded.user_id, vm_id = excluded.vm_id, \
    credential_id = excluded.credential_id, organization_id = excluded.organization_id, \
    parent_id = excluded.parent_id, trace_id = excluded.trace_id, \
    correlation_id = excluded.correlation_id, labels = excluded.labels, \
    parameters = excluded.parameters, result = excluded.result, error = excluded.error, \
    terraform_status = excluded.terraform_status, execution = excluded.execution, \
    host = excluded.host, service = excluded.service, owner = excluded.owner, \
    change_seq = excluded.change_seq, external_trace_id = excluded.external_trace_id, \
    external_span_id = excluded.external_span_id \
    WHERE (CASE excluded.status WHEN 'pending' THEN 0 WHEN 'in_progress' THEN 1 \
        WHEN 'interrupted' THEN 2 ELSE 3 END) \
      > (CASE events.status WHEN 'pending' THEN 0 WHEN 'in_progress' THEN 1 \
        WHEN 'interrupted' THEN 2 ELSE 3 END) \
    OR ((CASE excluded.status WHEN 'pending' THEN 0 WHEN 'in_progress' THEN 1 \
        WHEN 'interrupted' THEN 2 ELSE 3 END) \
      = (CASE events.status WHEN 'pending' THEN 0 WHEN 'in_progress' THEN 1 \
        WHEN 'interrupted' THEN 2 ELSE 3 END) \
      AND (excluded.status IN ('pending', 'in_progress') \
        OR coalesce(excluded.finished_at, 0) >= coalesce(events.finished_at, 0)))"
);

/// Microseconds since the Unix epoch.
pub(crate) fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

/// A duration in microseconds (saturating).
pub(crate) fn duration_micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

/// A subject id as SQL: integers stay integers, text stays text.
pub(crate) fn subject(id: &SubjectId) -> ToSqlOutput<'_> {
    match id {
        SubjectId::Int(i) => ToSqlOutput::Owned(Value::Integer(*i)),
        SubjectId::Text(t) => ToSqlOutput::Borrowed(ValueRef::Text(t.as_bytes())),
    }
}

/// Same, as an owned value.
pub(crate) fn subject_value(id: &SubjectId) -> Value {
    match id {
        SubjectId::Int(i) => Value::Integer(*i),
        SubjectId::Text(t) => Value::Text(t.clone()),
    }
}

/// Binds `event` to the parameters of [`INSERT_NEW`] or [`UPSERT`] and runs it; returns how
/// many rows changed. An unfinished event records `owner`, the store instance writing it;
/// a changed row takes `change_seq`, its number in the change feed.
pub(crate) fn write(
    stmt: &mut rusqlite::CachedStatement<'_>,
    e: &Event,
    owner: &[u8; 16],
    change_seq: i64,
) -> Result<usize, SqliteError> {
    let labels = if e.labels.is_empty() {
        None
    } else {
        Some(
            serde_json::to_string(&e.labels)
                .map_err(|err| SqliteError::Corrupt(err.to_string()))?,
        )
    };
    let error = match &e.error {
        None => None,
        Some(info) => {
            Some(serde_json::to_string(info).map_err(|err| SqliteError::Corrupt(err.to_string()))?)
        }
    };
    let n = stmt.execute(rusqlite::params![
        &e.id.as_bytes()[..],
        micros(e.started_at),
        e.event_type.as_str(),
        e.status.as_str(),
        e.finished_at.map(micros),
        e.duration.map(duration_micros),
        e.operation,
        e.user_id.as_ref().map(subject),
        e.vm_id.as_ref().map(subject),
        e.credential_id.as_ref().map(subject),
        e.organization_id.as_ref().map(subject),
        e.parent_id.as_ref().map(|id| &id.as_bytes()[..]),
        e.trace_id.as_ref().map(|id| &id.as_bytes()[..]),
        e.correlation_id,
        labels,
        e.parameters.as_str(),
        e.result.as_ref().map(Json::as_str),
        error,
        e.terraform_status.map(|s| s.as_str()),
        e.execution.as_ref().map(Json::as_str),
        e.host,
        e.service,
        (!e.status.is_terminal()).then_some(&owner[..]),
        change_seq,
        e.external_trace_id.as_ref().map(|id| &id.as_bytes()[..]),
        e.external_span_id.as_ref().map(|id| &id.as_bytes()[..]),
    ])?;
    Ok(n)
}
