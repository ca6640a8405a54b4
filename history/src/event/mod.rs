//! The data model: one [`Event`] per recorded operation.

mod clock;
mod error_info;
mod ids;
mod kind;
pub mod limits;
mod progress;
mod w3c;

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};

pub(crate) use clock::now_micros;
pub(crate) use error_info::source_chain;
pub use error_info::{ErrorInfo, MAX_SOURCES};
pub use ids::{EventId, SubjectId};
pub use kind::{EventStatus, EventType, TerraformStatus};
pub use w3c::{parse_traceparent, W3cSpanId, W3cTraceId};

use crate::{Error, Json};

/// One recorded operation: who ran it, on what, with which inputs, what came out, what failed
/// and how long it took.
///
/// Serializes to the JSON shape the system was specified with:
///
/// ```json
/// {"id": "…", "event_type": "vm_create", "status": "success",
///  "timestamp": "2023-06-01T12:00:00Z", "user_id": 1, "vm_id": 2, "credential_id": 3,
///  "parameters": {"name": "my-vm"}, "result": {"instance_id": "i-1"}, "duration": 5.67}
/// ```
///
/// `timestamp` is when the operation started ([`Event::started_at`]); `duration` is in seconds.
/// Timestamps and durations are kept to the microsecond, the precision every store keeps.
/// Optional fields that are unset are left out.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Unique, time-ordered id; the in-progress and final records of one call share it.
    pub id: EventId,
    /// What kind of operation.
    pub event_type: EventType,
    /// Where it stands.
    pub status: EventStatus,
    /// When it started.
    #[serde(rename = "timestamp")]
    pub started_at: DateTime<Utc>,
    /// When it finished, once it has.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
    /// How long it took, once it has finished.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "duration_seconds"
    )]
    pub duration: Option<Duration>,
    /// The operation, usually the fully qualified function name (`my_crate::VmService::create`).
    /// Borrowed when it is a constant (the macros' names are), so recording one costs no copy.
    pub operation: Cow<'static, str>,
    /// The user who ran it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<SubjectId>,
    /// The VM it concerns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vm_id: Option<SubjectId>,
    /// The credential it used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential_id: Option<SubjectId>,
    /// The organization it ran for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization_id: Option<SubjectId>,
    /// Free-form key/value labels (`region = "us-east-1"`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// The machine it ran on (a host name). A [`Recorder`](crate::Recorder) sets it on every
    /// event that has none: the machine's host name unless configured otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// The program or service that ran it (`billing-api`, `worker`). A
    /// [`Recorder`](crate::Recorder) sets it on every event that has none: the program's name
    /// unless configured otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// The inputs, as a JSON object (secrets skipped or redacted).
    #[serde(default)]
    pub parameters: Json,
    /// What it returned, when it succeeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Json>,
    /// What went wrong, when it failed. Boxed: most events have none, and every event is
    /// moved through the recorder's queue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Box<ErrorInfo>>,
    /// The event of the tracked call this one ran inside.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<EventId>,
    /// The id shared by every event of one tree of nested calls (the root event's id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<EventId>,
    /// A caller-supplied id tying events together (a request id, a job id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    /// The W3C trace id of the distributed trace the operation ran in (OpenTelemetry's trace
    /// id, or a `traceparent` header's): 32 lowercase hex digits in JSON. Unlike
    /// [`Event::trace_id`], which names the history's own tree of nested calls, it joins the
    /// event to the logs and spans other tools keep of the same request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_trace_id: Option<W3cTraceId>,
    /// The W3C span id of the span the operation ran in (the span that was current when it
    /// started; for a request with a `traceparent` header, the caller's span): 16 lowercase
    /// hex digits in JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_span_id: Option<W3cSpanId>,
    /// For Terraform runs: where the run stands.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terraform_status: Option<TerraformStatus>,
    /// Execution details of a process run (exit code, kept output lines, change summary,
    /// per-host stats), as the executors record them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution: Option<Json>,
}

