//! [`Call`]: the guard one tracked call keeps from start to finish.

use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::context::{self, Span};
use crate::recorder::Slot;
use chrono::{DateTime, Utc};

use crate::recorder::CallRecord as Record;
use crate::{Durability, ErrorInfo, Event, EventId, EventStatus, Json, Recorder, TerraformStatus};

use super::outcome::panic_error;
pub use super::recorder_arg::AsRecorder;
use super::scrub::{scrub_error, scrub_json};
use super::sink::{capture_with, Sink};
use super::site::Options;
use super::span_bridge::Bridge;
use crate::redact::{self, Redactor};

/// The guard of one tracked call: records the in-progress event when created and the final
/// event (same id) when told the outcome; records `cancelled` if dropped before that (a
/// future dropped mid-way), `failed` with kind `panic` if the body panics.
#[derive(Debug)]
pub struct Call {
    // Boxed: the event is ~450 bytes, and the call (and every async fn future holding it)
    // would otherwise carry and move all of it.
    pub(super) active: Option<Box<Active>>,
}

/// The recorder a call records to: given (`recorder = ...`) or this thread's handle to the
/// default (whose reference count no other thread touches).
#[derive(Debug)]
pub enum CallRecorder {
    /// Given by `recorder = ...`.
    Given(Recorder),
    /// The default, as this thread's handle.
    Default(Arc<Recorder>),
}

impl From<Recorder> for CallRecorder {
    #[inline]
    fn from(recorder: Recorder) -> Self {
        CallRecorder::Given(recorder)
    }
}

impl From<Arc<Recorder>> for CallRecorder {
    #[inline]
    fn from(recorder: Arc<Recorder>) -> Self {
        CallRecorder::Default(recorder)
    }
}

impl std::ops::Deref for CallRecorder {
    type Target = Recorder;
    #[inline]
    fn deref(&self) -> &Recorder {
        match self {
            CallRecorder::Given(r) => r,
            CallRecorder::Default(r) => r,
        }
    }
}

#[derive(Debug)]
pub(super) struct Active {
    pub(super) recorder: CallRecorder,
    pub(super) event: Event,
    /// Where the call's last record waits in the recorder's queue, if it still may.
    pub(super) slot: Option<Slot>,
    pub(super) span: Span,
    pub(super) options: Options,
    pub(super) started_body: bool,
    /// The body returned: what remains is recording its outcome.
    pub(super) body_returned: bool,
    /// Scrubs the values of the redacted arguments from the rest of the event; only when a
    /// call redacted something.
    pub(super) secrets: Option<Box<Redactor>>,
    /// The `tracing` span the call runs in (feature `tracing-spans`).
    pub(super) bridge: Bridge,
}

impl Call {
    /// A call that records nothing (no recorder).
    #[inline]
    pub fn disabled() -> Call {
        Call { active: None }
    }

    /// Whether this call records.
    #[inline]
    pub fn is_active(&self) -> bool {
        self.active.is_some()
    }

    /// Captures one value (the result) under the recorder's settings: redacted, within the
    /// size cap, a panic in its `Serialize` caught.
    #[inline]
    pub fn capture(&self, write: impl FnOnce(&mut Sink<'_>)) -> Json {
        let settings = match &self.active {
            Some(active) => active.recorder.capturing(),
            None => &redact::DEFAULT_CAPTURING,
        };
        capture_with(settings, write)
    }

    /// Runs the body of a sync function inside the call: nested tracked calls see it as
    /// their parent; a panic is recorded and resumed.
    #[inline]
    pub fn run<R>(&mut self, body: impl FnOnce() -> R) -> R {
        let Some(active) = self.active.as_mut() else {
            return body();
        };
        active.body_starts();
        let bridge = active.bridge.take();
        let previous = context::enter_span(Some(active.span));
        let outcome = bridge.in_scope(|| catch_unwind(AssertUnwindSafe(body)));
        context::restore_span(previous);
        if let Some(active) = self.active.as_mut() {
            active.bridge = bridge;
        }
        match outcome {
            Ok(value) => {
                if let Some(active) = self.active.as_mut() {
                    active.body_returned = true;
                }
                value
            }
            Err(payload) => {
                self.panicked(&*payload);
                resume_unwind(payload)
            }
        }
    }

    pub(super) fn panicked(&mut self, payload: &(dyn std::any::Any + Send)) {
        if let Some(active) = self.active.take() {
            active.finish(EventStatus::Failed, None, Some(panic_error(payload)));
        }
    }

    /// Records success with the captured result (`None`: not captured).
    #[inline]
    pub fn succeed(&mut self, result: Option<Json>) {
        if let Some(active) = self.active.take() {
            active.finish(EventStatus::Success, result, None);
        }
    }

    /// Records failure with the captured error, and the value when the failure is a
    /// returned value that `ok_if` / `error_if` rejected.
    pub fn fail(&mut self, mut error: ErrorInfo, result: Option<Json>) {
        if let Some(mut active) = self.active.take() {
            // Stamp the end first: capturing a backtrace is not part of the operation.
            active.event.finish(EventStatus::Failed);
            if error.backtrace.is_none() {
                let bt = if active.options.backtrace {
                    std::backtrace::Backtrace::force_capture()
                } else {
                    std::backtrace::Backtrace::capture()
                };
                if bt.status() == std::backtrace::BacktraceStatus::Captured {
                    // Frames only: the writer resolves the symbols, off this thread.
                    if let Err(bt) = active.recorder.defer_backtrace(active.event.id, bt) {
                        error.backtrace = Some(bt.to_string());
                    }
                }
            }
            active.finish(EventStatus::Failed, result, Some(error));
        }
    }
}

impl Active {
    /// For Terraform calls: the command is about to run.
    #[inline]
    pub(super) fn body_starts(&mut self) {
        if self.started_body {
            return;
        }
        self.started_body = true;
        if self.options.terraform {
            self.event.terraform_status = Some(TerraformStatus::Provisioning);
            let change = Change {
                status: self.event.status,
                finished_at: None,
                duration: None,
                result: None,
                error: None,
                terraform_status: self.event.terraform_status,
                fields: None,
            };
            if let Some(change) = self.update(change, Durability::Buffered) {
                // The writer has the in-progress record: this one goes on its own.
                change.apply(&mut self.event);
                self.slot = submit(
                    &self.recorder,
                    Record::Copy(&mut self.event),
                    Durability::Buffered,
                );
            }
        }
    }

