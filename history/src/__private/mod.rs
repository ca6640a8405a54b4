//! The runtime that `#[track_history]` and `#[track_terraform]` expand to. Not a public API:
//! names here may change in any release.
