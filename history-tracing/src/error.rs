//! [`Error`]: what this crate's setup can refuse.

/// What setting up the bridge can refuse.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Another reader of external trace ids was installed first; the process keeps it.
    #[error("an external trace id reader is already installed in this process")]
    ReaderAlreadyInstalled,
}
