//! Events to rows and back: the staging table's `COPY` rows, and rows read from `events`.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use history::{
    ErrorInfo, Event, EventId, EventStatus, EventType, Json, SubjectId, TerraformStatus, W3cSpanId,
    W3cTraceId,
};
use postgres::binary_copy::BinaryCopyInWriter;
use postgres::types::{to_sql_checked, IsNull, ToSql, Type};
use postgres::Row;
use uuid::Uuid;

use crate::PostgresError;

/// The columns of `events` read back, in the order [`read_event`] expects.
pub(crate) const COLUMNS: &str = "id, started_at, event_type, status, finished_at, duration_us, \
    operation, user_id, vm_id, credential_id, organization_id, parent_id, trace_id, \
    correlation_id, host, service, labels, parameters, result, error, terraform_status, \
    execution, external_trace_id, external_span_id";

/// How many columns [`COLUMNS`] names.
pub(crate) const COLUMN_COUNT: usize = 24;

/// The staging table, one per writer session: batches are copied into it, then upserted into
/// `events` in one statement. JSON stays text here; the upsert casts it.
pub(crate) const CREATE_STAGING: &str = "CREATE TEMP TABLE IF NOT EXISTS history_staging (
    ord bigint, id uuid, started_at timestamptz, event_type text, status text,
    finished_at timestamptz, duration_us bigint, operation text, user_id text, vm_id text,
    credential_id text, organization_id text, parent_id uuid, trace_id uuid,
    correlation_id text, host text, service text, labels text, parameters text, result text,
    error text, terraform_status text, execution text, writer uuid, external_trace_id bytea,
    external_span_id bytea
) ON COMMIT DELETE ROWS";

/// `COPY` into the staging table, binary.
pub(crate) const COPY_STAGING: &str = "COPY pg_temp.history_staging FROM STDIN (FORMAT binary)";

/// The staging table's column types, in order.
pub(crate) const STAGING_TYPES: &[Type] = &[
    Type::INT8,
    Type::UUID,
    Type::TIMESTAMPTZ,
    Type::TEXT,
    Type::TEXT,
    Type::TIMESTAMPTZ,
    Type::INT8,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::UUID,
    Type::UUID,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::UUID,
    Type::BYTEA,
    Type::BYTEA,
];

/// A duration in microseconds (saturating).
pub(crate) fn duration_micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

/// A subject id as JSON text: integers stay numbers, text stays a string.
pub(crate) fn subject_json(id: &SubjectId) -> serde_json::Value {
    match id {
        SubjectId::Int(i) => serde_json::Value::from(*i),
        SubjectId::Text(t) => serde_json::Value::from(t.as_str()),
    }
}

fn to_text<T: serde::Serialize + ?Sized>(v: &T, what: &str) -> Result<String, PostgresError> {
    serde_json::to_string(v).map_err(|e| PostgresError::Corrupt(format!("{what}: {e}")))
}

/// The columns of `events` a direct `COPY` fills, in the order of [`EVENT_TYPES`].
const EVENT_COLUMNS: &str = "id, started_at, event_type, status, finished_at, duration_us, \
    operation, user_id, vm_id, credential_id, organization_id, parent_id, trace_id, \
    correlation_id, host, service, labels, parameters, result, error, terraform_status, \
    execution, writer, change_seq, external_trace_id, external_span_id";

/// `COPY` straight into `events` (`{s}` stands for the schema), binary.
pub(crate) fn copy_events_sql() -> String {
    format!("COPY {{s}}.events ({EVENT_COLUMNS}) FROM STDIN (FORMAT binary)")
}

/// The column types of a direct `COPY` into `events`, in order.
pub(crate) const EVENT_TYPES: &[Type] = &[
    Type::UUID,
    Type::TIMESTAMPTZ,
    Type::TEXT,
    Type::TEXT,
    Type::TIMESTAMPTZ,
    Type::INT8,
    Type::TEXT,
    Type::JSONB,
    Type::JSONB,
    Type::JSONB,
    Type::JSONB,
    Type::UUID,
    Type::UUID,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::JSONB,
    Type::JSONB,
    Type::JSONB,
    Type::JSONB,
    Type::TEXT,
    Type::JSONB,
    Type::UUID,
    Type::INT8,
    Type::BYTEA,
    Type::BYTEA,
];

/// JSON text sent as `jsonb` (binary format: a version byte, then the text) or `json`; the
/// server parses it, exactly as a cast from text would.
#[derive(Debug)]
struct JsonText<'a>(&'a str);

