//! [`StoreError`]: what a store reports.

/// A boxed error from a backend.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What a store reports.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The store cannot be reached or is busy right now; the same call may succeed later
    /// (the recorder retries these).
    #[error(transparent)]
    Unavailable(BoxError),
    /// The query (or its cursor) is not valid.
    #[error("invalid query: {0}")]
    InvalidQuery(String),
    /// Stored data could not be read back.
    #[error("stored data is unreadable: {0}")]
    Corrupt(String),
    /// The store does not do this (e.g. a store that keeps no change feed); the message
    /// says what.
    #[error("not supported: {0}")]
    Unsupported(&'static str),
    /// Any other backend failure.
    #[error(transparent)]
    Backend(BoxError),
}

impl StoreError {
    /// Whether retrying the same call may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }
}
