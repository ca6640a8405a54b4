//! The store conformance suite against `SqliteStore` on real temporary files.

use history::conformance::Guarded;
use history_sqlite::SqliteStore;

fn store() -> Guarded<SqliteStore, tempfile::TempDir> {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(dir.path().join("history.db")).expect("open");
    Guarded { store, guard: dir }
}

history::conformance_tests!(store);
