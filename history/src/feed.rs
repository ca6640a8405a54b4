//! The change feed: what a store committed, in commit order, for followers in this process or
//! any other.
//!
//! Every store keeps a change sequence: each insert and each update of a stored event takes
//! the next number, in commit order (an event's number is replaced when it is updated).
//! [`HistoryStore::changes_after`](crate::HistoryStore::changes_after) returns the changes
//! after a [`ChangeToken`], oldest first, so a follower that passes back the
//! [`ChangePage::next`] token of each page sees every committed event, never the same
//! (event, token) twice, and an event that changed again before it was read only in its newer
//! state. [`HistoryStore::latest_change`](crate::HistoryStore::latest_change) is where to
//! start to follow "from now".
//!
//! ```
//! use history::{ChangeToken, Event, EventType, HistoryStore, MemoryStore};
//!
//! let store = MemoryStore::new();
//! let event = Event::builder(EventType::VmCreate, "vm::create").vm_id(7).build()?;
//! store.write_batch(&[event.clone()])?;
//!
//! let page = store.changes_after(ChangeToken::START, 100)?;
//! assert_eq!(page.changes.len(), 1);
//! assert_eq!(page.changes[0].event, event);
//! // Nothing new after the last change seen.
//! assert!(store.changes_after(page.next, 100)?.changes.is_empty());
//! // Tokens print and parse (to hand to another process, or to keep in a file).
//! let saved = page.next.to_string();
//! assert_eq!(saved.parse::<ChangeToken>()?, page.next);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::event::Event;
use crate::store::{StoreError, MAX_LIMIT};

/// A position in a store's change sequence.
///
/// Opaque except for printing and parsing: [`Display`](fmt::Display) gives the decimal number
/// (`"42"`), [`FromStr`] reads it back, and serde writes it as that string (JSON numbers lose
/// precision past 2^53 in many readers). [`ChangeToken::START`] comes before every change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ChangeToken(u64);

impl ChangeToken {
    /// Before every change: `changes_after(START, ..)` starts at the oldest change kept.
    pub const START: ChangeToken = ChangeToken(0);

    /// The token of sequence number `seq` (for stores implementing the feed).
    pub const fn from_seq(seq: u64) -> ChangeToken {
        ChangeToken(seq)
    }

    /// The sequence number (for stores implementing the feed).
    pub const fn seq(self) -> u64 {
        self.0
    }
}

impl fmt::Display for ChangeToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// A text that is not a [`ChangeToken`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a change token (a decimal number is expected): {0:?}")]
pub struct InvalidChangeToken(String);

impl FromStr for ChangeToken {
    type Err = InvalidChangeToken;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // `u64::from_str` takes a leading `+`; a token is digits only.
        let invalid = || {
            let mut shown = s.to_owned();
            crate::event::limits::truncate(&mut shown, 40);
            InvalidChangeToken(shown)
        };
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid());
        }
        s.parse().map(ChangeToken).map_err(|_| invalid())
    }
}

impl Serialize for ChangeToken {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ChangeToken {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// One committed change: the event as it was stored by this change.
///
/// `event.status` says whether it is an in-progress record
/// ([`EventStatus::InProgress`](crate::EventStatus::InProgress)) or a final one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Change {
    /// This change's place in the sequence.
    pub token: ChangeToken,
    /// The event as of this change.
    pub event: Event,
}

impl Change {
    /// The change `token` that stored `event`.
    pub fn new(token: ChangeToken, event: Event) -> Change {
        Change { token, event }
    }
}

/// What [`HistoryStore::changes_after`](crate::HistoryStore::changes_after) returns.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ChangePage {
    /// The changes, oldest first.
    pub changes: Vec<Change>,
    /// The token to pass next time: the last change's, or the one asked after when there
    /// were none.
    pub next: ChangeToken,
}

impl ChangePage {
    /// A page of `changes` (oldest first) read after `after`; `next` is the last change's
    /// token, or `after` when there are none.
    pub fn new(changes: Vec<Change>, after: ChangeToken) -> ChangePage {
        let next = changes.last().map_or(after, |c| c.token);
        ChangePage { changes, next }
    }
}

/// Rejects a page size outside 1 to [`MAX_LIMIT`], naming the field and the range.
pub fn validate_limit(limit: usize) -> Result<(), StoreError> {
    if limit == 0 || limit > MAX_LIMIT {
        return Err(StoreError::InvalidQuery(format!(
            "`limit` of changes_after must be 1 to {MAX_LIMIT} (got {limit})"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_print_parse_and_serialise_as_strings() {
        let t = ChangeToken::from_seq(u64::MAX);
        assert_eq!(t.to_string(), "18446744073709551615");
        assert_eq!(t.to_string().parse::<ChangeToken>(), Ok(t));
        assert_eq!(
            serde_json::to_string(&t).unwrap(),
            "\"18446744073709551615\""
        );
        assert_eq!(
            serde_json::from_str::<ChangeToken>("\"42\"").unwrap(),
            ChangeToken::from_seq(42)
        );
        for bad in ["", "+1", "-1", "1x", " 1", "18446744073709551616"] {
            assert!(bad.parse::<ChangeToken>().is_err(), "{bad:?}");
        }
        assert!(serde_json::from_str::<ChangeToken>("\"a\"").is_err());
        assert_eq!(ChangeToken::START.seq(), 0);
        assert!(ChangeToken::START < ChangeToken::from_seq(1));
    }

    #[test]
    fn limits_outside_the_range_are_refused_by_name() {
        let err = validate_limit(0).unwrap_err().to_string();
        assert!(err.contains("`limit`") && err.contains("10000"), "{err}");
        assert!(validate_limit(MAX_LIMIT + 1).is_err());
        assert!(validate_limit(1).is_ok() && validate_limit(MAX_LIMIT).is_ok());
    }

    #[test]
    fn an_empty_page_hands_back_the_token_it_was_asked_after() {
        let after = ChangeToken::from_seq(9);
        assert_eq!(ChangePage::new(Vec::new(), after).next, after);
    }
}
