//! Terraform variables as recorded by `#[track_terraform(variables = ...)]`: sensitive values
//! replaced by `"[redacted]"` before anything is kept.

use std::fmt::Display;

use serde::Serialize;
use serde_json::Value;

use crate::{Event, EventType};

/// The label an unknown run-time command is explained under.
pub const UNKNOWN_COMMAND_LABEL: &str = "terraform_command_error";

/// A Terraform command given at run time (`#[track_terraform(command = <expr>)]`): anything
/// that displays as `init`, `plan`, `apply` or `destroy` (a `&str`, a `String`,
/// `history_exec::TerraformCommand`, an enum of the user's own).
#[derive(Debug)]
pub struct Command {
    name: String,
    event_type: Option<EventType>,
}

impl Command {
    /// Reads the command from its displayed form.
    pub fn of<T: Display + ?Sized>(value: &T) -> Command {
        let name = value.to_string();
        let event_type = match name.as_str() {
            "init" => Some(EventType::TerraformInit),
            "plan" => Some(EventType::TerraformPlan),
            "apply" => Some(EventType::TerraformApply),
            "destroy" => Some(EventType::TerraformDestroy),
            _ => None,
        };
        Command { name, event_type }
    }

    /// The event type of the run: `terraform_<command>`, or the custom type `terraform` for
    /// an unknown command.
    pub fn event_type(&self) -> EventType {
        self.event_type
            .clone()
            .unwrap_or_else(|| EventType::Custom("terraform".to_owned()))
    }

    /// The command as given.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// For an unknown command: says so in the event (label [`UNKNOWN_COMMAND_LABEL`]) and in
    /// the log. The call itself runs as written.
    pub fn note_unknown(&self, event: &mut Event) {
        if self.event_type.is_some() {
            return;
        }
        let mut name = self.name.clone();
        crate::event::limits::truncate(&mut name, 64);
        let message =
            format!("unknown Terraform command {name:?}; expected init, plan, apply or destroy");
        tracing::warn!("history: `{}`: {message}", event.operation);
        event
            .labels
            .insert(UNKNOWN_COMMAND_LABEL.to_owned(), message);
    }
}
use super::sink::{Sink, REDACTED};
use crate::redact::RedactionPolicy;

/// Whether a name looks like it holds a secret: [`crate::redact::is_secret_name`]. Kept
/// here for the macro crate's test that pins its compile-time copy of the rule.
pub fn is_secret_name(name: &str) -> bool {
    crate::redact::is_secret_name(name)
}

/// Writes `variables` as JSON with every sensitive value redacted: values under keys that
/// look secret ([`is_secret_name`]) or are listed in `sensitive`, in objects and in
/// `[name, value]` pairs, and the `value` of any object marked `"sensitive": true`.
pub fn write_variables<T: Serialize + ?Sized>(
    out: &mut Sink<'_>,
    variables: &T,
    sensitive: &[&str],
) {
    let mut value = match serde_json::to_value(variables) {
        Ok(v) => v,
        Err(e) => {
            out.write_str(&format!("<unserializable variables: {e}>"));
            return;
        }
    };
    redact(&mut value, out.policy(), sensitive);
    out.write_value(&value);
}

fn redact(value: &mut Value, policy: &RedactionPolicy, sensitive: &[&str]) {
    let secret = |k: &str| policy.is_secret(k) || sensitive.contains(&k);
    match value {
        Value::Object(map) => {
            if map.get("sensitive") == Some(&Value::Bool(true)) {
                if let Some(v) = map.get_mut("value") {
                    *v = Value::from(REDACTED);
                }
            }
            let named_secret = map.get("name").and_then(Value::as_str).is_some_and(secret);
            for (k, v) in map.iter_mut() {
                if secret(k) || (named_secret && k == "value") {
                    *v = Value::from(REDACTED);
                } else {
                    redact(v, policy, sensitive);
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                match item {
                    Value::Array(pair)
                        if pair.len() == 2 && pair[0].as_str().is_some_and(secret) =>
                    {
                        pair[1] = Value::from(REDACTED);
                    }
                    other => redact(other, policy, sensitive),
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secret_names() {
        for n in [
            "password",
            "db_password",
            "API_TOKEN",
            "apiKey",
            "ssh-private-key",
            "credentials",
        ] {
            assert!(is_secret_name(n), "{n}");
        }
        for n in ["credential_id", "aws_credential_id", "region", "name"] {
            assert!(!is_secret_name(n), "{n}");
        }
    }

    #[test]
    fn variables_are_redacted() {
        let vars = json!({
            "region": "eu-west-1",
            "db_password": "hunter2",
            "custom": "s3cr3t",
            "list": [["api_token", "abc"], ["size", "2"]],
            "declared": [{"name": "x", "value": "v1", "sensitive": true}, {"name": "secret_key", "value": "v2"}]
        });
        let settings = crate::redact::Capturing::default();
        let text = crate::__private::sink::capture_with(&settings, |out| {
            write_variables(out, &vars, &["custom"])
        })
        .as_str()
        .to_owned();
        for secret in ["hunter2", "s3cr3t", "abc", "v1", "v2"] {
            assert!(!text.contains(secret), "{secret} leaked: {text}");
        }
        assert!(
            text.contains("eu-west-1") && text.contains("\"size\""),
            "{text}"
        );
    }
}
