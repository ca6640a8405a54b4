//! The external (W3C) trace ids of where an event starts: a reader the process installs once
//! (`history-tracing` installs one that reads OpenTelemetry's current context), asked on the
//! caller's thread when a tracked call starts. Re-exported by [`crate::context`].

use std::cell::Cell;
use std::sync::OnceLock;

use crate::event::{W3cSpanId, W3cTraceId};

/// A reader of the external trace ids current on this thread: the W3C trace id, and the span
/// id when there is one. Called on the thread of every tracked call as it starts, so it must
/// be quick and must not record events.
pub type ExternalTraceReader = fn() -> Option<(W3cTraceId, Option<W3cSpanId>)>;

static READER: OnceLock<ExternalTraceReader> = OnceLock::new();

/// Installs the process's reader of external trace ids; returns `false` (and changes nothing)
/// when one is installed already. From then on, every tracked call (and every event the
/// integrations start from the current thread) stores what it reads as its
/// `external_trace_id` / `external_span_id`, unless the event has them already.
///
/// Most programs call `history_tracing::install_opentelemetry()` instead, which installs a
/// reader of the OpenTelemetry context.
///
/// ```
/// use history::context;
/// use history::event::{W3cSpanId, W3cTraceId};
///
/// fn fixed() -> Option<(W3cTraceId, Option<W3cSpanId>)> {
///     let trace = "4bf92f3577b34da6a3ce929d0e0e4736".parse().ok()?;
///     Some((trace, "00f067aa0ba902b7".parse().ok()))
/// }
/// assert!(context::set_external_trace_reader(fixed));
/// assert!(!context::set_external_trace_reader(fixed), "installed once");
/// let (trace, _) = context::external_trace().unwrap();
/// assert_eq!(trace.to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
/// ```
pub fn set_external_trace_reader(reader: ExternalTraceReader) -> bool {
    READER.set(reader).is_ok()
}

/// The external trace ids current on this thread, from the installed reader (`None` when none
/// is installed or it finds none).
#[inline]
pub fn external_trace() -> Option<(W3cTraceId, Option<W3cSpanId>)> {
    READER.get().and_then(|read| read())
}

thread_local! {
    /// Set while a reader runs on this thread: a tracked call inside the reader records no ids.
    static READING: Cell<bool> = const { Cell::new(false) };
}

/// [`external_trace`], guarded against a reader that itself starts a tracked call.
#[inline]
pub(crate) fn read_for_call() -> Option<(W3cTraceId, Option<W3cSpanId>)> {
    let read = READER.get()?;
    if READING.try_with(|r| r.replace(true)).unwrap_or(true) {
        return None;
    }
    /// Clears the flag also when the reader panics.
    struct Done;
    impl Drop for Done {
        fn drop(&mut self) {
            let _ = READING.try_with(|r| r.set(false));
        }
    }
    let _done = Done;
    read()
}
