//! Examples, integration tests and benches for the `history` workspace.
