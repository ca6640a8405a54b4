//! Events to rows and back.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use history::{
    ErrorInfo, Event, EventId, EventStatus, EventType, Json, SubjectId, TerraformStatus, W3cSpanId,
    W3cTraceId,
};
use rusqlite::types::{ToSqlOutput, Value, ValueRef};
use rusqlite::Row;

use crate::SqliteError;

/// The columns of `events`, in the order [`read_event`] expects and [`UPSERT`] binds.
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

fn corrupt(column: &str, what: impl std::fmt::Display) -> SqliteError {
    SqliteError::Corrupt(format!("column `{column}`: {what}"))
}

fn id_at(row: &Row<'_>, idx: usize, column: &str) -> Result<Option<EventId>, SqliteError> {
    match row.get_ref(idx)? {
        ValueRef::Null => Ok(None),
        ValueRef::Blob(b) => {
            let bytes: [u8; 16] = b.try_into().map_err(|_| corrupt(column, "not 16 bytes"))?;
            Ok(Some(EventId::from_bytes(bytes)))
        }
        _ => Err(corrupt(column, "not a blob")),
    }
}

/// An external (W3C) id of `N` bytes; all zeros or another length is corruption.
fn w3c_at<const N: usize, T>(
    row: &Row<'_>,
    idx: usize,
    column: &str,
    make: fn([u8; N]) -> Option<T>,
) -> Result<Option<T>, SqliteError> {
    match row.get_ref(idx)? {
        ValueRef::Null => Ok(None),
        ValueRef::Blob(b) => {
            let bytes: [u8; N] = b
                .try_into()
                .map_err(|_| corrupt(column, format!("not {N} bytes")))?;
            make(bytes)
                .map(Some)
                .ok_or_else(|| corrupt(column, "all zeros"))
        }
        _ => Err(corrupt(column, "not a blob")),
    }
}

fn time_at(row: &Row<'_>, idx: usize, column: &str) -> Result<Option<DateTime<Utc>>, SqliteError> {
    match row.get::<_, Option<i64>>(idx)? {
        None => Ok(None),
        Some(us) => DateTime::from_timestamp_micros(us)
            .map(Some)
            .ok_or_else(|| corrupt(column, "time out of range")),
    }
}

fn subject_at(row: &Row<'_>, idx: usize, column: &str) -> Result<Option<SubjectId>, SqliteError> {
    match row.get_ref(idx)? {
        ValueRef::Null => Ok(None),
        ValueRef::Integer(i) => Ok(Some(SubjectId::Int(i))),
        ValueRef::Text(t) => Ok(Some(SubjectId::Text(
            std::str::from_utf8(t)
                .map_err(|e| corrupt(column, e))?
                .to_owned(),
        ))),
        _ => Err(corrupt(column, "neither integer nor text")),
    }
}

fn json_at(row: &Row<'_>, idx: usize, column: &str) -> Result<Option<Json>, SqliteError> {
    match row.get::<_, Option<String>>(idx)? {
        None => Ok(None),
        Some(text) => Json::parse(text).map(Some).map_err(|e| corrupt(column, e)),
    }
}

/// Reads an event from a row selected with [`COLUMNS`].
pub(crate) fn read_event(row: &Row<'_>) -> Result<Event, SqliteError> {
    let id = id_at(row, 0, "id")?.ok_or_else(|| corrupt("id", "null"))?;
    let started_at = time_at(row, 1, "started_at")?.ok_or_else(|| corrupt("started_at", "null"))?;
    let event_type: String = row.get(2)?;
    let event_type = EventType::custom(event_type).map_err(|e| corrupt("event_type", e))?;
    let status: String = row.get(3)?;
    let status: EventStatus = status.parse().map_err(|e| corrupt("status", e))?;
    let duration = match row.get::<_, Option<i64>>(5)? {
        None => None,
        Some(us) => Some(Duration::from_micros(
            u64::try_from(us).map_err(|_| corrupt("duration_us", "negative"))?,
        )),
    };
    let labels: BTreeMap<String, String> = match row.get::<_, Option<String>>(14)? {
        None => BTreeMap::new(),
        Some(text) => serde_json::from_str(&text).map_err(|e| corrupt("labels", e))?,
    };
    let error: Option<Box<ErrorInfo>> = match row.get::<_, Option<String>>(17)? {
        None => None,
        Some(text) => Some(serde_json::from_str(&text).map_err(|e| corrupt("error", e))?),
    };
    let terraform_status = match row.get::<_, Option<String>>(18)? {
        None => None,
        Some(s) => Some(
            s.parse::<TerraformStatus>()
                .map_err(|e| corrupt("terraform_status", e))?,
        ),
    };
    Ok(Event {
        id,
        event_type,
        status,
        started_at,
        finished_at: time_at(row, 4, "finished_at")?,
        duration,
        operation: row.get(6)?,
        user_id: subject_at(row, 7, "user_id")?,
        vm_id: subject_at(row, 8, "vm_id")?,
        credential_id: subject_at(row, 9, "credential_id")?,
        organization_id: subject_at(row, 10, "organization_id")?,
        labels,
        host: row.get(20)?,
        service: row.get(21)?,
        parameters: json_at(row, 15, "parameters")?.ok_or_else(|| corrupt("parameters", "null"))?,
        result: json_at(row, 16, "result")?,
        error,
        parent_id: id_at(row, 11, "parent_id")?,
        trace_id: id_at(row, 12, "trace_id")?,
        correlation_id: row.get(13)?,
        external_trace_id: w3c_at(row, 22, "external_trace_id", W3cTraceId::from_bytes)?,
        external_span_id: w3c_at(row, 23, "external_span_id", W3cSpanId::from_bytes)?,
        terraform_status,
        execution: json_at(row, 19, "execution")?,
    })
}
