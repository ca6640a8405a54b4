//! Redacting what was already recorded: an event read back from a store, or a JSON value,
//! before it is shown, served or sent. The same rules a tracked call applies while
//! capturing; for events written by hand, by another tool or by an older version.

use std::borrow::Cow;

use serde_json::Value;

use super::serializer::{self, State};
use super::{redact_debug, scrub_string, scrub_url_credentials, RedactionPolicy, REDACTED};
use crate::{Event, Json};

impl RedactionPolicy {
    /// Redacts `event` in place: in the parameters, result and execution details every
    /// member with a secret name (at any depth) becomes `"[redacted]"` and URL passwords are
    /// scrubbed from every string; secret-named labels are redacted and the other labels,
    /// the correlation id and the error texts (message, sources, `Debug` form, backtrace)
    /// scrubbed of URL passwords and secret-named `Debug` fields.
    ///
    /// What a [`Recorder`](crate::Recorder) stored is already redacted; this is for the last
    /// look before an event leaves the process (a command-line tool, an HTTP API, a
    /// notification), whoever wrote it.
    ///
    /// ```
    /// use history::redact::RedactionPolicy;
    /// use history::{Event, EventType, Json};
    ///
    /// let mut e = Event::new(EventType::VmCreate, "create");
    /// e.parameters = Json::parse(r#"{"name":"web","db":{"password":"hunter2"}}"#)?;
    /// e.labels.insert("api_token".into(), "tok-123".into());
    /// RedactionPolicy::default().redact_event(&mut e);
    /// assert_eq!(e.parameters.as_str(), r#"{"name":"web","db":{"password":"[redacted]"}}"#);
    /// assert_eq!(e.labels["api_token"], "[redacted]");
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn redact_event(&self, event: &mut Event) {
        for doc in std::iter::once(&mut event.parameters)
            .chain(event.result.as_mut())
            .chain(event.execution.as_mut())
        {
            if let Some(clean) = self.redact_json(doc) {
                *doc = clean;
            }
        }
        for (key, value) in event.labels.iter_mut() {
            if self.is_secret(key) {
                if value != REDACTED {
                    *value = REDACTED.to_owned();
                }
            } else {
                scrub_string(value);
            }
        }
        if let Some(correlation) = &mut event.correlation_id {
            scrub_string(correlation);
        }
        if let Some(error) = &mut event.error {
            if let Some(debug) = &mut error.debug {
                if let Cow::Owned(clean) = redact_debug(debug, self) {
                    *debug = clean;
                }
            }
            let texts = std::iter::once(&mut error.message)
                .chain(error.sources.iter_mut())
                .chain(error.debug.iter_mut())
                .chain(error.backtrace.iter_mut());
            for text in texts {
                scrub_string(text);
            }
        }
    }

    /// Redacts a JSON value in place: every member with a secret name, at any depth,
    /// becomes `"[redacted]"`; URL passwords are scrubbed from every string.
    ///
    /// ```
    /// use history::redact::RedactionPolicy;
    /// use serde_json::json;
    ///
    /// let mut v = json!({"user": "ann", "auth": {"refresh_token": "r-1"},
    ///                    "db": "postgres://ann:pw@db/app"});
    /// RedactionPolicy::default().redact_value(&mut v);
    /// assert_eq!(v["auth"]["refresh_token"], "[redacted]");
    /// assert_eq!(v["db"], "postgres://ann:[redacted]@db/app");
    /// ```
    pub fn redact_value(&self, value: &mut Value) {
        match value {
            Value::Object(map) => {
                for (name, v) in map.iter_mut() {
                    if self.is_secret(name) {
                        if v.as_str() != Some(REDACTED) {
                            *v = Value::String(REDACTED.to_owned());
                        }
                    } else {
                        self.redact_value(v);
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|v| self.redact_value(v)),
            Value::String(s) => {
                if let Cow::Owned(clean) = scrub_url_credentials(s) {
                    *s = clean;
                }
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }

    /// `doc` redacted in one streaming pass, when that changes it.
    fn redact_json(&self, doc: &Json) -> Option<Json> {
        let text = doc.as_str();
        // Without a string there is no name and no URL to redact: `{}`, numbers, `null`.
        if !text.contains('"') {
            return None;
        }
        let state = State {
            policy: self,
            secrets: None,
        };
        let mut out = Vec::with_capacity(text.len());
        let mut de = serde_json::Deserializer::from_str(text);
        let transcoder = serde_transcode::Transcoder::new(&mut de);
        serializer::serialize(
            &transcoder,
            &mut serde_json::Serializer::new(&mut out),
            &state,
        )
        .ok()?;
        let clean = std::str::from_utf8(&out).ok()?;
        (clean != text).then(|| Json::from_trusted_str(clean))
    }
}
