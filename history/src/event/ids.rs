//! Identifiers: [`EventId`] names one event; [`SubjectId`] names who or what it concerns.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The id of one event: a UUID v7, so ids sort by creation time.
///
/// The in-progress record of a call and its final record share one id; stores upsert by it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EventId(Uuid);

impl EventId {
    /// A new, time-ordered id (monotonic within this process).
    pub fn new() -> EventId {
        EventId(Uuid::now_v7())
    }

    /// Wraps an existing UUID.
    pub const fn from_uuid(uuid: Uuid) -> EventId {
        EventId(uuid)
    }

    /// The UUID.
    pub const fn as_uuid(&self) -> &Uuid {
        &self.0
    }

    /// The 16 bytes of the UUID, big-endian (sorts like the id).
    pub const fn as_bytes(&self) -> &[u8; 16] {
        self.0.as_bytes()
    }

    /// Builds an id from the 16 bytes [`EventId::as_bytes`] gives.
    pub const fn from_bytes(bytes: [u8; 16]) -> EventId {
        EventId(Uuid::from_bytes(bytes))
    }
}

impl Default for EventId {
    fn default() -> Self {
        EventId::new()
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0.hyphenated(), f)
    }
}

impl fmt::Debug for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EventId({})", self.0.hyphenated())
    }
}

impl FromStr for EventId {
    type Err = crate::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s)
            .map(EventId)
            .map_err(|e| crate::Error::invalid("id", format!("must be a UUID ({e})")))
    }
}

impl From<Uuid> for EventId {
    fn from(uuid: Uuid) -> Self {
        EventId(uuid)
    }
}

/// Who or what an event concerns: a user, a VM, a credential, an organization.
///
/// Systems name these with integers (`42`) or strings (`"i-0abc"`); both are kept as given and
/// serialize untagged, so `"user_id": 1` stays a number. Integers and strings never compare
/// equal (`1` is not `"1"`). A `u64` above `i64::MAX` is kept as its decimal string, since stores
/// keep 64-bit signed integers.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SubjectId {
    /// A numeric id.
    Int(i64),
    /// A textual id (must not be empty).
    Text(String),
}

impl SubjectId {
    /// The numeric id, if it is one.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            SubjectId::Int(i) => Some(*i),
            SubjectId::Text(_) => None,
        }
    }

    /// The textual id, if it is one.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            SubjectId::Int(_) => None,
            SubjectId::Text(t) => Some(t),
        }
    }
}

impl fmt::Display for SubjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SubjectId::Int(i) => fmt::Display::fmt(i, f),
            SubjectId::Text(t) => f.write_str(t),
        }
    }
}

impl fmt::Debug for SubjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SubjectId::Int(i) => fmt::Debug::fmt(i, f),
            SubjectId::Text(t) => fmt::Debug::fmt(t, f),
        }
    }
}

macro_rules! subject_from_small_int {
    ($($t:ty),*) => {$(
        impl From<$t> for SubjectId {
            fn from(v: $t) -> Self { SubjectId::Int(i64::from(v)) }
        }
    )*};
}
subject_from_small_int!(i8, i16, i32, i64, u8, u16, u32);

macro_rules! subject_from_wide_int {
    ($($t:ty),*) => {$(
        impl From<$t> for SubjectId {
            fn from(v: $t) -> Self {
                match i64::try_from(v) {
                    Ok(i) => SubjectId::Int(i),
                    Err(_) => SubjectId::Text(v.to_string()),
                }
            }
        }
    )*};
}
subject_from_wide_int!(u64, usize, isize, u128, i128);

impl From<String> for SubjectId {
    fn from(v: String) -> Self {
        SubjectId::Text(v)
    }
}

impl From<&str> for SubjectId {
    fn from(v: &str) -> Self {
        SubjectId::Text(v.to_owned())
    }
}

impl From<&String> for SubjectId {
    fn from(v: &String) -> Self {
        SubjectId::Text(v.clone())
    }
}

impl From<Uuid> for SubjectId {
    fn from(v: Uuid) -> Self {
        SubjectId::Text(v.hyphenated().to_string())
    }
}

impl From<&SubjectId> for SubjectId {
    fn from(v: &SubjectId) -> Self {
        v.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subject_ids_serialize_untagged() {
        assert_eq!(serde_json::to_string(&SubjectId::from(7u64)).unwrap(), "7");
        assert_eq!(
            serde_json::to_string(&SubjectId::from("i-1")).unwrap(),
            "\"i-1\""
        );
        let back: SubjectId = serde_json::from_str("7").unwrap();
        assert_eq!(back, SubjectId::Int(7));
        assert_eq!(
            SubjectId::from(u64::MAX),
            SubjectId::Text(u64::MAX.to_string())
        );
    }

    #[test]
    fn event_ids_are_time_ordered_and_parse_back() {
        let a = EventId::new();
        let b = EventId::new();
        assert!(a < b);
        assert_eq!(a.to_string().parse::<EventId>().unwrap(), a);
        assert!("nope".parse::<EventId>().is_err());
    }
}
