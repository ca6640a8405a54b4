//! What is shown is redacted again: the recorder redacts what it captures, but an event
//! written by hand or by another tool may carry a secret under a secret-looking name or a
//! password in a URL. Every event passes through [`redact`] before it is printed.

use history::redact::{is_secret_name, scrub_url_credentials, REDACTED};
use history::{ErrorInfo, Event, Json};
use serde_json::Value;

/// `event` with secret-named labels and JSON keys (at any depth) replaced by `[redacted]`
/// and URL passwords scrubbed from every string.
pub(crate) fn redact(event: &Event) -> Event {
    let mut e = event.clone();
    for (name, value) in e.labels.iter_mut() {
        if is_secret_name(name) {
            *value = REDACTED.to_owned();
        } else {
            *value = scrub_url_credentials(value).into_owned();
        }
    }
    e.parameters = redact_json(&e.parameters);
    e.result = e.result.as_ref().map(redact_json);
    e.execution = e.execution.as_ref().map(redact_json);
    if let Some(error) = e.error.as_mut() {
        redact_error(error);
    }
    e.correlation_id = e
        .correlation_id
        .map(|c| scrub_url_credentials(&c).into_owned());
    e
}

fn redact_error(error: &mut ErrorInfo) {
    let scrub = |s: &mut String| *s = scrub_url_credentials(s).into_owned();
    scrub(&mut error.message);
    error.sources.iter_mut().for_each(scrub);
    if let Some(d) = error.debug.as_mut() {
        scrub(d);
    }
    if let Some(b) = error.backtrace.as_mut() {
        scrub(b);
    }
}

fn redact_json(json: &Json) -> Json {
    let mut value = json.to_value();
    if redact_value(&mut value) {
        Json::from(value)
    } else {
        json.clone()
    }
}

/// Redacts `value` in place; whether anything changed.
fn redact_value(value: &mut Value) -> bool {
    match value {
        Value::Object(map) => {
            let mut changed = false;
            for (k, v) in map.iter_mut() {
                if is_secret_name(k) && !is_redacted(v) {
                    *v = Value::String(REDACTED.to_owned());
                    changed = true;
                } else {
                    changed |= redact_value(v);
                }
            }
            changed
        }
        Value::Array(items) => {
            let mut changed = false;
            for v in items.iter_mut() {
                changed |= redact_value(v);
            }
            changed
        }
        Value::String(s) => match scrub_url_credentials(s) {
            std::borrow::Cow::Owned(scrubbed) => {
                *s = scrubbed;
                true
            }
            std::borrow::Cow::Borrowed(_) => false,
        },
        _ => false,
    }
}

/// A value that is already the marker (or empty) needs no change.
fn is_redacted(v: &Value) -> bool {
    matches!(v, Value::String(s) if s == REDACTED) || v.is_null()
}

#[cfg(test)]
mod tests {
    use super::*;
    use history::EventType;

    #[test]
    fn secrets_that_bypassed_the_recorder_are_not_shown() {
        let e = Event::builder(EventType::VmCreate, "vm::create")
            .label("api_token", "tok-123")
            .label("db", "postgres://app:pw1@db/main")
            .parameters(&serde_json::json!({
                "spec": {"name": "web", "admin_password": "hunter2"},
                "tags": ["https://u:pw2@example.com/x"],
            }))
            .unwrap()
            .build()
            .unwrap();
        let shown = serde_json::to_string(&redact(&e)).unwrap();
        for secret in ["tok-123", "pw1", "hunter2", "pw2"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        assert!(shown.contains("\"name\":\"web\""));
    }
}
