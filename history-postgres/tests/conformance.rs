//! The store conformance suite against `PostgresStore` on the real server, each case in a
//! schema of its own.

mod common;

history::conformance_tests!(optional || common::store("conformance"));
