//! [`ErrorInfo`]: what went wrong, kept as data.

use std::error::Error as StdError;

use serde::{Deserialize, Serialize};

/// The error an operation ended with.
///
/// Keeps the `Display` message, the chain of `source()` messages under it, and optionally its
/// `Debug` form and a backtrace.
///
/// ```
/// use history::ErrorInfo;
/// let io = std::io::Error::new(std::io::ErrorKind::Other, "disk full");
/// let info = ErrorInfo::from_error(&io);
/// assert_eq!(info.message, "disk full");
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorInfo {
    /// The error's `Display` text.
    pub message: String,
    /// What kind of error: a type name, `"panic"`, `"timeout"`, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The `Display` texts of `source()`, `source().source()`, …, outermost first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<String>,
    /// The error's `Debug` text, when captured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub debug: Option<String>,
    /// A backtrace, when captured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backtrace: Option<String>,
}

impl ErrorInfo {
    /// An error with only a message.
    pub fn new(message: impl Into<String>) -> ErrorInfo {
        ErrorInfo {
            message: message.into(),
            ..ErrorInfo::default()
        }
    }

    /// Sets the kind.
    pub fn with_kind(mut self, kind: impl Into<String>) -> ErrorInfo {
        self.kind = Some(kind.into());
        self
    }

    /// Message and source chain of any error.
    pub fn from_error(error: &(dyn StdError + 'static)) -> ErrorInfo {
        let mut sources = Vec::new();
        let mut next = error.source();
        while let Some(e) = next {
            sources.push(e.to_string());
            next = e.source();
        }
        ErrorInfo {
            message: error.to_string(),
            sources,
            ..ErrorInfo::default()
        }
    }

    /// Cuts over-long texts to the limits, saying how much was cut; drops an empty kind.
    pub(crate) fn fit_to_limits(&mut self) {
        use super::limits::{truncate, MAX_MESSAGE_CHARS, MAX_NAME_CHARS};
        truncate(&mut self.message, MAX_MESSAGE_CHARS);
        for s in &mut self.sources {
            truncate(s, MAX_MESSAGE_CHARS);
        }
        if let Some(d) = &mut self.debug {
            truncate(d, MAX_MESSAGE_CHARS);
        }
        if let Some(kind) = &mut self.kind {
            if kind.is_empty() {
                self.kind = None;
            } else {
                truncate(kind, MAX_NAME_CHARS);
            }
        }
    }

    /// The message followed by each source, joined by `": "`.
    pub fn chain(&self) -> String {
        let mut s = self.message.clone();
        for src in &self.sources {
            s.push_str(": ");
            s.push_str(src);
        }
        s
    }
}
