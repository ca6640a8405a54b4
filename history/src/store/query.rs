//! [`Query`]: which events to read, in which order, one [`Page`] at a time.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use std::time::Duration;

use crate::event::{Event, EventId, EventStatus, EventType, SubjectId, W3cSpanId, W3cTraceId};
use crate::store::error::StoreError;
use crate::store::filter::{with_filter_setters, Filter};

/// How many events a page holds when the query does not say.
pub const DEFAULT_LIMIT: usize = 100;
/// The most events one page may hold.
pub const MAX_LIMIT: usize = 10_000;

/// One page request: which events ([`Filter`]), in which [`Order`], how many per page, and
/// where to continue ([`Cursor`]).
///
/// Events come newest first unless [`Order::OldestFirst`] is asked for; ties on the start time
/// are broken by id, so the order is total and pages never overlap or skip. Every builder
/// method of [`Filter`] works on a query too, and a query derefs to its filter (so
/// `query.user_id`, `query.matches(&event)` and `store.count(&query)` read as before).
///
/// ```
/// use history::{Query, EventType, EventStatus};
/// let q = Query::new()
///     .event_type(EventType::VmCreate)
///     .status(EventStatus::Failed)
///     .user_id(42)
///     .limit(50);
/// assert_eq!(q.limit, 50);
/// assert_eq!(q.filter.statuses, [EventStatus::Failed]);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Query {
    /// Which events.
    #[serde(flatten)]
    pub filter: Filter,
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
            filter: Filter::default(),
            order: Order::NewestFirst,
            limit: DEFAULT_LIMIT,
            cursor: None,
            with_total: false,
        }
    }
}

impl From<Filter> for Query {
    /// The first page of the events `filter` matches, newest first.
    fn from(filter: Filter) -> Query {
        Query {
            filter,
            ..Query::default()
        }
    }
}

impl Deref for Query {
    type Target = Filter;
    fn deref(&self) -> &Filter {
        &self.filter
    }
}

impl DerefMut for Query {
    fn deref_mut(&mut self) -> &mut Filter {
        &mut self.filter
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

/// The list [`with_filter_setters`] hands over, made into [`Query`]'s methods: each sets the
/// condition in the query's filter.
macro_rules! query_setters {
    ($(
        $(#[$doc:meta])*
        fn $name:ident(&mut $f:ident $(, $arg:ident: $ty:ty)*) $body:block
    )*) => {
        impl Query {
            $(
                $(#[$doc])*
                ///
                /// Sets this condition of the query's [`filter`](Query::filter).
                pub fn $name(mut self $(, $arg: $ty)*) -> Self {
                    self.filter = self.filter.$name($($arg),*);
                    self
                }
            )*
        }
    };
}

with_filter_setters!(query_setters);

impl Query {
    /// Every event, newest first, [`DEFAULT_LIMIT`] per page.
    pub fn new() -> Query {
        Query::default()
    }
    /// Pages of the events `filter` matches, newest first, [`DEFAULT_LIMIT`] per page.
    pub fn matching(filter: Filter) -> Query {
        Query::from(filter)
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
        self.filter.validate()
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

impl Page<Event> {
    /// The page a store returns from the matches it read in the query's order, up to
    /// `limit + 1` of them: the one beyond `limit` is dropped and tells that another page
    /// follows, starting after the last item kept.
    ///
    /// ```
    /// use history::{Event, EventType, Page};
    ///
    /// let read: Vec<Event> = (0..3).map(|_| Event::new(EventType::VmCreate, "op")).collect();
    /// let page = Page::from_read(read, 2, None);
    /// assert_eq!(page.len(), 2);
    /// assert!(page.next_cursor.is_some());
    /// ```
    pub fn from_read(mut items: Vec<Event>, limit: usize, total: Option<u64>) -> Page<Event> {
        let next_cursor = if items.len() > limit {
            items.truncate(limit);
            items.last().map(Cursor::after)
        } else {
            None
        };
        Page {
            items,
            next_cursor,
            total,
        }
    }
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
        let e = Event::new(crate::EventType::VmCreate, "op");
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