/// The current time, to the microsecond (the precision events keep).
pub fn now() -> DateTime<Utc> {
    clock::datetime(clock::now_micros())
}

impl Event {
    /// Starts building an event of `event_type` for `operation`; see [`EventBuilder`].
    ///
    /// ```
    /// use history::{Event, EventType, EventStatus};
    /// let event = Event::builder(EventType::VmCreate, "vm_service::create")
    ///     .user_id(1)
    ///     .vm_id(2)
    ///     .parameters(&serde_json::json!({"name": "my-vm"}))?
    ///     .status(EventStatus::Success)
    ///     .build()?;
    /// assert_eq!(event.user_id, Some(1.into()));
    /// # Ok::<(), history::Error>(())
    /// ```
    pub fn builder(event_type: EventType, operation: impl Into<String>) -> EventBuilder {
        EventBuilder {
            event: Event::new(event_type, operation),
        }
    }

    /// A new in-progress event that starts now, with no ids, parameters or outcome.
    /// Not validated; see [`Event::validate`].
    ///
    /// The clock is read once: the id (a UUID v7, increasing on each thread) is made from
    /// the same reading as [`Event::started_at`].
    pub fn new(event_type: EventType, operation: impl Into<String>) -> Event {
        Event::starting_at(
            clock::now_micros(),
            event_type,
            Cow::Owned(operation.into()),
            Json::empty_object(),
        )
    }

    /// A new in-progress event that started `micros` microseconds after the Unix epoch.
    pub(crate) fn starting_at(
        micros: i64,
        event_type: EventType,
        operation: Cow<'static, str>,
        parameters: Json,
    ) -> Event {
        Event {
            id: EventId::from_uuid(clock::uuid_at(micros)),
            event_type,
            status: EventStatus::InProgress,
            started_at: clock::datetime(micros),
            finished_at: None,
            duration: None,
            operation,
            user_id: None,
            vm_id: None,
            credential_id: None,
            organization_id: None,
            labels: BTreeMap::new(),
            host: None,
            service: None,
            parameters,
            result: None,
            error: None,
            parent_id: None,
            trace_id: None,
            correlation_id: None,
            external_trace_id: None,
            external_span_id: None,
            terraform_status: None,
            execution: None,
        }
    }

    /// Marks the event finished now with `status`, setting `finished_at` and `duration`.
    pub fn finish(&mut self, status: EventStatus) {
        self.finish_at(
            status,
            clock::now_micros(),
            self.started_at.timestamp_micros(),
        );
    }

    /// [`Event::finish`] at `end` (microseconds since the Unix epoch), for an event that
    /// started at `start` (its `started_at`, already in microseconds). A clock that went back
    /// gives a zero duration and `finished_at` = `started_at`, never one before it.
    pub(crate) fn finish_at(&mut self, status: EventStatus, end: i64, start: i64) {
        let elapsed = end.saturating_sub(start).max(0);
        self.status = status;
        self.duration = Some(Duration::from_micros(elapsed as u64));
        self.finished_at = Some(clock::datetime(start.saturating_add(elapsed)));
    }

    /// Checks every limit (see [`limits`]); the error names the field and the limit.
    pub fn validate(&self) -> Result<(), Error> {
        limits::check_name("operation", &self.operation)?;
        if let EventType::Custom(name) = &self.event_type {
            EventType::custom(name.as_str())?;
        }
        for (field, id) in [
            ("user_id", &self.user_id),
            ("vm_id", &self.vm_id),
            ("credential_id", &self.credential_id),
            ("organization_id", &self.organization_id),
        ] {
            if let Some(SubjectId::Text(text)) = id {
                limits::check_id(field, text)?;
            }
        }
        for (field, value) in [
            ("correlation_id", &self.correlation_id),
            ("host", &self.host),
            ("service", &self.service),
        ] {
            if let Some(v) = value {
                limits::check_id(field, v)?;
            }
        }
        if self.external_span_id.is_some() && self.external_trace_id.is_none() {
            return Err(Error::invalid(
                "external_span_id",
                "needs an external_trace_id (a span belongs to a trace)",
            ));
        }
        if self.labels.len() > limits::MAX_LABELS {
            return Err(Error::invalid(
                "labels",
                format!(
                    "must hold at most {} labels (got {})",
                    limits::MAX_LABELS,
                    self.labels.len()
                ),
            ));
        }
        for (k, v) in &self.labels {
            limits::check_name("labels key", k)?;
            limits::check_message("labels value", v)?;
        }
        if let Some(e) = &self.error {
            limits::check_message("error.message", &e.message)?;
            if let Some(kind) = &e.kind {
                limits::check_name("error.kind", kind)?;
            }
        }
        if let (Some(end), true) = (self.finished_at, self.status.is_terminal()) {
            if end < self.started_at {
                return Err(Error::invalid(
                    "finished_at",
                    "must not be before timestamp (started_at)",
                ));
            }
        }
        Ok(())
    }

