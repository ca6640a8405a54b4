//! [`Filter`]: which events — the one definition shared by pages, counts, statistics,
//! retention and export.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::event::{Event, EventId, EventStatus, EventType, SubjectId, W3cSpanId, W3cTraceId};
use crate::store::error::StoreError;

/// Which events: every condition that is set must hold (AND); a list condition holds when any
/// of its values matches (OR). An empty filter matches every event.
///
/// [`Filter::matches`] is the meaning of each condition; every store agrees with it (the
/// conformance suite checks). A [`Query`](crate::Query) is a filter plus an order, a page size
/// and a cursor; [`StatsQuery`](crate::stats::StatsQuery) and
/// [`Retention`](crate::retention::Retention) take a filter alone.
///
/// ```
/// use history::{EventStatus, EventType, Filter};
/// let failed_creates = Filter::new()
///     .event_type(EventType::VmCreate)
///     .status(EventStatus::Failed)
///     .user_id(42);
/// assert_eq!(failed_creates.statuses, [EventStatus::Failed]);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Filter {
    /// Any of these types (empty: all).
    pub event_types: Vec<EventType>,
    /// Any of these statuses (empty: all).
    pub statuses: Vec<EventStatus>,
    /// This user.
    pub user_id: Option<SubjectId>,
    /// This VM.
    pub vm_id: Option<SubjectId>,
    /// This credential.
    pub credential_id: Option<SubjectId>,
    /// This organization.
    pub organization_id: Option<SubjectId>,
    /// Children of this event.
    pub parent_id: Option<EventId>,
    /// Events of this trace.
    pub trace_id: Option<EventId>,
    /// This correlation id.
    pub correlation_id: Option<String>,
    /// Ran in this distributed trace (the external W3C trace id).
    pub external_trace_id: Option<W3cTraceId>,
    /// Ran in this span of a distributed trace (the external W3C span id).
    pub external_span_id: Option<W3cSpanId>,
    /// This operation (exact name).
    pub operation: Option<String>,
    /// Ran on this host (exact name).
    pub host: Option<String>,
    /// Ran in this service (exact name).
    pub service: Option<String>,
    /// Every one of these labels, with these values.
    pub labels: BTreeMap<String, String>,
    /// Started at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Started strictly before this time.
    pub until: Option<DateTime<Utc>>,
    /// Took at least this long (events without a duration never match).
    pub min_duration: Option<Duration>,
    /// Took at most this long (events without a duration never match).
    pub max_duration: Option<Duration>,
    /// The error message or one of its sources contains this text (case-sensitive).
    pub error_contains: Option<String>,
}

/// Calls the macro `$then` with every builder method of [`Filter`]: its doc, name, arguments
/// and what it sets in the filter `f`. [`Filter`]'s methods and
/// [`Query`](crate::Query)'s (which set its filter) are both made from this one list.
macro_rules! with_filter_setters {
    ($then:ident) => {
        $then! {

        /// Adds an event type to match.
        fn event_type(&mut f, t: EventType) { f.event_types.push(t); }
        /// Adds a status to match.
        fn status(&mut f, s: EventStatus) { f.statuses.push(s); }
        /// Only this user's events.
        fn user_id(&mut f, id: impl Into<SubjectId>) { f.user_id = Some(id.into()); }
        /// Only this VM's events.
        fn vm_id(&mut f, id: impl Into<SubjectId>) { f.vm_id = Some(id.into()); }
        /// Only this credential's events.
        fn credential_id(&mut f, id: impl Into<SubjectId>) { f.credential_id = Some(id.into()); }
        /// Only this organization's events.
        fn organization_id(&mut f, id: impl Into<SubjectId>) {
            f.organization_id = Some(id.into());
        }
        /// Only children of this event.
        fn parent_id(&mut f, id: EventId) { f.parent_id = Some(id); }
        /// Only events of this trace.
        fn trace_id(&mut f, id: EventId) { f.trace_id = Some(id); }
        /// Only events with this correlation id.
        fn correlation_id(&mut f, id: impl Into<String>) { f.correlation_id = Some(id.into()); }
        /// Only events that ran in this distributed trace (external W3C trace id).
        fn external_trace_id(&mut f, id: W3cTraceId) { f.external_trace_id = Some(id); }
        /// Only events that ran in this span of a distributed trace (external W3C span id).
        fn external_span_id(&mut f, id: W3cSpanId) { f.external_span_id = Some(id); }
        /// Only this operation.
        fn operation(&mut f, op: impl Into<String>) { f.operation = Some(op.into()); }
        /// Only events that ran on this host.
        fn host(&mut f, host: impl Into<String>) { f.host = Some(host.into()); }
        /// Only events of this service.
        fn service(&mut f, service: impl Into<String>) { f.service = Some(service.into()); }
        /// Only events carrying this label with this value.
        fn label(&mut f, key: impl Into<String>, value: impl Into<String>) {
            f.labels.insert(key.into(), value.into());
        }
        /// Only events that started at or after `t`.
        fn since(&mut f, t: DateTime<Utc>) { f.since = Some(t); }
        /// Only events that started before `t`.
        fn until(&mut f, t: DateTime<Utc>) { f.until = Some(t); }
        /// Only events that took at least `d`.
        fn min_duration(&mut f, d: Duration) { f.min_duration = Some(d); }
        /// Only events that took at most `d`.
        fn max_duration(&mut f, d: Duration) { f.max_duration = Some(d); }
        /// Only events whose error mentions `text`.
        fn error_contains(&mut f, text: impl Into<String>) { f.error_contains = Some(text.into()); }
        }
    };
}
pub(crate) use with_filter_setters;

