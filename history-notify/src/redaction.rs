//! The last look before anything leaves the process: secret-named fields and URL passwords
//! are scrubbed from what a notification carries, under the recorder's redaction rules.

use history::redact::{scrub_url_credentials, RedactionPolicy, REDACTED};
use serde_json::Value;

/// Replaces the value of every object entry whose name `policy` finds secret with
/// [`REDACTED`], and scrubs URL passwords from every string, at any depth.
pub(crate) fn redact_json(policy: &RedactionPolicy, value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (name, v) in map.iter_mut() {
                if policy.is_secret(name) {
                    *v = Value::String(REDACTED.to_owned());
                } else {
                    redact_json(policy, v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| redact_json(policy, v)),
        Value::String(s) => {
            if let std::borrow::Cow::Owned(clean) = scrub_url_credentials(s) {
                *s = clean;
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// [`redact_json`] for free text: URL passwords scrubbed.
pub(crate) fn redact_text(text: &str) -> String {
    scrub_url_credentials(text).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secret_names_and_url_passwords_are_scrubbed_at_any_depth() {
        let mut v = json!({
            "parameters": {"db": "postgres://app:hunter2@db/main", "nested": [{"apiKey": "k"}]},
            "labels": {"session_token": "abc", "region": "eu"},
            "credential_id": 3
        });
        redact_json(&RedactionPolicy::default().also("region"), &mut v);
        let text = v.to_string();
        assert!(!text.contains("hunter2") && !text.contains("\"k\"") && !text.contains("abc"));
        assert!(!text.contains("eu"), "{text}");
        assert_eq!(v["credential_id"], 3);
    }
}
