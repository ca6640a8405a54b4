//! # history-sqlite
//!
//! The embedded default store of [`history`]: events in one SQLite file (WAL mode), written in
//! batches, queried with indexes and keyset pagination.
//!
//! - [`SqliteStore`]: open a file and use it as a [`history::HistoryStore`]; statistics,
//!   retention ([`history::HistoryStore::purge`]) and crash recovery
//!   ([`SqliteStore::recover_interrupted`]).
//! - [`SqliteOptions`]: recovery on open, heartbeat, busy timeout, read-only opens
//!   ([`SqliteStore::open_read_only`]).
//! - [`SqliteError`]: what goes wrong, with the path and the reason.
//! - [`Health`]: what [`SqliteStore::check`] finds (integrity, schema, rollups, orphans).
//! - [`schema`]: the versioned schema and its migrations.

#![warn(missing_docs)]

mod background;
mod change_seq;
mod checkpoint;
mod codec;
mod connections;
mod error;
mod feed;
mod group_commit;
mod health;
mod options;
mod owner;
mod query;
mod read;
mod recovery;
mod retention;
mod rollup;
pub mod schema;
mod stats;
mod store;

pub use error::SqliteError;
pub use health::Health;
pub use options::{SqliteOptions, DEFAULT_WRITE_CACHE, MAX_WRITE_CACHE, MIN_WRITE_CACHE};
pub use retention::PURGE_CHUNK;
pub use store::SqliteStore;
