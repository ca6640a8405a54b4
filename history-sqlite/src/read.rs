//! Rows back to events: each column read in place from the row (borrowed text, no
//! intermediate strings or JSON trees), copied once into the event.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use history::{
    ErrorInfo, Event, EventId, EventStatus, EventType, Json, SubjectId, TerraformStatus, W3cSpanId,
    W3cTraceId,
};
use rusqlite::types::ValueRef;
use rusqlite::Row;

use crate::SqliteError;

fn corrupt(column: &str, what: impl std::fmt::Display) -> SqliteError {
    SqliteError::Corrupt(format!("column `{column}`: {what}"))
}

/// The text of column `idx`, borrowed from the row; `None` for NULL.
fn str_at<'r>(row: &'r Row<'_>, idx: usize, column: &str) -> Result<Option<&'r str>, SqliteError> {
    match row.get_ref(idx)? {
        ValueRef::Null => Ok(None),
        ValueRef::Text(t) => std::str::from_utf8(t)
            .map(Some)
            .map_err(|e| corrupt(column, e)),
        _ => Err(corrupt(column, "not text")),
    }
}

/// Same, for a column that is never NULL.
fn required_str_at<'r>(row: &'r Row<'_>, idx: usize, column: &str) -> Result<&'r str, SqliteError> {
    str_at(row, idx, column)?.ok_or_else(|| corrupt(column, "null"))
}

fn string_at(row: &Row<'_>, idx: usize, column: &str) -> Result<Option<String>, SqliteError> {
    Ok(str_at(row, idx, column)?.map(str::to_owned))
}

fn int_at(row: &Row<'_>, idx: usize, column: &str) -> Result<Option<i64>, SqliteError> {
    match row.get_ref(idx)? {
        ValueRef::Null => Ok(None),
        ValueRef::Integer(i) => Ok(Some(i)),
        _ => Err(corrupt(column, "not an integer")),
    }
}

/// A blob of exactly `N` bytes; `None` for NULL.
fn bytes_at<const N: usize>(
    row: &Row<'_>,
    idx: usize,
    column: &str,
) -> Result<Option<[u8; N]>, SqliteError> {
    match row.get_ref(idx)? {
        ValueRef::Null => Ok(None),
        ValueRef::Blob(b) => b
            .try_into()
            .map(Some)
            .map_err(|_| corrupt(column, format!("not {N} bytes"))),
        _ => Err(corrupt(column, "not a blob")),
    }
}

fn id_at(row: &Row<'_>, idx: usize, column: &str) -> Result<Option<EventId>, SqliteError> {
    Ok(bytes_at::<16>(row, idx, column)?.map(EventId::from_bytes))
}

/// An external (W3C) id of `N` bytes; all zeros or another length is corruption.
fn w3c_at<const N: usize, T>(
    row: &Row<'_>,
    idx: usize,
    column: &str,
    make: fn([u8; N]) -> Option<T>,
) -> Result<Option<T>, SqliteError> {
    match bytes_at::<N>(row, idx, column)? {
        None => Ok(None),
        Some(bytes) => make(bytes)
            .map(Some)
            .ok_or_else(|| corrupt(column, "all zeros")),
    }
}

fn time_at(row: &Row<'_>, idx: usize, column: &str) -> Result<Option<DateTime<Utc>>, SqliteError> {
    match int_at(row, idx, column)? {
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

/// A JSON column: the stored text, checked and copied once into the [`Json`].
fn json_at(row: &Row<'_>, idx: usize, column: &str) -> Result<Option<Json>, SqliteError> {
    match str_at(row, idx, column)? {
        None => Ok(None),
        Some(text) => Json::parse_str(text)
            .map(Some)
            .map_err(|e| corrupt(column, e)),
    }
}

/// Reads an event from a row selected with [`COLUMNS`](crate::codec::COLUMNS).
pub(crate) fn read_event(row: &Row<'_>) -> Result<Event, SqliteError> {
    let id = id_at(row, 0, "id")?.ok_or_else(|| corrupt("id", "null"))?;
    let started_at = time_at(row, 1, "started_at")?.ok_or_else(|| corrupt("started_at", "null"))?;
    let event_type: EventType = required_str_at(row, 2, "event_type")?
        .parse()
        .map_err(|e| corrupt("event_type", e))?;
    let status: EventStatus = required_str_at(row, 3, "status")?
        .parse()
        .map_err(|e| corrupt("status", e))?;
    let duration = match int_at(row, 5, "duration_us")? {
        None => None,
        Some(us) => Some(Duration::from_micros(
            u64::try_from(us).map_err(|_| corrupt("duration_us", "negative"))?,
        )),
    };
    let labels: BTreeMap<String, String> = match str_at(row, 14, "labels")? {
        None => BTreeMap::new(),
        Some(text) => serde_json::from_str(text).map_err(|e| corrupt("labels", e))?,
    };
    let error: Option<Box<ErrorInfo>> = match str_at(row, 17, "error")? {
        None => None,
        Some(text) => Some(serde_json::from_str(text).map_err(|e| corrupt("error", e))?),
    };
    let terraform_status = match str_at(row, 18, "terraform_status")? {
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
        operation: required_str_at(row, 6, "operation")?.to_owned().into(),
        user_id: subject_at(row, 7, "user_id")?,
        vm_id: subject_at(row, 8, "vm_id")?,
        credential_id: subject_at(row, 9, "credential_id")?,
        organization_id: subject_at(row, 10, "organization_id")?,
        labels,
        host: string_at(row, 20, "host")?,
        service: string_at(row, 21, "service")?,
        parameters: json_at(row, 15, "parameters")?.ok_or_else(|| corrupt("parameters", "null"))?,
        result: json_at(row, 16, "result")?,
        error,
        parent_id: id_at(row, 11, "parent_id")?,
        trace_id: id_at(row, 12, "trace_id")?,
        correlation_id: string_at(row, 13, "correlation_id")?,
        external_trace_id: w3c_at(row, 22, "external_trace_id", W3cTraceId::from_bytes)?,
        external_span_id: w3c_at(row, 23, "external_span_id", W3cSpanId::from_bytes)?,
        terraform_status,
        execution: json_at(row, 19, "execution")?,
    })
}
