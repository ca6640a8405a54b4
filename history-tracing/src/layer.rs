//! [`HistoryLayer`]: spans carrying the marker field become events.

use std::cell::RefCell;

use history::context::{self, EnteredEvent};
use history::{Event, EventStatus, EventType, Recorder};
use tracing_core::span::{Attributes, Id, Record};
use tracing_core::{Event as LogEvent, Level, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

use crate::fields::{Fields, EVENT_ID_FIELD, EVENT_TYPE_FIELD};

/// A [`tracing_subscriber::Layer`] that records every span carrying the field
/// `history.event_type` as an [`Event`] of that type:
///
/// - when the span is first entered, an `in_progress` record (with the external trace ids,
///   when [`install_opentelemetry`](crate::install_opentelemetry) is in effect); when it
///   closes, the final record under the same id, with its duration;
/// - `failed` when the span has an `error` field (anything but `false`) or an error-level log
///   event happens inside it (its message is the error), else `success`;
/// - the operation is `target::name` (for `#[instrument]`, the module and the function);
/// - `user_id`, `vm_id`, `credential_id`, `organization_id` and `correlation_id` fields are
///   the event's ids (integers stay integers); every other field is a parameter, redacted
///   by the recorder's [`RedactionPolicy`](history::redact::RedactionPolicy) like the
///   arguments of a tracked function (fields named `otel.*` and `history.*` are left out);
/// - nesting follows the spans and tracked calls: a span inside a recorded span or a tracked
///   call is its child (`parent_id`, `trace_id`), and tracked calls inside a recorded span
///   are its children.
///
/// Spans of tracked functions (they carry `history.event_id`) are not recorded again.
///
/// ```
/// use history::{HistoryStore, MemoryStore, Recorder};
/// use history_tracing::HistoryLayer;
/// use tracing_subscriber::layer::SubscriberExt;
///
/// let recorder = Recorder::new(MemoryStore::new())?;
/// let subscriber = tracing_subscriber::registry().with(HistoryLayer::new(recorder.clone()));
/// tracing::subscriber::with_default(subscriber, || {
///     let span = tracing::info_span!("create_vm", history.event_type = "vm_create", user_id = 7);
///     span.in_scope(|| tracing::info!("creating"));
/// });
/// recorder.flush()?;
/// assert_eq!(recorder.store().count(&history::Filter::new().user_id(7))?, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct HistoryLayer {
    recorder: Recorder,
}

impl HistoryLayer {
    /// Records the marked spans with `recorder`.
    pub fn new(recorder: Recorder) -> HistoryLayer {
        HistoryLayer { recorder }
    }
}

/// A marked span's event, kept in the span's extensions until it closes.
#[derive(Debug)]
struct Recorded {
    event: Event,
    /// The in-progress record was sent (at the first enter).
    started: bool,
}

thread_local! {
    /// The recorded spans entered on this thread, innermost last: while one is entered, the
    /// tracked calls and marked spans started here are its children.
    static ENTERED: RefCell<Vec<(Id, EnteredEvent)>> = const { RefCell::new(Vec::new()) };
}

impl<S> Layer<S> for HistoryLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let meta = attrs.metadata();
        if meta.fields().field(EVENT_TYPE_FIELD).is_none()
            || meta.fields().field(EVENT_ID_FIELD).is_some()
        {
            return;
        }
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        let Some(event_type) = fields
            .event_type
            .as_deref()
            .and_then(|t| EventType::custom(t).ok())
        else {
            return;
        };
        let Some(span) = ctx.span(id) else { return };
        let mut event = Event::new(event_type, format!("{}::{}", meta.target(), meta.name()));
        // The tracked call or recorded span running on this thread, and the scope's ids.
        context::fill_event(&mut event);
        if event.parent_id.is_none() {
            // A span started elsewhere with an explicit parent.
            let parent = span.scope().skip(1).find_map(|s| {
                s.extensions()
                    .get::<Recorded>()
                    .map(|r| (r.event.id, r.event.trace_id.unwrap_or(r.event.id)))
            });
            if let Some((parent, trace)) = parent {
                event.parent_id = Some(parent);
                event.trace_id = Some(trace);
            }
        }
        if event.trace_id.is_none() {
            event.trace_id = Some(event.id);
        }
        fields.apply(&mut event);
        span.extensions_mut().insert(Recorded {
            event,
            started: false,
        });
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut ext = span.extensions_mut();
        let Some(recorded) = ext.get_mut::<Recorded>() else {
            return;
        };
        let mut fields = Fields::default();
        values.record(&mut fields);
        fields.apply(&mut recorded.event);
    }

    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let (event_id, trace_id, first) = {
            let mut ext = span.extensions_mut();
            let Some(recorded) = ext.get_mut::<Recorded>() else {
                return;
            };
            let first = !recorded.started;
            recorded.started = true;
            let event = &recorded.event;
            (event.id, event.trace_id.unwrap_or(event.id), first)
        };
        if first {
            // The span is the current one now: the external ids are its own. Read without
            // holding the extensions (the reader may look at this span's).
            let external = context::external_trace();
            let mut ext = span.extensions_mut();
            if let Some(recorded) = ext.get_mut::<Recorded>() {
                if let Some((trace, span_id)) = external {
                    recorded.event.external_trace_id = Some(trace);
                    recorded.event.external_span_id = span_id;
                }
                // Refused only when the recorder is shut down or its queue is full under
                // a dropping policy: the recorder counts it; a log line here would recurse.
                let _ = self.recorder.record_fitted(recorded.event.clone());
            }
        }
        let entered = context::enter_event(event_id, trace_id);
        let _ = ENTERED.try_with(|stack| stack.borrow_mut().push((id.clone(), entered)));
    }

    fn on_exit(&self, id: &Id, _ctx: Context<'_, S>) {
        let _ = ENTERED.try_with(|stack| {
            let mut stack = stack.borrow_mut();
            if let Some(at) = stack.iter().rposition(|(entered, _)| entered == id) {
                // Dropping the guard puts back the running call it replaced.
                drop(stack.remove(at));
            }
        });
    }

    fn on_event(&self, event: &LogEvent<'_>, ctx: Context<'_, S>) {
        if *event.metadata().level() != Level::ERROR {
            return;
        }
        let Some(scope) = ctx.event_scope(event) else {
            return;
        };
        for span in scope {
            let mut ext = span.extensions_mut();
            let Some(recorded) = ext.get_mut::<Recorded>() else {
                continue;
            };
            if recorded.event.error.is_none() {
                let mut fields = Fields::default();
                event.record(&mut fields);
                let info = fields
                    .error
                    .or_else(|| fields.message.map(history::ErrorInfo::new))
                    .unwrap_or_else(|| history::ErrorInfo::new("an error was logged"));
                recorded.event.error = Some(Box::new(info));
            }
            return;
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        let Some(Recorded { mut event, .. }) = span.extensions_mut().remove::<Recorded>() else {
            return;
        };
        let status = if event.error.is_some() {
            EventStatus::Failed
        } else {
            EventStatus::Success
        };
        event.finish(status);
        let _ = self.recorder.record_fitted(event);
    }
}
