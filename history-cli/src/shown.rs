//! What is shown is redacted again: the recorder redacts what it captures, but an event
//! written by hand or by another tool may carry a secret under a secret-looking name or a
//! password in a URL. Every event passes through [`redact`] before it is printed.

use history::redact::RedactionPolicy;
use history::Event;

/// `event` redacted under the default policy ([`RedactionPolicy::redact_event`]):
/// secret-named labels and JSON members (at any depth) replaced by `[redacted]`, URL
/// passwords scrubbed from every string.
pub(crate) fn redact(event: &Event) -> Event {
    let mut e = event.clone();
    RedactionPolicy::default().redact_event(&mut e);
    e
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