    /// Brings an event built by the instrumentation within the limits instead of rejecting it:
    /// over-long messages, names and label values are cut (saying how much was cut), empty or
    /// over-long ids dropped, surplus labels dropped. An operation must never fail, or lose its
    /// record, because its error message was long.
    pub fn fit_to_limits(&mut self) {
        if self.operation.is_empty() {
            self.operation = Cow::Borrowed("unknown");
        }
        if self.operation.len() > limits::MAX_NAME_CHARS {
            limits::truncate(self.operation.to_mut(), limits::MAX_NAME_CHARS);
        }
        for id in [
            &mut self.user_id,
            &mut self.vm_id,
            &mut self.credential_id,
            &mut self.organization_id,
        ] {
            if let Some(SubjectId::Text(t)) = id {
                if t.is_empty() || t.chars().count() > limits::MAX_ID_CHARS {
                    *id = None;
                }
            }
        }
        for text in [&mut self.correlation_id, &mut self.host, &mut self.service] {
            if let Some(c) = text {
                if c.is_empty() || c.chars().count() > limits::MAX_ID_CHARS {
                    *text = None;
                }
            }
        }
        if self.external_trace_id.is_none() {
            self.external_span_id = None;
        }
        while self.labels.len() > limits::MAX_LABELS {
            self.labels.pop_last();
        }
        let fits = |(k, v): (&String, &String)| {
            !k.is_empty()
                && k.len() <= limits::MAX_NAME_CHARS
                && v.len() <= limits::MAX_MESSAGE_CHARS
        };
        if !self.labels.iter().all(fits) {
            let labels = std::mem::take(&mut self.labels);
            for (mut k, mut v) in labels {
                if k.is_empty() {
                    continue;
                }
                limits::truncate(&mut k, limits::MAX_NAME_CHARS);
                limits::truncate(&mut v, limits::MAX_MESSAGE_CHARS);
                self.labels.insert(k, v);
            }
        }
        if let Some(e) = &mut self.error {
            e.fit_to_limits();
        }
    }
}

/// Builds a validated [`Event`] by hand (for operations the macros do not wrap).
#[derive(Clone, Debug)]
#[must_use = "call .build() to get the event"]
pub struct EventBuilder {
    event: Event,
}

