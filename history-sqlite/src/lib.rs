//! # history-sqlite
//!
//! The embedded default store of [`history`]: events in one SQLite file (WAL mode), written in
//! batches, queried with indexes and keyset pagination.
//!
//! - [`SqliteStore`]: open a file and use it as a [`history::HistoryStore`].
//! - [`SqliteError`]: what goes wrong, with the path and the reason.
//! - [`schema`]: the versioned schema and its migrations.

#![warn(missing_docs)]

mod codec;
mod error;
mod query;
pub mod schema;
mod store;

pub use error::SqliteError;
pub use store::SqliteStore;