    /// Applies `change` to the call's previous record while that is still queued; else
    /// gives it back. Never fails the call (see [`submit`]).
    #[inline]
    fn update(&mut self, change: Change, durability: Durability) -> Option<Change> {
        let Some(slot) = self.slot else {
            return Some(change);
        };
        match self
            .recorder
            .update_call(slot, &self.event, durability, change, Change::apply)
        {
            Ok(given_back) => given_back.err(),
            Err(e) => {
                self.slot = None;
                let sync = durability == Durability::Sync;
                report(&e, sync.then_some((self.event.id, &*self.event.operation)));
                None
            }
        }
    }

    fn finish(
        mut self: Box<Self>,
        status: EventStatus,
        result: Option<Json>,
        error: Option<ErrorInfo>,
    ) {
        if self.event.finished_at.is_none() {
            self.event.finish(status);
        }
        self.bridge.finish(status);
        let settings = self.recorder.capturing();
        let error = error.map(|mut error| {
            scrub_error(&mut error, settings, self.secrets.as_deref());
            error.fit_to_limits();
            Box::new(error)
        });
        let result = match (result, self.secrets.as_deref()) {
            (Some(json), Some(secrets)) => Some(scrub_json(json, secrets)),
            (result, _) => result,
        };
        let change = Change {
            status,
            finished_at: self.event.finished_at,
            duration: self.event.duration,
            result,
            error,
            terraform_status: if self.options.terraform {
                Some(if status == EventStatus::Success {
                    TerraformStatus::Completed
                } else {
                    TerraformStatus::Failed
                })
            } else {
                self.event.terraform_status
            },
            fields: crate::current_call::take(self.event.id).map(|mut fields| {
                fields.redact(&settings.policy, self.secrets.as_deref());
                fields
            }),
        };
        let durability = self.options.durability;
        if let Some(change) = self.update(change, durability) {
            let Active {
                recorder,
                mut event,
                ..
            } = *self;
            change.apply(&mut event);
            submit(&recorder, Record::Last(event), durability);
        }
    }
}

/// What a later record of a call changes in its earlier one: applied to the queued record in
/// place while the writer has not taken it, else to a copy recorded on its own.
struct Change {
    status: EventStatus,
    finished_at: Option<DateTime<Utc>>,
    duration: Option<Duration>,
    result: Option<Json>,
    error: Option<Box<ErrorInfo>>,
    terraform_status: Option<TerraformStatus>,
    /// Fields set from inside the call (`history::current_call`).
    fields: Option<crate::current_call::Fields>,
}

impl Change {
    #[inline]
    fn apply(self, event: &mut Event) {
        if let Some(fields) = self.fields {
            fields.apply(event);
        }
        event.status = self.status;
        event.finished_at = self.finished_at;
        event.duration = self.duration;
        event.result = self.result;
        event.error = self.error;
        event.terraform_status = self.terraform_status;
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        if let Some(active) = self.active.take() {
            if active.body_returned && std::thread::panicking() {
                // The body returned and recording its outcome panicked (in capturing the
                // result, say). A body that had not returned was cancelled, even when the
                // drop comes from a panic elsewhere unwinding through its owner.
                active.finish(
                    EventStatus::Failed,
                    None,
                    Some(ErrorInfo::new("panicked while recording the call").with_kind("panic")),
                );
            } else {
                active.finish(EventStatus::Cancelled, None, None);
            }
        }
    }
}

/// Hands an event to the recorder; returns where it waits in the queue. Never fails the call:
/// see [`report`].
#[inline]
pub(super) fn submit(
    recorder: &Recorder,
    record: Record<'_>,
    durability: Durability,
) -> Option<Slot> {
    // Named in the warning when a synchronous record fails.
    let named = (durability == Durability::Sync).then(|| {
        let event = record.event();
        (event.id, event.operation.clone())
    });
    match recorder.record_call(record, durability) {
        Ok(slot) => Some(slot),
        Err(e) => {
            report(&e, named.as_ref().map(|(id, op)| (*id, &**op)));
            None
        }
    }
}

/// A refused record (recorder shut down, queue full under drop-newest) is reported once; a
/// synchronous record that could not be committed (also counted in
/// [`RecorderStats::lost`](crate::RecorderStats::lost)) is reported every time, naming the
/// event.
#[cold]
fn report(error: &crate::Error, sync: Option<(EventId, &str)>) {
    if let Some((id, operation)) = sync {
        tracing::warn!(
            "history: the synchronous record of `{operation}` (event {id}) may not be \
             committed: {error}"
        );
    } else {
        static REPORTED: AtomicBool = AtomicBool::new(false);
        if !REPORTED.swap(true, Ordering::Relaxed) {
            tracing::warn!("history: a tracked call's event was not recorded: {error}");
        }
    }
}
