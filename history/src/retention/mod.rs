//! Retention: which old events to delete ([`Retention`]), what a purge did
//! ([`PurgeReport`]), and purging at an interval ([`RetentionSchedule`]).

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::event::{Event, EventId, EventStatus, EventType, SubjectId};
use crate::store::error::StoreError;
use crate::store::filter::Filter;

mod schedule;
pub use schedule::RetentionSchedule;

/// Which events a purge deletes: those matching `filter` (every condition of [`Filter`]
/// works: age, status, type, …), except the newest `keep_last` of each subject when that is set.
///
/// With `keep_last`, only events that have the subject are candidates: "keep the last 100
/// runs per VM" never deletes events that concern no VM. A policy must say something: an
/// empty policy (no filter, no `keep_last`) is refused rather than deleting everything.
///
/// ```
/// use std::time::Duration;
/// use history::retention::{Per, Retention};
/// use history::EventStatus;
/// // Successful events older than 30 days, keeping the last 10 per VM; only report.
/// let policy = Retention::older_than(Duration::from_secs(30 * 86_400))
///     .status(EventStatus::Success)
///     .keep_last(Per::Vm, 10)
///     .dry_run();
/// assert!(policy.dry_run);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Retention {
    /// Which events may go.
    pub filter: Filter,
    /// Never delete the newest N events of each subject.
    pub keep_last: Option<KeepLast>,
    /// Only report what would go.
    pub dry_run: bool,
}

/// Keep the newest `count` events of each `per` subject.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeepLast {
    /// Per which subject.
    pub per: Per,
    /// How many to keep (at least 1).
    pub count: u64,
}

/// Which id [`KeepLast`] counts events per: the VM or the user an event concerns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Per {
    /// Per VM.
    Vm,
    /// Per user.
    User,
}

impl Per {
    /// The id of `event` this counts per, if it has one.
    pub fn of(self, event: &Event) -> Option<&SubjectId> {
        match self {
            Per::Vm => event.vm_id.as_ref(),
            Per::User => event.user_id.as_ref(),
        }
    }
}

impl Retention {
    /// Events matching `filter`.
    pub fn matching(filter: Filter) -> Retention {
        Retention {
            filter,
            keep_last: None,
            dry_run: false,
        }
    }
    /// Events that started more than `age` ago. An age reaching back before the earliest
    /// time the calendar holds (some 262,000 years) selects nothing: no event is that old.
    pub fn older_than(age: Duration) -> Retention {
        let now = crate::now();
        let cutoff = chrono::TimeDelta::from_std(age)
            .ok()
            .and_then(|age| now.checked_sub_signed(age))
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        Retention::before(cutoff)
    }
    /// Events that started before `t`.
    pub fn before(t: DateTime<Utc>) -> Retention {
        Retention::matching(Filter::new().until(t))
    }
    /// Only events with this status (may be given several times).
    pub fn status(mut self, s: EventStatus) -> Retention {
        self.filter.statuses.push(s);
        self
    }
    /// Only events of this type (may be given several times).
    pub fn event_type(mut self, t: EventType) -> Retention {
        self.filter.event_types.push(t);
        self
    }
    /// Keeps the newest `count` events of each subject.
    pub fn keep_last(mut self, per: Per, count: u64) -> Retention {
        self.keep_last = Some(KeepLast { per, count });
        self
    }
    /// Only reports what would go.
    pub fn dry_run(mut self) -> Retention {
        self.dry_run = true;
        self
    }

    /// Refuses a policy that would delete everything by accident, or keeps nothing per subject.
    pub fn validate(&self) -> Result<(), StoreError> {
        if let Some(k) = self.keep_last {
            if k.count == 0 {
                return Err(StoreError::InvalidQuery(
                    "`keep_last.count` must be at least 1".into(),
                ));
            }
        }
        if self.keep_last.is_none() && self.filter.matches_everything() {
            return Err(StoreError::InvalidQuery(
                "a retention policy needs a filter (age, status, type, …) or `keep_last`; \
                 refusing to delete every event"
                    .into(),
            ));
        }
        Ok(())
    }

