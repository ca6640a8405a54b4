//! [`ErrorInfo`]: what went wrong, kept as data.

use std::error::Error as StdError;

use serde::{Deserialize, Serialize};

/// The most `source()` links kept; a longer chain is cut, saying so.
pub const MAX_SOURCES: usize = 32;

/// The `Display` texts of `error.source()`, its source, …: at most [`MAX_SOURCES`], and cut
/// where the chain comes back to an error already seen (same address and type), so a
/// cyclic chain cannot make the capture loop.
pub(crate) fn source_chain(error: &dyn StdError) -> Vec<String> {
    let mut sources = Vec::new();
    let Some(first) = error.source() else {
        return sources;
    };
    let top: *const dyn StdError = error;
    let mut seen: [*const (dyn StdError + 'static); MAX_SOURCES] = [first; MAX_SOURCES];
    let mut next = Some(first);
    while let Some(e) = next {
        let here: *const (dyn StdError + 'static) = e;
        if same(here, top) || seen[..sources.len()].iter().any(|&s| same(s, here)) {
            sources.push("[source chain cut: it loops back to an earlier error]".to_owned());
            break;
        }
        if sources.len() == MAX_SOURCES {
            sources.push(format!("[source chain cut after {MAX_SOURCES} links]"));
            break;
        }
        seen[sources.len()] = here;
        sources.push(e.to_string());
        next = e.source();
    }
    sources
}

/// Whether two errors are one: same address and same type (a wrapper and its first field
/// share an address).
#[allow(ambiguous_wide_pointer_comparisons)]
fn same(a: *const (dyn StdError + '_), b: *const (dyn StdError + '_)) -> bool {
    std::ptr::eq(a, b)
}

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
    ///
    /// A chain that loops back on itself, or is longer than [`MAX_SOURCES`] links, is cut,
    /// with a last entry saying so.
    pub fn from_error(error: &(dyn StdError + 'static)) -> ErrorInfo {
        ErrorInfo {
            message: error.to_string(),
            sources: source_chain(error),
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