/// The shape of the list [`with_filter_setters`] hands over, made into [`Filter`]'s methods.
macro_rules! filter_setters {
    ($(
        $(#[$doc:meta])*
        fn $name:ident(&mut $f:ident $(, $arg:ident: $ty:ty)*) $body:block
    )*) => {
        impl Filter {
            $(
                $(#[$doc])*
                pub fn $name(mut self $(, $arg: $ty)*) -> Self {
                    let $f = &mut self;
                    $body
                    self
                }
            )*
        }
    };
}

with_filter_setters!(filter_setters);

impl Filter {
    /// Every event.
    pub fn new() -> Filter {
        Filter::default()
    }

    /// Rejects a filter no event can pass by construction: a minimum duration above the
    /// maximum.
    pub fn validate(&self) -> Result<(), StoreError> {
        if let (Some(a), Some(b)) = (self.min_duration, self.max_duration) {
            if a > b {
                return Err(StoreError::InvalidQuery(
                    "`min_duration` must not exceed `max_duration`".into(),
                ));
            }
        }
        Ok(())
    }

    /// Whether no condition is set (every event matches).
    pub fn matches_everything(&self) -> bool {
        *self == Filter::default()
    }

    /// Whether `event` passes every condition. This is the meaning of each condition; every
    /// store must agree with it (the conformance suite checks).
    pub fn matches(&self, event: &Event) -> bool {
        (self.event_types.is_empty() || self.event_types.contains(&event.event_type))
            && (self.statuses.is_empty() || self.statuses.contains(&event.status))
            && opt_eq(&self.user_id, &event.user_id)
            && opt_eq(&self.vm_id, &event.vm_id)
            && opt_eq(&self.credential_id, &event.credential_id)
            && opt_eq(&self.organization_id, &event.organization_id)
            && opt_eq(&self.parent_id, &event.parent_id)
            && opt_eq(&self.trace_id, &event.trace_id)
            && opt_eq(&self.correlation_id, &event.correlation_id)
            && opt_eq(&self.external_trace_id, &event.external_trace_id)
            && opt_eq(&self.external_span_id, &event.external_span_id)
            && self
                .operation
                .as_ref()
                .is_none_or(|o| *o == event.operation)
            && opt_eq(&self.host, &event.host)
            && opt_eq(&self.service, &event.service)
            && self
                .labels
                .iter()
                .all(|(k, v)| event.labels.get(k) == Some(v))
            && self.since.is_none_or(|t| event.started_at >= t)
            && self.until.is_none_or(|t| event.started_at < t)
            && self
                .min_duration
                .is_none_or(|d| event.duration.is_some_and(|x| x >= d))
            && self
                .max_duration
                .is_none_or(|d| event.duration.is_some_and(|x| x <= d))
            && self.error_contains.as_ref().is_none_or(|text| {
                event.error.as_ref().is_some_and(|e| {
                    e.message.contains(text.as_str())
                        || e.sources.iter().any(|s| s.contains(text.as_str()))
                })
            })
    }
}

fn opt_eq<T: PartialEq>(want: &Option<T>, have: &Option<T>) -> bool {
    match want {
        None => true,
        Some(w) => have.as_ref() == Some(w),
    }
}
