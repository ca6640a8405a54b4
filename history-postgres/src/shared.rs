//! What an open store and its background thread share.

use parking_lot::Mutex;

use crate::connections::{Connector, Readers};
use crate::names::Names;
use crate::options::PostgresOptions;
use crate::partitions::Partitions;
use crate::write::WriteSession;
use crate::writers::Registration;

/// An open store's state.
#[derive(Debug)]
pub(crate) struct Shared {
    pub connector: Connector,
    pub names: Names,
    pub options: PostgresOptions,
    pub partitions: Partitions,
    pub readers: Readers,
    pub writer: Mutex<WriteSession>,
    pub me: Registration,
    pub spill: Option<std::path::PathBuf>,
}