impl ToSql for JsonText<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        if *ty == Type::JSONB {
            out.extend_from_slice(&[1]);
        }
        out.extend_from_slice(self.0.as_bytes());
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::JSONB || *ty == Type::JSON
    }

    to_sql_checked!();
}

/// The values of one event's row, as sent (JSON as text).
struct RowValues<'e> {
    e: &'e Event,
    subjects: [Option<String>; 4],
    labels: Option<String>,
    error: Option<String>,
    writer: Option<&'e Uuid>,
    external_trace: Option<&'e [u8]>,
    external_span: Option<&'e [u8]>,
}

impl<'e> RowValues<'e> {
    /// `writer` is this store's id, kept for unfinished events only.
    fn new(e: &'e Event, writer: &'e Uuid) -> Result<RowValues<'e>, PostgresError> {
        let subject = |s: &Option<SubjectId>| s.as_ref().map(|s| subject_json(s).to_string());
        Ok(RowValues {
            e,
            subjects: [
                subject(&e.user_id),
                subject(&e.vm_id),
                subject(&e.credential_id),
                subject(&e.organization_id),
            ],
            labels: if e.labels.is_empty() {
                None
            } else {
                Some(to_text(&e.labels, "labels")?)
            },
            error: match &e.error {
                Some(info) => Some(to_text(info, "error")?),
                None => None,
            },
            writer: (!e.status.is_terminal()).then_some(writer),
            external_trace: e.external_trace_id.as_ref().map(|id| &id.as_bytes()[..]),
            external_span: e.external_span_id.as_ref().map(|id| &id.as_bytes()[..]),
        })
    }
}

/// Writes one staging row for `e`; `ord` orders the records of one id, `writer` is this
/// store's id (kept for unfinished events only).
pub(crate) fn copy_row(
    out: &mut BinaryCopyInWriter<'_>,
    ord: i64,
    e: &Event,
    writer: &Uuid,
) -> Result<(), PostgresError> {
    let v = RowValues::new(e, writer)?;
    let operation: &str = &e.operation;
    let [user, vm, credential, organization] = &v.subjects;
    let row: [&(dyn ToSql + Sync); 26] = [
        &ord,
        e.id.as_uuid(),
        &e.started_at,
        &e.event_type.as_str(),
        &e.status.as_str(),
        &e.finished_at,
        &e.duration.map(duration_micros),
        &operation,
        user,
        vm,
        credential,
        organization,
        &e.parent_id.as_ref().map(EventId::as_uuid),
        &e.trace_id.as_ref().map(EventId::as_uuid),
        &e.correlation_id,
        &e.host,
        &e.service,
        &v.labels,
        &e.parameters.as_str(),
        &e.result.as_ref().map(Json::as_str),
        &v.error,
        &e.terraform_status.map(|s| s.as_str()),
        &e.execution.as_ref().map(Json::as_str),
        &v.writer,
        &v.external_trace,
        &v.external_span,
    ];
    out.write(&row)?;
    Ok(())
}

/// Writes one row of a direct `COPY` into `events` for `e`, numbered `change_seq` in the
/// change feed.
pub(crate) fn copy_event_row(
    out: &mut BinaryCopyInWriter<'_>,
    change_seq: i64,
    e: &Event,
    writer: &Uuid,
) -> Result<(), PostgresError> {
    let v = RowValues::new(e, writer)?;
    let e = v.e;
    let [user, vm, credential, organization] = &v.subjects;
    let row: [&(dyn ToSql + Sync); 26] = [
        e.id.as_uuid(),
        &e.started_at,
        &e.event_type.as_str(),
        &e.status.as_str(),
        &e.finished_at,
        &e.duration.map(duration_micros),
        &&*e.operation,
        &json(user),
        &json(vm),
        &json(credential),
        &json(organization),
        &e.parent_id.as_ref().map(EventId::as_uuid),
        &e.trace_id.as_ref().map(EventId::as_uuid),
        &e.correlation_id,
        &e.host,
        &e.service,
        &json(&v.labels),
        &JsonText(e.parameters.as_str()),
        &e.result.as_ref().map(|j| JsonText(j.as_str())),
        &json(&v.error),
        &e.terraform_status.map(|s| s.as_str()),
        &e.execution.as_ref().map(|j| JsonText(j.as_str())),
        &v.writer,
        &change_seq,
        &v.external_trace,
        &v.external_span,
    ];
    out.write(&row)?;
    Ok(())
}

/// Optional JSON text as `jsonb`.
fn json(s: &Option<String>) -> Option<JsonText<'_>> {
    s.as_deref().map(JsonText)
}

fn corrupt(column: &str, what: impl std::fmt::Display) -> PostgresError {
    PostgresError::Corrupt(format!("column `{column}`: {what}"))
}

