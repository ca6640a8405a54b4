//! The span bridge (feature `tracing-spans`): each tracked call runs inside a `tracing` span
//! named after its function, carrying its event id, type and subject ids, entered on every
//! poll of an async body, so log lines inside the call carry the event id and
//! `tracing-opentelemetry` sees the call.
//!
//! The span's callsite must be static per function, so the expansion writes
//! [`call_span!`](crate::__private::call_span) where the call starts: with the feature it is
//! `tracing::info_span!` (the cfg is evaluated here, in `history`, not in the user's crate),
//! without it nothing. When no subscriber wants the span, `info_span!` gives a disabled span
//! after one check of its callsite's cached interest.

use crate::EventStatus;

/// The span of one call; empty without the feature.
#[derive(Debug)]
pub(crate) struct Bridge {
    #[cfg(feature = "tracing-spans")]
    span: tracing::Span,
}

impl Bridge {
    /// No span.
    #[inline]
    pub(crate) fn none() -> Bridge {
        Bridge {
            #[cfg(feature = "tracing-spans")]
            span: tracing::Span::none(),
        }
    }

    /// A bridge to `span`.
    #[cfg(feature = "tracing-spans")]
    #[inline]
    pub(crate) fn new(span: tracing::Span) -> Bridge {
        Bridge { span }
    }

    /// This bridge, leaving none in its place (to enter it while the call is borrowed).
    #[inline]
    pub(crate) fn take(&mut self) -> Bridge {
        std::mem::replace(self, Bridge::none())
    }

    /// Runs `f` inside the span.
    #[inline]
    pub(crate) fn in_scope<R>(&self, f: impl FnOnce() -> R) -> R {
        #[cfg(feature = "tracing-spans")]
        {
            self.span.in_scope(f)
        }
        #[cfg(not(feature = "tracing-spans"))]
        {
            f()
        }
    }

    /// Records how the call ended on the span (`history.status`, and `otel.status_code` =
    /// `error` for a failure, which `tracing-opentelemetry` reads as the span's status).
    #[inline]
    pub(crate) fn finish(&self, status: EventStatus) {
        #[cfg(feature = "tracing-spans")]
        if !self.span.is_disabled() {
            self.span.record("history.status", status.as_str());
            if status == EventStatus::Failed {
                self.span.record("otel.status_code", "error");
            }
        }
        #[cfg(not(feature = "tracing-spans"))]
        let _ = status;
    }
}

/// The span of the call `$starting` (a `Starting`) for the function `$name`, set on it;
/// nothing without the feature `tracing-spans`.
#[cfg(feature = "tracing-spans")]
#[doc(hidden)]
#[macro_export]
macro_rules! __history_call_span {
    ($starting:ident, $name:literal) => {{
        let __history_span = {
            let __history_e = $starting.prepared_event();
            $crate::__private::tracing::info_span!(
                $name,
                history.event_id = %__history_e.id,
                history.event_type = %__history_e.event_type,
                user_id = __history_e.user_id.as_ref().map($crate::__private::tracing::field::display),
                vm_id = __history_e.vm_id.as_ref().map($crate::__private::tracing::field::display),
                credential_id = __history_e
                    .credential_id
                    .as_ref()
                    .map($crate::__private::tracing::field::display),
                organization_id = __history_e
                    .organization_id
                    .as_ref()
                    .map($crate::__private::tracing::field::display),
                history.status = $crate::__private::tracing::field::Empty,
                otel.status_code = $crate::__private::tracing::field::Empty,
            )
        };
        $starting.set_tracing_span(__history_span);
    }};
}

/// Without the feature `tracing-spans`: no span.
#[cfg(not(feature = "tracing-spans"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __history_call_span {
    ($starting:ident, $name:literal) => {};
}

pub use crate::__history_call_span as call_span;
