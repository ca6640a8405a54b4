//! One event as one OTLP log record: the event name, the severity, the body and the
//! attributes (see the table in the crate documentation).

use chrono::{DateTime, Utc};
use history::{Event, EventStatus, SubjectId};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, ArrayValue, KeyValue};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, SeverityNumber};

/// The severity of a final record: failed → `ERROR`, cancelled or interrupted → `WARN`,
/// success (and anything else) → `INFO`.
pub(crate) fn severity(status: EventStatus) -> (SeverityNumber, &'static str) {
    match status {
        EventStatus::Failed => (SeverityNumber::Error, "ERROR"),
        EventStatus::Cancelled | EventStatus::Interrupted => (SeverityNumber::Warn, "WARN"),
        _ => (SeverityNumber::Info, "INFO"),
    }
}

/// Nanoseconds since the Unix epoch (0 for a time before it, which OTLP reads as unknown).
pub(crate) fn unix_nanos(at: DateTime<Utc>) -> u64 {
    u64::try_from(at.timestamp_micros())
        .unwrap_or(0)
        .saturating_mul(1_000)
}

/// The log record of `event` (already redacted), observed at `observed_nanos`.
pub(crate) fn log_record(event: &Event, observed_nanos: u64) -> LogRecord {
    let (severity, severity_text) = severity(event.status);
    let (trace_id, span_id) = w3c_ids(event);
    LogRecord {
        time_unix_nano: unix_nanos(event.finished_at.unwrap_or(event.started_at)),
        observed_time_unix_nano: observed_nanos,
        severity_number: severity as i32,
        severity_text: severity_text.to_owned(),
        body: Some(string(body(event))),
        attributes: attributes(event),
        dropped_attributes_count: 0,
        flags: 0,
        trace_id,
        span_id,
        event_name: event.event_type.as_str().to_owned(),
    }
}

/// The trace and span the operation ran in (its external W3C ids), empty when unknown.
fn w3c_ids(event: &Event) -> (Vec<u8>, Vec<u8>) {
    match event.external_trace_id {
        Some(trace) => (
            trace.as_bytes().to_vec(),
            event
                .external_span_id
                .map(|span| span.as_bytes().to_vec())
                .unwrap_or_default(),
        ),
        // A span id alone names no span a receiver can find.
        None => (Vec::new(), Vec::new()),
    }
}

/// `vm::create success`, `vm::create failed: disk full`.
fn body(event: &Event) -> String {
    let mut text = format!("{} {}", event.operation, event.status.as_str());
    if let Some(error) = &event.error {
        text.push_str(": ");
        text.push_str(&error.message);
    }
    text
}

fn attributes(event: &Event) -> Vec<KeyValue> {
    let mut out = Vec::with_capacity(8 + event.labels.len());
    out.push(kv("history.event_id", string(event.id.to_string())));
    out.push(kv("history.operation", string(event.operation.to_string())));
    out.push(kv(
        "history.status",
        string(event.status.as_str().to_owned()),
    ));
    if let Some(d) = event.duration {
        out.push(kv(
            "history.duration_seconds",
            any(Value::DoubleValue(d.as_secs_f64())),
        ));
    }
    out.push(kv(
        "history.started_at",
        any(Value::IntValue(
            i64::try_from(unix_nanos(event.started_at)).unwrap_or(i64::MAX),
        )),
    ));
    let subjects = [
        ("history.user_id", &event.user_id),
        ("history.vm_id", &event.vm_id),
        ("history.credential_id", &event.credential_id),
        ("history.organization_id", &event.organization_id),
    ];
    for (key, id) in subjects {
        if let Some(id) = id {
            out.push(kv(key, subject(id)));
        }
    }
    for (key, value) in &event.labels {
        out.push(kv_owned(
            format!("history.labels.{key}"),
            string(value.clone()),
        ));
    }
    if !event.parameters.is_empty() && event.parameters.as_str() != "{}" {
        out.push(kv(
            "history.parameters",
            string(event.parameters.as_str().to_owned()),
        ));
    }
    if let Some(result) = &event.result {
        out.push(kv("history.result", string(result.as_str().to_owned())));
    }
    if let Some(execution) = &event.execution {
        out.push(kv(
            "history.execution",
            string(execution.as_str().to_owned()),
        ));
    }
    if let Some(error) = &event.error {
        out.push(kv("exception.message", string(error.message.clone())));
        if let Some(kind) = &error.kind {
            out.push(kv("error.type", string(kind.clone())));
        }
        if !error.sources.is_empty() {
            let values = error.sources.iter().cloned().map(string).collect();
            out.push(kv(
                "history.error.sources",
                any(Value::ArrayValue(ArrayValue { values })),
            ));
        }
        if let Some(debug) = &error.debug {
            out.push(kv("history.error.debug", string(debug.clone())));
        }
        if let Some(backtrace) = &error.backtrace {
            out.push(kv("exception.stacktrace", string(backtrace.clone())));
        }
    }
    if let Some(id) = event.parent_id {
        out.push(kv("history.parent_id", string(id.to_string())));
    }
    if let Some(id) = event.trace_id {
        out.push(kv("history.trace_id", string(id.to_string())));
    }
    if let Some(id) = &event.correlation_id {
        out.push(kv("history.correlation_id", string(id.clone())));
    }
    if let Some(status) = event.terraform_status {
        out.push(kv(
            "history.terraform_status",
            string(status.as_str().to_owned()),
        ));
    }
    out
}

fn subject(id: &SubjectId) -> AnyValue {
    match (id.as_int(), id.as_text()) {
        (Some(n), _) => any(Value::IntValue(n)),
        (None, Some(text)) => string(text.to_owned()),
        (None, None) => string(String::new()),
    }
}

pub(crate) fn kv(key: &str, value: AnyValue) -> KeyValue {
    kv_owned(key.to_owned(), value)
}

pub(crate) fn kv_owned(key: String, value: AnyValue) -> KeyValue {
    KeyValue {
        key,
        value: Some(value),
        ..KeyValue::default()
    }
}

pub(crate) fn string(text: String) -> AnyValue {
    any(Value::StringValue(text))
}

fn any(value: Value) -> AnyValue {
    AnyValue { value: Some(value) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use history::EventType;

    #[test]
    fn severity_follows_the_status() {
        assert_eq!(severity(EventStatus::Failed).0, SeverityNumber::Error);
        assert_eq!(severity(EventStatus::Cancelled).0, SeverityNumber::Warn);
        assert_eq!(severity(EventStatus::Interrupted).1, "WARN");
        assert_eq!(severity(EventStatus::Success).1, "INFO");
    }

    #[test]
    fn a_time_before_the_epoch_is_unknown_not_a_wrap() {
        let before = DateTime::<Utc>::from_timestamp(-5, 0).expect("a time");
        assert_eq!(unix_nanos(before), 0);
    }

    #[test]
    fn the_body_says_what_failed() {
        let mut e = Event::new(EventType::VmCreate, "vm::create");
        e.finish(EventStatus::Failed);
        e.error = Some(Box::new(history::ErrorInfo::new("disk full")));
        assert_eq!(body(&e), "vm::create failed: disk full");
    }
}
