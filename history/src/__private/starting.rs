//! [`Starting`]: a tracked call being set up, before its in-progress record.

use std::borrow::Cow;

use crate::context::{self, Span};
use crate::external_trace;
use crate::recorder::CallRecord as Record;
use crate::{Durability, Event, EventType, TerraformStatus};

use super::call::{submit, Active, Call, CallRecorder};
use super::scrub::scrub_labels;
use super::sink::Parameters;
use super::site::Options;
use super::span_bridge::Bridge;

impl Call {
    /// Completes `event` from where the call runs (parent, trace, the scope's [`Context`]
    /// ids) and records it as in progress.
    ///
    /// [`Context`]: crate::context::Context
    pub fn start(recorder: impl Into<CallRecorder>, event: Event, options: Options) -> Call {
        Starting::new(recorder.into(), event, options).start()
    }

    /// A call whose event starts now and is built in place (the expansion sets the ids
    /// through [`Starting::event_mut`]), then [`Starting::start`]ed: the event is not moved
    /// on its way into the call.
    #[inline]
    pub fn begin(
        recorder: impl Into<CallRecorder>,
        event_type: EventType,
        operation: impl Into<Cow<'static, str>>,
        parameters: impl Into<Parameters>,
        options: Options,
    ) -> Starting {
        let parameters = parameters.into();
        let secrets = parameters.redactor().map(Box::new);
        let event = Event::starting_at(
            crate::event::now_micros(),
            event_type,
            operation.into(),
            parameters.json,
        );
        let mut starting = Starting::new(recorder.into(), event, options);
        starting.active.secrets = secrets;
        starting
    }
}

/// A call being set up: its event can still be changed; [`Starting::start`] records it.
#[derive(Debug)]
pub struct Starting {
    active: Box<Active>,
    /// The event was completed from where the call runs ([`Starting::prepared_event`]).
    prepared: bool,
}

impl Starting {
    #[inline]
    pub(super) fn new(recorder: CallRecorder, event: Event, options: Options) -> Starting {
        let span = Span {
            id: event.id,
            trace_id: event.id,
        };
        Starting {
            active: Box::new(Active {
                recorder,
                event,
                slot: None,
                span,
                options,
                started_body: false,
                body_returned: false,
                secrets: None,
                bridge: Bridge::none(),
            }),
            prepared: false,
        }
    }

    /// Sets the span the call runs in (made by [`call_span!`](crate::__private::call_span)).
    #[cfg(feature = "tracing-spans")]
    #[inline]
    pub fn set_tracing_span(&mut self, span: tracing::Span) {
        self.active.bridge = Bridge::new(span);
    }

    /// The event, to fill in before it is recorded.
    #[inline]
    pub fn event_mut(&mut self) -> &mut Event {
        &mut self.active.event
    }

    /// The event completed from where the call runs (parent, trace, the scope's
    /// [`Context`](crate::context::Context) ids), as it will be recorded; ids set on it
    /// afterwards through [`Starting::event_mut`] still win.
    pub fn prepared_event(&mut self) -> &Event {
        if !self.prepared {
            self.prepared = true;
            let Active { event, span, .. } = &mut *self.active;
            if let Some(parent) = context::current_span() {
                event.parent_id = Some(parent.id);
                event.trace_id = Some(parent.trace_id);
                span.trace_id = parent.trace_id;
            } else {
                event.trace_id = Some(event.id);
            }
            context::with_current(|cx| {
                let Some(cx) = cx else { return };
                for (field, from) in [
                    (&mut event.user_id, &cx.user_id),
                    (&mut event.vm_id, &cx.vm_id),
                    (&mut event.credential_id, &cx.credential_id),
                    (&mut event.organization_id, &cx.organization_id),
                ] {
                    if field.is_none() {
                        field.clone_from(from);
                    }
                }
                if event.correlation_id.is_none() {
                    event.correlation_id.clone_from(&cx.correlation_id);
                }
                for (k, v) in &cx.labels {
                    event.labels.entry(k.clone()).or_insert_with(|| v.clone());
                }
            });
        }
        &self.active.event
    }

    /// Completes the event from where the call runs (parent, trace, the scope's [`Context`]
    /// ids, the external trace ids current on this thread) and records it as in progress.
    ///
    /// [`Context`]: crate::context::Context
    pub fn start(mut self) -> Call {
        self.prepared_event();
        let mut active = self.active;
        let secrets = active.secrets.take();
        let Active {
            recorder,
            event,
            slot,
            options,
            bridge,
            ..
        } = &mut *active;
        if event.external_trace_id.is_none() {
            // Inside the call's own span, when the bridge made one: its ids are the call's.
            if let Some((trace, span)) = bridge.in_scope(external_trace::read_for_call) {
                event.external_trace_id = Some(trace);
                event.external_span_id = span;
            }
        }
        if !event.labels.is_empty() {
            scrub_labels(&mut event.labels, recorder.capturing(), secrets.as_deref());
        }
        if options.terraform {
            event.terraform_status = Some(TerraformStatus::Initiated);
        }
        // The queue gets a copy; the call keeps the original.
        *slot = submit(recorder, Record::Copy(event), Durability::Buffered);
        active.secrets = secrets;
        Call {
            active: Some(active),
        }
    }
}
