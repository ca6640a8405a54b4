//! Scrubbing a call's event before it is recorded: labels when the call starts; the error and
//! the result when it ends.

use std::borrow::Cow;

use crate::redact::{self, Redactor};
use crate::{ErrorInfo, Json};

/// Label values under a secret key are redacted; URL passwords and the call's redacted
/// values are scrubbed from the others.
pub(super) fn scrub_labels(
    labels: &mut std::collections::BTreeMap<String, String>,
    settings: &redact::Capturing,
    secrets: Option<&Redactor>,
) {
    for (key, value) in labels.iter_mut() {
        if settings.policy.is_secret(key) {
            if value != redact::REDACTED {
                *value = redact::REDACTED.to_owned();
            }
            continue;
        }
        redact::scrub_string(value);
        if let Some(secrets) = secrets {
            scrub_with(value, secrets);
        }
    }
}

/// Redacts the error's texts: secret fields in its `Debug` form, URL passwords everywhere,
/// the call's redacted values everywhere; then cuts each text to the error cap.
pub(super) fn scrub_error(
    error: &mut ErrorInfo,
    settings: &redact::Capturing,
    secrets: Option<&Redactor>,
) {
    if let Some(debug) = &mut error.debug {
        if let Cow::Owned(clean) = redact::redact_debug(debug, &settings.policy) {
            *debug = clean;
        }
    }
    let texts = std::iter::once(&mut error.message)
        .chain(error.sources.iter_mut())
        .chain(error.debug.iter_mut())
        .chain(error.backtrace.iter_mut());
    for text in texts {
        redact::scrub_string(text);
        if let Some(secrets) = secrets {
            scrub_with(text, secrets);
        }
    }
    settings.fit_error(error);
}

fn scrub_with(text: &mut String, secrets: &Redactor) {
    if let Cow::Owned(clean) = secrets.scrub(text) {
        *text = clean;
    }
}

/// `json` with the call's redacted values scrubbed from its strings.
#[cold]
pub(super) fn scrub_json(json: Json, secrets: &Redactor) -> Json {
    if matches!(secrets.scrub(json.as_str()), Cow::Borrowed(_)) {
        return json;
    }
    let mut value = json.to_value();
    secrets.scrub_value(&mut value);
    Json::from(value)
}
