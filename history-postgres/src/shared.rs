//! What an open store and its background thread share.

use parking_lot::Mutex;

use crate::connections::{Connector, Readers};
use crate::names::Names;
use crate::options::PostgresOptions;
use crate::partitions::Partitions;
use crate::write::WriteSession;
use crate::writers::Registration;

/// An open store's state.
pub(crate) struct Shared {
    pub connector: Connector,
    pub names: Names,
    pub options: PostgresOptions,
    pub partitions: Partitions,
    pub readers: Readers,
    pub writer: Mutex<WriteSession>,
    pub me: Registration,
    pub spill: Option<std::path::PathBuf>,
    /// The connection that `LISTEN`s for changes, once a follower waited.
    pub listener: Mutex<Option<postgres::Client>>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("connector", &self.connector)
            .field("names", &self.names)
            .field("me", &self.me)
            .finish_non_exhaustive()
    }
}
