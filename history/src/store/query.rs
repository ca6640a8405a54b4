//! [`Query`]: which events to read, in which order, one [`Page`] at a time.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::event::{Event, EventId, EventStatus, EventType, SubjectId};
use crate::store::StoreError;

/// How many events a page holds when the query does not say.
pub const DEFAULT_LIMIT: usize = 100;
/// The most events one page may hold.
pub const MAX_LIMIT: usize = 10_000;

/// Which events to read.
///
/// Every filter that is set must hold (AND); a list filter holds when any of its values
/// matches (OR). Events come newest first unless [`Order::OldestFirst`] is asked for; ties on
/// the start time are broken by id, so the order is total and pages never overlap or skip.
///
/// ```
/// use history::{Query, EventType, EventStatus};
/// let q = Query::new()
///     .event_type(EventType::VmCreate)
///     .status(EventStatus::Failed)
///     .user_id(42)
///     .limit(50);
/// assert_eq!(q.limit, 50);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Query {
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
    /// This operation (exact name).
    pub operation: Option<String>,
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
    /// Newest or oldest first.
    pub order: Order,
    /// At most this many events per page (1 to [`MAX_LIMIT`]).
    pub limit: usize,
    /// Continue after the page that gave this cursor.
    pub cursor: Option<Cursor>,
    /// Also count every match (costs a second pass over the matches).
    pub with_total: bool,
}

impl Default for Query {
    fn default() -> Self {
        Query {
            event_types: Vec::new(),
            statuses: Vec::new(),
            user_id: None,
            vm_id: None,
            credential_id: None,
            organization_id: None,
            parent_id: None,
            trace_id: None,
            correlation_id: None,
            operation: None,
            labels: BTreeMap::new(),
            since: None,
            until: None,
            min_duration: None,
            max_duration: None,
            error_contains: None,
            order: Order::NewestFirst,
            limit: DEFAULT_LIMIT,
            cursor: None,
            with_total: false,
        }
    }
}

/// The order of a page.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Order {
    /// Latest start first (ties: greater id first).
    #[default]
    NewestFirst,
    /// Earliest start first (ties: smaller id first).
    OldestFirst,
}

impl Query {
    /// Every event, newest first, [`DEFAULT_LIMIT`] per page.
    pub fn new() -> Query {
        Query::default()
    }
    /// Adds an event type to match.
    pub fn event_type(mut self, t: EventType) -> Self {
        self.event_types.push(t);
        self
    }
    /// Adds a status to match.
    pub fn status(mut self, s: EventStatus) -> Self {
        self.statuses.push(s);
        self
    }
    /// Only this user's events.
    pub fn user_id(mut self, id: impl Into<SubjectId>) -> Self {
        self.user_id = Some(id.into());
        self
    }
    /// Only this VM's events.
    pub fn vm_id(mut self, id: impl Into<SubjectId>) -> Self {
        self.vm_id = Some(id.into());
        self
    }
    /// Only this credential's events.
    pub fn credential_id(mut self, id: impl Into<SubjectId>) -> Self {
        self.credential_id = Some(id.into());
        self
    }
    /// Only this organization's events.
    pub fn organization_id(mut self, id: impl Into<SubjectId>) -> Self {
        self.organization_id = Some(id.into());
        self
    }
    /// Only children of this event.
    pub fn parent_id(mut self, id: EventId) -> Self {
        self.parent_id = Some(id);
        self
    }
    /// Only events of this trace.
    pub fn trace_id(mut self, id: EventId) -> Self {
        self.trace_id = Some(id);
        self
    }
    /// Only events with this correlation id.
    pub fn correlation_id(mut self, id: impl Into<String>) -> Self {
        self.correlation_id = Some(id.into());
        self
    }
    /// Only this operation.
    pub fn operation(mut self, op: impl Into<String>) -> Self {
        self.operation = Some(op.into());
        self
    }
    /// Only events carrying this label with this value.
    pub fn label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.labels.insert(key.into(), value.into());
        self
    }
    /// Only events that started at or after `t`.
    pub fn since(mut self, t: DateTime<Utc>) -> Self {
        self.since = Some(t);
        self
    }
    /// Only events that started before `t`.
    pub fn until(mut self, t: DateTime<Utc>) -> Self {
        self.until = Some(t);
        self
    }
    /// Only events that took at least `d`.
    pub fn min_duration(mut self, d: Duration) -> Self {
        self.min_duration = Some(d);
        self
    }
    /// Only events that took at most `d`.
    pub fn max_duration(mut self, d: Duration) -> Self {
        self.max_duration = Some(d);
        self
    }
    /// Only events whose error mentions `text`.
    pub fn error_contains(mut self, text: impl Into<String>) -> Self {
        self.error_contains = Some(text.into());
        self
    }
    /// Sets the order.
    pub fn order(mut self, order: Order) -> Self {
        self.order = order;
        self
    }
    /// Oldest first.
    pub fn oldest_first(self) -> Self {
        self.order(Order::OldestFirst)
    }
    /// Sets the page size.
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }
    /// Continues after the page that returned `cursor`.
    pub fn after(mut self, cursor: Cursor) -> Self {
        self.cursor = Some(cursor);
        self
    }
    /// Also counts every match into [`Page::total`].
    pub fn with_total(mut self) -> Self {
        self.with_total = true;
        self
    }

    /// Rejects a query no store can answer: a limit out of range, an empty range.
    pub fn validate(&self) -> Result<(), StoreError> {
        if self.limit == 0 || self.limit > MAX_LIMIT {
            return Err(StoreError::InvalidQuery(format!(
                "`limit` must be 1 to {MAX_LIMIT} (got {})",
                self.limit
            )));
        }
        if let (Some(a), Some(b)) = (self.min_duration, self.max_duration) {
            if a > b {
                return Err(StoreError::InvalidQuery(
                    "`min_duration` must not exceed `max_duration`".into(),
                ));
            }
        }
        Ok(())
    }

    /// Whether no filter is set (every event matches).
    pub fn matches_everything(&self) -> bool {
        let no_filters = Query {
            order: self.order,
            limit: self.limit,
            cursor: self.cursor,
            with_total: self.with_total,
            ..Query::default()
        };
        *self == no_filters
    }

    /// Whether `event` passes every filter (not the cursor). This is the meaning of each
    /// filter; every store must agree with it (the conformance suite checks).
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
            && self
                .operation
                .as_ref()
                .is_none_or(|o| *o == event.operation)
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

    /// Whether `event` comes after the cursor position in this query's order.
    pub fn is_after_cursor(&self, event: &Event) -> bool {
        let Some(c) = &self.cursor else { return true };
        let key = (event.started_at, event.id);
        let at = (c.started_at, c.id);
        match self.order {
            Order::NewestFirst => key < at,
            Order::OldestFirst => key > at,
        }
    }
}

