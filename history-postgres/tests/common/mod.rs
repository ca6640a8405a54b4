//! The test server: each test gets a schema of its own (unique name, dropped after), so tests
//! run in parallel. Without a server, tests say they were skipped and why — unless
//! `HISTORY_REQUIRE_POSTGRES=1`, then they fail.

#![allow(dead_code, unreachable_pub)]

use std::sync::atomic::{AtomicU32, Ordering};

use history_postgres::{PostgresOptions, PostgresStore};

/// The server tests use: `HISTORY_POSTGRES_URL`, else the local one.
pub fn url() -> String {
    std::env::var("HISTORY_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// Whether the server answers; if not, says why the test is skipped (or fails when the
/// server is required).
pub fn server(test: &str) -> bool {
    match postgres::Client::connect(&url(), postgres::NoTls) {
        Ok(_) => true,
        Err(e) => {
            let why = format!(
                "no PostgreSQL server at {} ({e})",
                history::redact::scrub_url_credentials(&url())
            );
            if std::env::var("HISTORY_REQUIRE_POSTGRES").as_deref() == Ok("1") {
                panic!("{test}: {why}; HISTORY_REQUIRE_POSTGRES=1 makes this a failure");
            }
            eprintln!("SKIPPED {test}: {why}. Set HISTORY_POSTGRES_URL to run it.");
            false
        }
    }
}

/// A schema name no other test (or run) uses.
pub fn unique_schema(tag: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "t_{tag}_{}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed),
        nanos % 100_000
    )
}

/// Drops its schema when dropped (after the store it guards).
#[derive(Debug)]
pub struct DropSchema(pub String);

impl Drop for DropSchema {
    fn drop(&mut self) {
        if let Ok(mut c) = postgres::Client::connect(&url(), postgres::NoTls) {
            let _ = c.batch_execute(&format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", self.0));
        }
    }
}

/// A store in a fresh schema, and the guard that drops it.
pub fn store_with(
    test: &str,
    options: impl FnOnce(PostgresOptions) -> PostgresOptions,
) -> Option<history::conformance::Guarded<PostgresStore, DropSchema>> {
    if !server(test) {
        return None;
    }
    let schema = unique_schema(
        &test
            .chars()
            .filter(|c| c.is_ascii_lowercase())
            .take(12)
            .collect::<String>(),
    );
    let store = options(PostgresStore::options().schema(&schema))
        .open(&url())
        .expect("open the store");
    Some(history::conformance::Guarded {
        store,
        guard: DropSchema(schema),
    })
}

/// A store in a fresh schema with default options.
pub fn store(test: &str) -> Option<history::conformance::Guarded<PostgresStore, DropSchema>> {
    store_with(test, |o| o)
}
