//! [`Redactor`]: scrubs secret values out of text and JSON before anything is kept.

use std::borrow::Cow;
use std::sync::Arc;

use super::REDACTED;

/// A set of secret values to scrub from output lines, parsed messages and command lines.
///
/// Every occurrence of a secret (and of its JSON-escaped form, as it appears inside JSON text)
/// is replaced by [`REDACTED`]. Longer secrets are scrubbed first, so a secret that contains
/// another is scrubbed whole. Cheap to clone.
///
/// ```
/// use history::redact::Redactor;
/// let r = Redactor::new(["hunter2"]);
/// assert_eq!(r.scrub("password is hunter2"), "password is [redacted]");
/// ```
#[derive(Clone, Debug, Default)]
pub struct Redactor {
    /// The secrets as given.
    values: Arc<Vec<String>>,
    /// What to look for: each secret and its JSON-escaped form, longest first.
    patterns: Arc<Vec<String>>,
}

impl Redactor {
    /// A redactor for these values (empty values are ignored).
    pub fn new<I, S>(secrets: I) -> Redactor
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut values: Vec<String> = Vec::new();
        let mut all: Vec<String> = Vec::new();
        for s in secrets {
            let s = s.into();
            if s.is_empty() || values.contains(&s) {
                continue;
            }
            values.push(s.clone());
            // The form the secret takes inside a JSON string literal, when it differs.
            if let Ok(quoted) = serde_json::to_string(&s) {
                let inner = &quoted[1..quoted.len() - 1];
                if inner != s {
                    all.push(inner.to_owned());
                }
            }
            all.push(s);
        }
        all.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        all.dedup();
        Redactor {
            values: Arc::new(values),
            patterns: Arc::new(all),
        }
    }

    /// This redactor with one more secret.
    pub fn with(&self, secret: impl Into<String>) -> Redactor {
        Redactor::new(self.values().chain(std::iter::once(secret.into())))
    }

    /// The secrets as given.
    pub fn values(&self) -> impl Iterator<Item = String> + '_ {
        self.values.iter().cloned()
    }

    /// Whether there is nothing to scrub.
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// `text` with every secret replaced by [`REDACTED`].
    pub fn scrub<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut out = Cow::Borrowed(text);
        for secret in self.patterns.iter() {
            if out.contains(secret.as_str()) {
                out = Cow::Owned(out.replace(secret.as_str(), REDACTED));
            }
        }
        out
    }

    /// Scrubs every string (and object key) inside a JSON value, in place.
    pub fn scrub_value(&self, value: &mut serde_json::Value) {
        if self.is_empty() {
            return;
        }
        match value {
            serde_json::Value::String(s) => {
                if let Cow::Owned(clean) = self.scrub(s) {
                    *s = clean;
                }
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(|v| self.scrub_value(v)),
            serde_json::Value::Object(map) => {
                let dirty: Vec<String> = map
                    .keys()
                    .filter(|k| matches!(self.scrub(k), Cow::Owned(_)))
                    .cloned()
                    .collect();
                for key in dirty {
                    if let Some(v) = map.remove(&key) {
                        map.insert(self.scrub(&key).into_owned(), v);
                    }
                }
                map.values_mut().for_each(|v| self.scrub_value(v));
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn scrubs_plain_and_json_escaped_forms() {
        let r = Redactor::new(["pa\"ss", "", "pa"]);
        assert_eq!(r.scrub("x pa\"ss y"), "x [redacted] y");
        assert_eq!(
            r.scrub(r#"{"msg":"x pa\"ss y"}"#),
            r#"{"msg":"x [redacted] y"}"#
        );
        assert_eq!(r.scrub("nothing here"), "nothing here");
        assert!(matches!(r.scrub("clean"), Cow::Borrowed(_)));
    }

    #[test]
    fn scrubs_json_values_and_keys() {
        let r = Redactor::new(["s3cret"]);
        let mut v = json!({"a": ["s3cret!", 1], "s3cret": {"b": "ok"}});
        r.scrub_value(&mut v);
        assert_eq!(
            v,
            json!({"a": ["[redacted]!", 1], "[redacted]": {"b": "ok"}})
        );
    }
}