impl EventBuilder {
    /// Uses this id instead of a fresh one.
    pub fn id(mut self, id: EventId) -> Self {
        self.event.id = id;
        self
    }
    /// Sets the status (default: in progress).
    pub fn status(mut self, status: EventStatus) -> Self {
        self.event.status = status;
        self
    }
    /// Sets the start time (default: now). Kept to the microsecond.
    pub fn started_at(mut self, at: DateTime<Utc>) -> Self {
        self.event.started_at = at.trunc_subsecs(6);
        self
    }
    /// Sets the finish time and the duration from it.
    pub fn finished_at(mut self, at: DateTime<Utc>) -> Self {
        let at = at.trunc_subsecs(6);
        self.event.finished_at = Some(at);
        self.event.duration = (at - self.event.started_at).to_std().ok();
        self
    }
    /// Sets the duration (kept to the microsecond).
    pub fn duration(mut self, duration: Duration) -> Self {
        self.event.duration = Some(Duration::from_micros(duration.as_micros() as u64));
        self
    }
    /// Sets the user.
    pub fn user_id(mut self, id: impl Into<SubjectId>) -> Self {
        self.event.user_id = Some(id.into());
        self
    }
    /// Sets the VM.
    pub fn vm_id(mut self, id: impl Into<SubjectId>) -> Self {
        self.event.vm_id = Some(id.into());
        self
    }
    /// Sets the credential.
    pub fn credential_id(mut self, id: impl Into<SubjectId>) -> Self {
        self.event.credential_id = Some(id.into());
        self
    }
    /// Sets the organization.
    pub fn organization_id(mut self, id: impl Into<SubjectId>) -> Self {
        self.event.organization_id = Some(id.into());
        self
    }
    /// Adds a label.
    pub fn label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.event.labels.insert(key.into(), value.into());
        self
    }
    /// Sets the host it ran on (default: the recorder's, see [`Event::host`]).
    pub fn host(mut self, host: impl Into<String>) -> Self {
        self.event.host = Some(host.into());
        self
    }
    /// Sets the service that ran it (default: the recorder's, see [`Event::service`]).
    pub fn service(mut self, service: impl Into<String>) -> Self {
        self.event.service = Some(service.into());
        self
    }
    /// Sets the parameters from any `Serialize` value (it should serialize to an object).
    pub fn parameters<T: Serialize + ?Sized>(mut self, value: &T) -> Result<Self, Error> {
        self.event.parameters = Json::from_serialize(value)
            .map_err(|e| Error::invalid("parameters", format!("must serialize to JSON ({e})")))?;
        Ok(self)
    }
    /// Sets the result from any `Serialize` value.
    pub fn result<T: Serialize + ?Sized>(mut self, value: &T) -> Result<Self, Error> {
        self.event.result = Some(
            Json::from_serialize(value)
                .map_err(|e| Error::invalid("result", format!("must serialize to JSON ({e})")))?,
        );
        Ok(self)
    }
    /// Sets the error.
    pub fn error(mut self, error: ErrorInfo) -> Self {
        self.event.error = Some(Box::new(error));
        self
    }
    /// Sets the parent event.
    pub fn parent_id(mut self, id: EventId) -> Self {
        self.event.parent_id = Some(id);
        self
    }
    /// Sets the trace id.
    pub fn trace_id(mut self, id: EventId) -> Self {
        self.event.trace_id = Some(id);
        self
    }
    /// Sets the correlation id.
    pub fn correlation_id(mut self, id: impl Into<String>) -> Self {
        self.event.correlation_id = Some(id.into());
        self
    }
    /// Sets the external (W3C) trace id and the span the operation ran in.
    pub fn external_trace(mut self, trace_id: W3cTraceId, span_id: Option<W3cSpanId>) -> Self {
        self.event.external_trace_id = Some(trace_id);
        self.event.external_span_id = span_id;
        self
    }
    /// Sets the Terraform status.
    pub fn terraform_status(mut self, status: TerraformStatus) -> Self {
        self.event.terraform_status = Some(status);
        self
    }
    /// Sets the execution details.
    pub fn execution(mut self, details: Json) -> Self {
        self.event.execution = Some(details);
        self
    }
    /// Validates and returns the event; the error names the field and the limit.
    pub fn build(self) -> Result<Event, Error> {
        self.event.validate()?;
        Ok(self.event)
    }
}

/// `Option<Duration>` as fractional seconds (`5.67`), kept to the microsecond.
mod duration_seconds {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_f64(d.as_micros() as f64 / 1e6),
            None => s.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Duration>, D::Error> {
        let secs = Option::<f64>::deserialize(d)?;
        match secs {
            None => Ok(None),
            Some(s) if (0.0..1e12).contains(&s) => {
                Ok(Some(Duration::from_micros((s * 1e6).round() as u64)))
            }
            Some(s) => Err(serde::de::Error::custom(format!(
                "duration must be a non-negative number of seconds (got {s})"
            ))),
        }
    }
}
