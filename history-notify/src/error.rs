//! What goes wrong: [`NotifyError`] (setting up and running a notifier) and [`DeliveryError`]
//! (one failed delivery attempt, which is retried).

use std::path::PathBuf;
use std::time::Duration;

use history::StoreError;

/// An error setting up, running or stopping a [`Notifier`](crate::Notifier).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NotifyError {
    /// A rule cannot work as written.
    #[error("rule {rule:?}: {reason}")]
    InvalidRule {
        /// The rule's name.
        rule: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Two rules share a name (names key the notifications and the saved progress).
    #[error("two rules are named {0:?}; rule names must be unique")]
    DuplicateRule(String),
    /// A channel cannot work as configured (for example a webhook URL that is not `http(s)://`).
    #[error("channel: {0}")]
    InvalidChannel(String),
    /// The state file could not be read or written.
    #[error("notifier state file {path}: {source}")]
    State {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The state file holds something that is not a notifier's state.
    #[error("notifier state file {path} cannot be read: {reason}")]
    CorruptState {
        /// The file.
        path: PathBuf,
        /// Why it was rejected.
        reason: String,
    },
    /// The store failed (reading its change feed, or its events for a window rule).
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// The notifier's thread could not be started.
    #[error("cannot start the notifier thread: {0}")]
    Spawn(#[source] std::io::Error),
    /// The notifier's thread stopped by panicking (a bug; its saved state is intact).
    #[error("the notifier thread panicked")]
    Panicked,
    /// [`Notifier::wait_idle`](crate::Notifier::wait_idle) gave up.
    #[error(
        "not idle after {waited:?}: {pending} notification(s) pending, feed at {at}, {behind}"
    )]
    Timeout {
        /// How long it waited.
        waited: Duration,
        /// Deliveries not yet acknowledged (including open storm groups).
        pending: usize,
        /// How far the notifier had read the feed.
        at: String,
        /// What it was waiting for.
        behind: String,
    },
}

/// Why one delivery attempt failed. The notifier retries it with backoff.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DeliveryError {
    /// The receiver answered, but not with a 2xx status.
    #[error("the receiver answered HTTP {status}")]
    Status {
        /// The HTTP status code.
        status: u16,
    },
    /// No answer: connection refused, timeout, TLS or I/O failure.
    #[error("request failed: {0}")]
    Transport(String),
    /// A callback channel returned an error.
    #[error("callback failed: {0}")]
    Callback(String),
}