fn subject_at(row: &Row, idx: usize, column: &str) -> Result<Option<SubjectId>, PostgresError> {
    match row.try_get::<_, Option<serde_json::Value>>(idx)? {
        None => Ok(None),
        Some(v) => subject_of(v).map(Some).map_err(|e| corrupt(column, e)),
    }
}

/// A subject id from its JSON form.
pub(crate) fn subject_of(v: serde_json::Value) -> Result<SubjectId, String> {
    match v {
        serde_json::Value::Number(n) => n
            .as_i64()
            .map(SubjectId::Int)
            .ok_or_else(|| format!("not an integer: {n}")),
        serde_json::Value::String(s) => Ok(SubjectId::Text(s)),
        other => Err(format!("neither integer nor text: {other}")),
    }
}

fn json_at(row: &Row, idx: usize) -> Result<Option<Json>, PostgresError> {
    Ok(row
        .try_get::<_, Option<serde_json::Value>>(idx)?
        .map(Json::from))
}

fn id_at(row: &Row, idx: usize) -> Result<Option<EventId>, PostgresError> {
    Ok(row.try_get::<_, Option<Uuid>>(idx)?.map(EventId::from_uuid))
}

/// An external (W3C) id of `N` bytes; all zeros or another length is corruption.
fn w3c_at<const N: usize, T>(
    row: &Row,
    idx: usize,
    column: &str,
    make: fn([u8; N]) -> Option<T>,
) -> Result<Option<T>, PostgresError> {
    match row.try_get::<_, Option<&[u8]>>(idx)? {
        None => Ok(None),
        Some(b) => {
            let bytes: [u8; N] = b
                .try_into()
                .map_err(|_| corrupt(column, format!("not {N} bytes")))?;
            make(bytes)
                .map(Some)
                .ok_or_else(|| corrupt(column, "all zeros"))
        }
    }
}

/// Reads an event from a row selected with [`COLUMNS`] (from column `at` on).
pub(crate) fn read_event(row: &Row) -> Result<Event, PostgresError> {
    let id: Uuid = row.try_get(0)?;
    let event_type: String = row.try_get(2)?;
    let event_type = EventType::custom(event_type).map_err(|e| corrupt("event_type", e))?;
    let status: String = row.try_get(3)?;
    let status: EventStatus = status.parse().map_err(|e| corrupt("status", e))?;
    let duration = match row.try_get::<_, Option<i64>>(5)? {
        None => None,
        Some(us) => Some(Duration::from_micros(
            u64::try_from(us).map_err(|_| corrupt("duration_us", "negative"))?,
        )),
    };
    let labels: BTreeMap<String, String> = match row.try_get::<_, Option<serde_json::Value>>(16)? {
        None => BTreeMap::new(),
        Some(v) => serde_json::from_value(v).map_err(|e| corrupt("labels", e))?,
    };
    let error: Option<Box<ErrorInfo>> = match row.try_get::<_, Option<serde_json::Value>>(19)? {
        None => None,
        Some(v) => Some(serde_json::from_value(v).map_err(|e| corrupt("error", e))?),
    };
    let terraform_status = match row.try_get::<_, Option<String>>(20)? {
        None => None,
        Some(s) => Some(
            s.parse::<TerraformStatus>()
                .map_err(|e| corrupt("terraform_status", e))?,
        ),
    };
    let operation: String = row.try_get(6)?;
    let started_at: DateTime<Utc> = row.try_get(1)?;
    Ok(Event {
        id: EventId::from_uuid(id),
        event_type,
        status,
        started_at,
        finished_at: row.try_get(4)?,
        duration,
        operation: operation.into(),
        user_id: subject_at(row, 7, "user_id")?,
        vm_id: subject_at(row, 8, "vm_id")?,
        credential_id: subject_at(row, 9, "credential_id")?,
        organization_id: subject_at(row, 10, "organization_id")?,
        labels,
        host: row.try_get(14)?,
        service: row.try_get(15)?,
        parameters: json_at(row, 17)?.ok_or_else(|| corrupt("parameters", "null"))?,
        result: json_at(row, 18)?,
        error,
        parent_id: id_at(row, 11)?,
        trace_id: id_at(row, 12)?,
        correlation_id: row.try_get(13)?,
        external_trace_id: w3c_at(row, 22, "external_trace_id", W3cTraceId::from_bytes)?,
        external_span_id: w3c_at(row, 23, "external_span_id", W3cSpanId::from_bytes)?,
        terraform_status,
        execution: json_at(row, 21)?,
    })
}
