//! [`Redactor`] and [`REDACTED`] are `history::redact`'s (one marker, one scrubber for every
//! crate); the executors' secret holder stays here.

pub use history::redact::{Redactor, REDACTED};

/// A secret string whose `Debug` form does not show it (for builders that hold secrets).
#[derive(Clone)]
pub(crate) struct Secret(pub(crate) String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(REDACTED)
    }
}
