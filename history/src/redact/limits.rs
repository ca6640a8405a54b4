//! [`Capturing`]: what one recorder's tracked calls capture — the redaction policy and the
//! size caps — and the markers written in place of what does not fit.

use super::RedactionPolicy;
use crate::{ErrorInfo, Event, Json};

/// Default cap on a captured value (parameters, result, execution), in bytes of JSON text.
pub const DEFAULT_MAX_VALUE_BYTES: usize = 64 * 1024;
/// Default cap on each error text (message, each source, `Debug` form, backtrace), in bytes.
pub const DEFAULT_MAX_ERROR_BYTES: usize = 8 * 1024;

/// The capture settings of one recorder.
#[derive(Clone, Debug)]
pub(crate) struct Capturing {
    pub(crate) policy: RedactionPolicy,
    pub(crate) max_value_bytes: usize,
    pub(crate) max_error_bytes: usize,
}

impl Default for Capturing {
    fn default() -> Self {
        Capturing {
            policy: RedactionPolicy::default(),
            max_value_bytes: DEFAULT_MAX_VALUE_BYTES,
            max_error_bytes: DEFAULT_MAX_ERROR_BYTES,
        }
    }
}

/// The settings of a call whose recorder is gone.
pub(crate) static DEFAULT: std::sync::LazyLock<Capturing> =
    std::sync::LazyLock::new(Capturing::default);

/// The text written in place of a value of `bytes` bytes over the `limit`.
pub(crate) fn too_large(bytes: usize, limit: usize) -> String {
    format!("[too large: {bytes} bytes, over the limit of {limit}]")
}

impl Capturing {
    /// Replaces every captured document over the cap by a marker that keeps its size:
    /// parameters by `{"[too large]": "…"}` (they stay an object), result and execution by a
    /// string. Cuts error texts over their cap.
    #[inline]
    pub(crate) fn fit(&self, event: &mut Event) {
        let max = self.max_value_bytes;
        let fits = |doc: &Option<Json>| doc.as_ref().is_none_or(|d| d.len() <= max);
        if event.parameters.len() <= max
            && fits(&event.result)
            && fits(&event.execution)
            && event.error.is_none()
        {
            return;
        }
        self.fit_slow(event);
    }

    #[cold]
    fn fit_slow(&self, event: &mut Event) {
        let max = self.max_value_bytes;
        if event.parameters.len() > max {
            let marker =
                serde_json::json!({ "[too large]": too_large(event.parameters.len(), max) });
            event.parameters = Json::from(marker);
        }
        for doc in [&mut event.result, &mut event.execution]
            .into_iter()
            .flatten()
        {
            if doc.len() > max {
                *doc = Json::string(&too_large(doc.len(), max));
            }
        }
        if let Some(error) = &mut event.error {
            self.fit_error(error);
        }
    }

    /// Cuts every text of `error` to the error cap.
    pub(crate) fn fit_error(&self, error: &mut ErrorInfo) {
        let max = self.max_error_bytes;
        cut(&mut error.message, max);
        for s in &mut error.sources {
            cut(s, max);
        }
        for s in [&mut error.debug, &mut error.backtrace]
            .into_iter()
            .flatten()
        {
            cut(s, max);
        }
    }
}

impl Capturing {
    /// Redacts an event built by hand ([`Recorder::record`](crate::Recorder::record)) under
    /// this recorder's policy: see [`RedactionPolicy::redact_event`].
    pub(crate) fn redact_event(&self, event: &mut Event) {
        self.policy.redact_event(event);
    }
}

/// Cuts `text` to at most `max` bytes (at a character boundary), ending it with a marker
/// that keeps the original size.
pub(crate) fn cut(text: &mut String, max: usize) {
    if text.len() <= max {
        return;
    }
    let marker = format!("… [cut: {} bytes in all]", text.len());
    let mut keep = max.saturating_sub(marker.len());
    while keep > 0 && !text.is_char_boundary(keep) {
        keep -= 1;
    }
    text.truncate(keep);
    text.push_str(&marker);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cut_keeps_the_size() {
        let mut s = "é".repeat(10_000);
        cut(&mut s, 100);
        assert!(
            s.len() <= 100 && s.ends_with("[cut: 20000 bytes in all]"),
            "{s}"
        );
        let mut short = "abc".to_owned();
        cut(&mut short, 100);
        assert_eq!(short, "abc");
    }
}
