//! A span's fields read into what an event holds: the marker (its event type), the subject and
//! correlation ids, an `error`, and everything else as parameters.

use std::fmt;

use history::{ErrorInfo, Event, Json, SubjectId};
use serde_json::{Map, Value};
use tracing_core::field::{Field, Visit};

/// The field that makes a span an event: its value is the event type.
pub const EVENT_TYPE_FIELD: &str = "history.event_type";

/// The field the span of a tracked call carries (the `tracing-spans` feature of `history`):
/// such a span already is an event, and is not recorded twice.
pub const EVENT_ID_FIELD: &str = "history.event_id";

/// What one visit of a span's (or an event's) fields found.
#[derive(Debug, Default)]
pub(crate) struct Fields {
    /// The marker's value.
    pub(crate) event_type: Option<String>,
    /// The `error` field: what went wrong.
    pub(crate) error: Option<ErrorInfo>,
    /// The `message` field (of a log event).
    pub(crate) message: Option<String>,
    user_id: Option<SubjectId>,
    vm_id: Option<SubjectId>,
    credential_id: Option<SubjectId>,
    organization_id: Option<SubjectId>,
    correlation_id: Option<String>,
    /// Every other field, by name.
    parameters: Map<String, Value>,
}

/// A field's value, as the visitor was given it.
enum Given<'a> {
    Int(i64),
    Uint(u64),
    Float(f64),
    Bool(bool),
    Text(&'a str),
    Error(&'a (dyn std::error::Error + 'static)),
}

impl Fields {
    fn put(&mut self, field: &Field, value: Given<'_>) {
        let name = field.name();
        match name {
            EVENT_TYPE_FIELD => self.event_type = Some(text(value)),
            "message" => self.message = Some(text(value)),
            "error" => {
                self.error = match value {
                    Given::Bool(false) => None,
                    Given::Bool(true) => Some(ErrorInfo::new("error")),
                    Given::Error(e) => Some(ErrorInfo::from_error(e)),
                    other => Some(ErrorInfo::new(text(other))),
                }
            }
            "user_id" => self.user_id = Some(subject(value)),
            "vm_id" => self.vm_id = Some(subject(value)),
            "credential_id" => self.credential_id = Some(subject(value)),
            "organization_id" => self.organization_id = Some(subject(value)),
            "correlation_id" => self.correlation_id = Some(text(value)),
            // Instructions to other layers (`otel.name`, `otel.kind`) and the history's own.
            _ if name.starts_with("otel.") || name.starts_with("history.") => {}
            _ => {
                let value = match value {
                    Given::Int(i) => Value::from(i),
                    Given::Uint(u) => Value::from(u),
                    Given::Float(f) => Value::from(f),
                    Given::Bool(b) => Value::from(b),
                    Given::Text(t) => Value::from(t),
                    Given::Error(e) => Value::from(e.to_string()),
                };
                self.parameters.insert(name.to_owned(), value);
            }
        }
    }

    /// Sets what was found on `event`: ids, parameters (added to those it has) and the error.
    pub(crate) fn apply(self, event: &mut Event) {
        for (field, found) in [
            (&mut event.user_id, self.user_id),
            (&mut event.vm_id, self.vm_id),
            (&mut event.credential_id, self.credential_id),
            (&mut event.organization_id, self.organization_id),
        ] {
            if found.is_some() {
                *field = found;
            }
        }
        if self.correlation_id.is_some() {
            event.correlation_id = self.correlation_id;
        }
        if !self.parameters.is_empty() {
            let mut params = match event.parameters.to_value() {
                Value::Object(map) => map,
                _ => Map::new(),
            };
            params.extend(self.parameters);
            event.parameters = Json::from(Value::Object(params));
        }
        if self.error.is_some() {
            event.error = self.error.map(Box::new);
        }
    }
}

fn text(value: Given<'_>) -> String {
    match value {
        Given::Int(i) => i.to_string(),
        Given::Uint(u) => u.to_string(),
        Given::Float(f) => f.to_string(),
        Given::Bool(b) => b.to_string(),
        Given::Text(t) => t.to_owned(),
        Given::Error(e) => e.to_string(),
    }
}

fn subject(value: Given<'_>) -> SubjectId {
    match value {
        Given::Int(i) => SubjectId::Int(i),
        Given::Uint(u) => SubjectId::from(u),
        other => SubjectId::Text(text(other)),
    }
}

impl Visit for Fields {
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, Given::Int(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, Given::Uint(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, Given::Float(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, Given::Bool(value));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, Given::Text(value));
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.put(field, Given::Error(value));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        // `%value` fields arrive here, formatted with `Display`.
        self.put(field, Given::Text(&format!("{value:?}")));
    }
}
