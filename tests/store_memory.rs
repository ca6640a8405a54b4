//! The store conformance suite against the reference `MemoryStore`.

history::conformance_tests!(history::MemoryStore::new);
