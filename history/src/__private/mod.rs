//! The runtime that `#[track_history]` and `#[track_terraform]` expand to. Not a public API:
//! names here may change in any release.
//!
//! An expansion does, in order: pick the recorder ([`explicit_recorder`] or
//! [`default_recorder`]; none → [`Call::disabled`], nothing else runs); capture the
//! parameters ([`Params`], each argument through [`Capture`]: `Serialize` → `Debug` → type
//! name); build the event in place in the call ([`Call::begin`], one clock read) and set the
//! ids ([`Starting::event_mut`]); [`Starting::start`] records it in progress;
//! the body runs inside [`Call::run`] / [`Call::run_async`] (nesting, panics); the returned
//! value is split ([`Probe`]: `Err` fails, anything else succeeds) and [`Call::succeed`] or
//! [`Call::fail`] records the final event under the same id. Dropping an unfinished [`Call`]
//! records `cancelled`.
//!
//! Nothing here does I/O or takes a lock across I/O: recording only enqueues (with
//! `durability = sync`, the final record then waits for the writer's commit).

mod call;
mod capture;
mod instrumented;
mod outcome;
mod recorder_arg;
mod remember;
mod scrub;
mod sink;
mod site;
mod span_bridge;
mod starting;
pub mod terraform;

pub use call::{AsRecorder, Call, CallRecorder};
pub use capture::{
    write_str, Capture, Subject, SubjectViaDisplay, SubjectViaKnown, Text, TextViaDebug,
    TextViaDisplay, TextViaOption, ToSubject, ViaDebug, ViaSerialize, ViaTypeName,
};
pub use instrumented::Instrumented;
pub use outcome::{
    panic_error, rejected_value, ErrorProbe, ErrorViaAsRef, ErrorViaAsRefSendSync, ErrorViaDebug,
    ErrorViaDisplay, ErrorViaStd, ErrorViaTypeName, NotAnError, Probe, Split, SplitPlain,
    SplitResult,
};
pub use remember::{
    Redacted, RememberNothing, RememberViaDebug, RememberViaDisplay, RememberViaSerialize,
};
pub use sink::{Parameters, Params, Sink, REDACTED};
pub use site::{
    check, custom_type, default_recorder, event_type, explicit_recorder, operation, Options,
};
pub use span_bridge::call_span;
pub use starting::Starting;
/// `tracing`, for the span the expansion makes (feature `tracing-spans`).
#[cfg(feature = "tracing-spans")]
pub use tracing;

/// The traits the autoref dispatch needs in scope; the expansion imports `prelude::*` in
/// the blocks it generates (never around the user's body).
pub mod prelude {
    pub use super::capture::{
        SubjectViaDisplay as _, SubjectViaKnown as _, TextViaDebug as _, TextViaDisplay as _,
        TextViaOption as _, ViaDebug as _, ViaSerialize as _, ViaTypeName as _,
    };
    pub use super::outcome::{
        ErrorViaAsRef as _, ErrorViaAsRefSendSync as _, ErrorViaDebug as _, ErrorViaDisplay as _,
        ErrorViaStd as _, ErrorViaTypeName as _, SplitPlain as _, SplitResult as _,
    };
    pub use super::remember::{
        RememberNothing as _, RememberViaDebug as _, RememberViaDisplay as _,
        RememberViaSerialize as _,
    };
}

/// The name `history-macros` reaches this module by. It changes (`v2`, ...) whenever what the
/// generated code calls changes incompatibly, so a `history-macros` that does not match this
/// `history` fails to compile ("could not find `v2` in `__private`") instead of misbehaving;
/// `history` also pins `history-macros` to its exact version.
pub use crate::__private as v2;

#[cfg(all(test, feature = "macros"))]
mod crate_path;
