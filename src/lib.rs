//! Examples, integration tests and benches for the `history` workspace.

/// Every Rust block of README.md, compiled and run as a doctest, so the README a newcomer
/// copies from always works.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
