//! PostgreSQL store for the `history` crate: one history for many hosts.
//!
//! [`PostgresStore`] implements [`history::HistoryStore`] on PostgreSQL 12 or newer: every
//! table in a schema of its own, events partitioned by start time (retention drops whole
//! partitions), batches copied and upserted set-wise, a change feed in commit order, and
//! crash recovery across hosts (writers register with a heartbeat; the unfinished events of
//! one that stopped are marked `interrupted`, exactly once).
//!
//! Modules: `store` (opening, the trait), `options`, `connections` (URL, TLS, readers),
//! `schema` (migrations), `partitions`, `codec` (rows ↔ events), `write` (staging, upsert,
//! commit order), `query` (filters to SQL), `rollup` (hourly rollups kept by triggers), `stats`, `retention`, `feed`, `writers` and
//! `background` (heartbeat, recovery, partitions ahead).

mod background;
mod codec;
mod connections;
mod error;
mod feed;
mod names;
mod options;
mod partitions;
mod query;
mod retention;
mod rollup;
mod rollup_read;
pub mod schema;
mod shared;
mod stats;
mod store;
mod upsert;
mod write;
mod writers;

pub(crate) use connections::Connector;
pub use error::PostgresError;
pub use options::PostgresOptions;
pub use store::PostgresStore;
