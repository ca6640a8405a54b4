//! The W3C ids of the OpenTelemetry context current on this thread (feature `opentelemetry`).

use history::{W3cSpanId, W3cTraceId};
use opentelemetry::trace::TraceContextExt;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::Error;

/// Makes every event started from now on in this process store the W3C trace id and span id
/// of the OpenTelemetry context current when it starts ([`current_ids`]): tracked calls
/// (their own span's ids when `history`'s `tracing-spans` feature is on, else the caller's),
/// spans recorded by [`HistoryLayer`](crate::HistoryLayer), and requests recorded by
/// `history-http`'s layer that carry no `traceparent`.
///
/// Installed once per process; a second call is refused.
pub fn install_opentelemetry() -> Result<(), Error> {
    if history::context::set_external_trace_reader(current_ids) {
        Ok(())
    } else {
        Err(Error::ReaderAlreadyInstalled)
    }
}

/// The trace id and span id of the current OpenTelemetry context: the current `tracing`
/// span's (through `tracing-opentelemetry`) when it has a valid one, else the context
/// attached with the `opentelemetry` API. `None` when neither is valid.
pub fn current_ids() -> Option<(W3cTraceId, Option<W3cSpanId>)> {
    let from_tracing = tracing::Span::current().context();
    let span = from_tracing.span();
    let context = span.span_context();
    if context.is_valid() {
        return ids(context);
    }
    let attached = opentelemetry::Context::current();
    let span = attached.span();
    ids(span.span_context())
}

fn ids(context: &opentelemetry::trace::SpanContext) -> Option<(W3cTraceId, Option<W3cSpanId>)> {
    if !context.is_valid() {
        return None;
    }
    let trace = W3cTraceId::from_bytes(context.trace_id().to_bytes())?;
    Some((trace, W3cSpanId::from_bytes(context.span_id().to_bytes())))
}