fn opt_eq<T: PartialEq>(want: &Option<T>, have: &Option<T>) -> bool {
    match want {
        None => true,
        Some(w) => have.as_ref() == Some(w),
    }
}

/// A position in a query's order: the start time and id of the last event of a page.
///
/// Opaque on the wire (`Display` / `FromStr` give a short token to hand to clients);
/// pages continue with keyset pagination, never an offset, so a page costs the same however
/// deep it is and rows inserted meanwhile cause no duplicates or gaps.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cursor {
    /// Start time of the last event returned.
    pub started_at: DateTime<Utc>,
    /// Id of the last event returned.
    pub id: EventId,
}

impl Cursor {
    /// The cursor that continues after `event`.
    pub fn after(event: &Event) -> Cursor {
        Cursor {
            started_at: event.started_at,
            id: event.id,
        }
    }
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "c1.{:x}.{}",
            self.started_at.timestamp_micros(),
            self.id.as_uuid().simple()
        )
    }
}

impl fmt::Debug for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Cursor({self})")
    }
}

impl FromStr for Cursor {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self, StoreError> {
        let bad = || {
            StoreError::InvalidQuery(format!("`cursor` is not a cursor this library made: {s:?}"))
        };
        let rest = s.strip_prefix("c1.").ok_or_else(bad)?;
        let (micros, id) = rest.split_once('.').ok_or_else(bad)?;
        let micros = i64::from_str_radix(micros, 16).map_err(|_| bad())?;
        let started_at = DateTime::from_timestamp_micros(micros).ok_or_else(bad)?;
        let id = uuid::Uuid::parse_str(id).map_err(|_| bad())?;
        Ok(Cursor {
            started_at,
            id: EventId::from_uuid(id),
        })
    }
}

impl Serialize for Cursor {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Cursor {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = std::borrow::Cow::<'de, str>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// One page of results.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Page<T> {
    /// The items, in the query's order.
    pub items: Vec<T>,
    /// Where the next page starts; `None` on the last page.
    pub next_cursor: Option<Cursor>,
    /// Every match, when the query asked ([`Query::with_total`]).
    pub total: Option<u64>,
}

impl<T> Page<T> {
    /// Number of items on this page.
    pub fn len(&self) -> usize {
        self.items.len()
    }
    /// Whether the page is empty.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_and_rejects_garbage() {
        let e = Event::new(EventType::VmCreate, "op");
        let c = Cursor::after(&e);
        assert_eq!(c.to_string().parse::<Cursor>().unwrap(), c);
        assert!("c1.zz.abc".parse::<Cursor>().is_err());
        assert!("".parse::<Cursor>().is_err());
    }

    #[test]
    fn limit_is_checked() {
        assert!(Query::new().limit(0).validate().is_err());
        assert!(Query::new().limit(MAX_LIMIT + 1).validate().is_err());
        assert!(Query::new().limit(MAX_LIMIT).validate().is_ok());
    }
}
