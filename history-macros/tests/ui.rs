//! Compile-time behaviour of the attributes, pinned with trybuild: every shape in
//! `tests/ui/pass` (at the workspace root) compiles without warnings and runs; every mistake in
//! `tests/ui/fail` is a compile error pointing at the offending token with the message in its
//! `.stderr` file.
//!
//! The runner lives in this crate rather than the root package so that trybuild's scratch
//! project depends only on `history` (not on the root package's benches' and tests'
//! dependencies, SQLite included), which keeps a cold run short.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("../tests/ui/pass/*.rs");
    t.compile_fail("../tests/ui/fail/*.rs");
}
