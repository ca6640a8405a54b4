//! [`Error`]: what the `history` API reports.

use std::time::Duration;

use crate::store::StoreError;

/// Everything that can go wrong in the `history` API.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A value broke a rule: the field and the limit are named.
    #[error("invalid `{field}`: {reason}")]
    Invalid {
        /// The field, e.g. `operation` or `labels key`.
        field: String,
        /// What is wrong and what the limit is.
        reason: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The recorder has been shut down; nothing more can be recorded through it.
    #[error("the recorder is shut down")]
    Closed,
    /// The queue was full and the recorder's overflow policy drops new events (it counts them).
    #[error("the recorder's queue is full ({capacity} events); the event was dropped")]
    QueueFull {
        /// The queue's capacity.
        capacity: usize,
    },
    /// The events in the queue held the most memory the recorder allows
    /// ([`RecorderBuilder::max_queue_bytes`](crate::RecorderBuilder::max_queue_bytes)) and
    /// its overflow policy drops new events (it counts them).
    #[error("the recorder's queue holds its limit of {max_bytes} bytes; the event was dropped")]
    QueueMemoryFull {
        /// The limit, in bytes.
        max_bytes: usize,
    },
    /// Events were given up on after the store kept failing.
    #[error("{count} event(s) could not be written: {last_error}")]
    Lost {
        /// How many events.
        count: u64,
        /// The store's last error.
        last_error: String,
    },
    /// [`Recorder::shutdown_timeout`](crate::Recorder::shutdown_timeout) ran past its deadline
    /// with events not yet durable.
    #[error("{count} recorded event(s) were not yet written when the shutdown deadline passed")]
    Unwritten {
        /// How many events.
        count: u64,
    },
    /// A wait ran past its deadline.
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    /// A default recorder is already installed for this process.
    #[error("a default recorder is already installed for this process")]
    AlreadyInitialized,
    /// An I/O error (starting the writer thread, files).
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl Error {
    /// An [`Error::Invalid`] for `field`.
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Error {
        Error::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }
}