    /// The ids `self` selects among `events` (every stored event: `keep_last` counts the
    /// newest of each subject whether they match or not), newest first: the meaning of a
    /// policy, which every store must agree with.
    pub fn select<'a>(&self, events: impl IntoIterator<Item = &'a Event>) -> Vec<EventId> {
        let mut events: Vec<&Event> = events.into_iter().collect();
        events.sort_by_key(|e| std::cmp::Reverse((e.started_at, e.id)));
        let mut selection = self.selection();
        events
            .into_iter()
            .filter(|e| selection.selects(e))
            .map(|e| e.id)
            .collect()
    }

    /// Selects events one at a time, as [`select`](Retention::select) does, for a caller
    /// that reads the store page by page: offer every event newest first (with `keep_last`,
    /// every stored event; without, the matching ones suffice). Memory grows with the number
    /// of subjects, not of events.
    pub fn selection(&self) -> Selection<'_> {
        Selection {
            policy: self,
            seen: HashMap::new(),
        }
    }
}

/// A [`Retention`] policy applied to a stream of events, newest first; see
/// [`Retention::selection`].
#[derive(Debug)]
pub struct Selection<'a> {
    policy: &'a Retention,
    /// Per subject: how many of its events came by so far.
    seen: HashMap<SubjectId, u64>,
}

impl Selection<'_> {
    /// Whether the policy deletes `event`, the next one in newest-first order.
    pub fn selects(&mut self, event: &Event) -> bool {
        let kept = match self.policy.keep_last {
            None => false,
            Some(k) => match k.per.of(event) {
                // Only events that have the subject are candidates.
                None => true,
                Some(subject) => {
                    let n = self.seen.entry(subject.clone()).or_insert(0);
                    *n += 1;
                    *n <= k.count
                }
            },
        };
        !kept && self.policy.filter.matches(event)
    }
}

/// What a purge deleted (or, for a dry run, would delete).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PurgeReport {
    /// How many events.
    pub deleted: u64,
    /// Whether this was a dry run (nothing was deleted).
    pub dry_run: bool,
    /// The earliest start among them.
    pub oldest: Option<DateTime<Utc>>,
    /// The latest start among them.
    pub newest: Option<DateTime<Utc>>,
}

impl PurgeReport {
    /// A report over the events selected.
    pub fn of<'a>(selected: impl IntoIterator<Item = &'a Event>, dry_run: bool) -> PurgeReport {
        let mut r = PurgeReport::empty(dry_run);
        for e in selected {
            r.add(e);
        }
        r
    }

    /// A report of nothing deleted yet.
    pub fn empty(dry_run: bool) -> PurgeReport {
        PurgeReport {
            dry_run,
            ..PurgeReport::default()
        }
    }

    /// Counts one more selected event.
    pub fn add(&mut self, e: &Event) {
        self.deleted += 1;
        self.oldest = Some(self.oldest.map_or(e.started_at, |t| t.min(e.started_at)));
        self.newest = Some(self.newest.map_or(e.started_at, |t| t.max(e.started_at)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{EventType, HistoryStore, MemoryStore};

    #[test]
    fn an_age_beyond_the_calendar_selects_nothing_and_never_panics() {
        let store = MemoryStore::new();
        store
            .write_batch(&[Event::new(EventType::VmStart, "a")])
            .unwrap();
        let ten_million_years = Duration::from_secs(10_000_000 * 365 * 86_400);
        for age in [ten_million_years, Duration::MAX] {
            let policy = Retention::older_than(age);
            assert_eq!(policy.filter.until, Some(DateTime::<Utc>::MIN_UTC));
            assert_eq!(store.purge(&policy).unwrap().deleted, 0);
        }
        assert_eq!(store.len(), 1);
        // An age within the calendar still counts back from now.
        let day = Retention::older_than(Duration::from_secs(86_400));
        assert!(day.filter.until.is_some_and(|t| t < crate::now()));
    }
}
