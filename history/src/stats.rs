//! Statistics over events: counts per status, success rate, duration percentiles, optionally
//! grouped by type, user, VM, operation or time bucket.
//!
//! [`StatsBuilder`] is the definition every store agrees with: [`MemoryStore`] feeds it every
//! matching event, a database may compute the same figures in SQL.
//!
//! [`MemoryStore`]: crate::MemoryStore

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::event::{Event, EventStatus, EventType, SubjectId};
use crate::store::filter::Filter;

pub mod histogram;

/// Which statistics to compute: the events that match `filter`, optionally split into groups.
///
/// ```
/// use history::{stats::{GroupBy, StatsQuery}, EventType, Filter};
/// let q = StatsQuery::new(Filter::new().event_type(EventType::TerraformApply))
///     .group_by(GroupBy::Operation);
/// assert_eq!(q.group_by, Some(GroupBy::Operation));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct StatsQuery {
    /// Which events count.
    pub filter: Filter,
    /// Split the figures by this key (none: only the overall summary).
    pub group_by: Option<GroupBy>,
}

impl StatsQuery {
    /// Statistics over the events matching `filter`.
    pub fn new(filter: Filter) -> StatsQuery {
        StatsQuery {
            filter,
            group_by: None,
        }
    }
    /// Also split the figures by `key`.
    pub fn group_by(mut self, key: GroupBy) -> StatsQuery {
        self.group_by = Some(key);
        self
    }
}

/// What to group statistics by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum GroupBy {
    /// The event type.
    EventType,
    /// The user (events without one form their own group).
    User,
    /// The VM (events without one form their own group).
    Vm,
    /// The operation.
    Operation,
    /// The start time, cut to the bucket (UTC), for plotting.
    Time(Bucket),
}

/// A time bucket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Bucket {
    /// One minute.
    Minute,
    /// One hour.
    Hour,
    /// One day (UTC).
    Day,
}

impl Bucket {
    /// The length of the bucket in microseconds.
    pub const fn micros(self) -> i64 {
        match self {
            Bucket::Minute => 60_000_000,
            Bucket::Hour => 3_600_000_000,
            Bucket::Day => 86_400_000_000,
        }
    }

    /// The start of the bucket holding `t`.
    pub fn start_of(self, t: DateTime<Utc>) -> DateTime<Utc> {
        let step = TimeDelta::microseconds(self.micros());
        t.duration_trunc(step).unwrap_or(t)
    }
}

/// The key of one group.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum GroupKey {
    /// An event type.
    EventType(EventType),
    /// A user, or none.
    User(Option<SubjectId>),
    /// A VM, or none.
    Vm(Option<SubjectId>),
    /// An operation.
    Operation(String),
    /// The start of a time bucket.
    Time(DateTime<Utc>),
}

impl GroupKey {
    /// The key of `event` under `group_by`.
    pub fn of(event: &Event, group_by: GroupBy) -> GroupKey {
        match group_by {
            GroupBy::EventType => GroupKey::EventType(event.event_type.clone()),
            GroupBy::User => GroupKey::User(event.user_id.clone()),
            GroupBy::Vm => GroupKey::Vm(event.vm_id.clone()),
            GroupBy::Operation => GroupKey::Operation(event.operation.to_string()),
            GroupBy::Time(b) => GroupKey::Time(b.start_of(event.started_at)),
        }
    }
}

/// The figures of a set of events.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Summary {
    /// How many events.
    pub total: u64,
    /// How many per status (statuses with none are left out).
    pub by_status: BTreeMap<EventStatus, u64>,
    /// Successes among finished events (success, failed, cancelled, interrupted), 0 to 1;
    /// `None` when none has finished.
    pub success_rate: Option<f64>,
    /// Durations of the events that have one; `None` when none has.
    pub duration: Option<DurationStats>,
}

/// Duration figures. Percentiles are nearest-rank: p95 is the smallest duration that at least
/// 95% of the durations do not exceed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DurationStats {
    /// How many events had a duration.
    pub count: u64,
    /// The mean, to the microsecond (rounded down).
    pub avg: Duration,
    /// The shortest.
    pub min: Duration,
    /// The longest.
    pub max: Duration,
    /// The median.
    pub p50: Duration,
    /// The 95th percentile.
    pub p95: Duration,
    /// The 99th percentile.
    pub p99: Duration,
}

impl DurationStats {
    /// Duration figures from their parts (for stores that compute them themselves).
    pub fn new(
        count: u64,
        avg: Duration,
        min: Duration,
        max: Duration,
        [p50, p95, p99]: [Duration; 3],
    ) -> DurationStats {
        DurationStats {
            count,
            avg,
            min,
            max,
            p50,
            p95,
            p99,
        }
    }
}

impl Summary {
    /// A summary from counts per status and duration figures: the total and the success rate
    /// follow from the counts.
    pub fn new(by_status: BTreeMap<EventStatus, u64>, duration: Option<DurationStats>) -> Summary {
        let by_status: BTreeMap<EventStatus, u64> =
            by_status.into_iter().filter(|(_, n)| *n > 0).collect();
        let total = by_status.values().sum();
        let finished: u64 = by_status
            .iter()
            .filter(|(s, _)| s.is_terminal())
            .map(|(_, n)| n)
            .sum();
        let success = by_status.get(&EventStatus::Success).copied().unwrap_or(0);
        Summary {
            total,
            by_status,
            success_rate: (finished > 0).then(|| success as f64 / finished as f64),
            duration,
        }
    }
}

impl Stats {
    /// Statistics from an overall summary and per-group summaries (in key order).
    pub fn new(summary: Summary, groups: Vec<(GroupKey, Summary)>) -> Stats {
        Stats { summary, groups }
    }
}

/// Statistics: the overall summary, and one per group when grouping was asked for.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Stats {
    /// Every matching event.
    pub summary: Summary,
    /// One summary per group, in key order (empty without grouping).
    pub groups: Vec<(GroupKey, Summary)>,
}

/// Accumulates events into a [`Summary`]: the definition of every figure.
#[derive(Clone, Debug, Default)]
pub struct StatsBuilder {
    total: u64,
    by_status: BTreeMap<EventStatus, u64>,
    durations_us: Vec<u64>,
    sum_us: u128,
}

impl StatsBuilder {
    /// An empty builder.
    pub fn new() -> StatsBuilder {
        StatsBuilder::default()
    }

    /// Counts one event with this status and duration.
    pub fn add(&mut self, status: EventStatus, duration: Option<Duration>) {
        self.total += 1;
        *self.by_status.entry(status).or_insert(0) += 1;
        if let Some(d) = duration {
            let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
            self.durations_us.push(us);
            self.sum_us += u128::from(us);
        }
    }

    /// The figures of everything added.
    pub fn finish(mut self) -> Summary {
        let duration = if self.durations_us.is_empty() {
            None
        } else {
            self.durations_us.sort_unstable();
            let v = &self.durations_us;
            let n = v.len() as u64;
            let rank = |p: u64| -> Duration {
                // nearest rank: ceil(p/100 * n), 1-based
                let r = (p * n).div_ceil(100).max(1);
                Duration::from_micros(v[(r - 1) as usize])
            };
            Some(DurationStats {
                count: n,
                avg: Duration::from_micros((self.sum_us / u128::from(n)) as u64),
                min: Duration::from_micros(v[0]),
                max: Duration::from_micros(v[v.len() - 1]),
                p50: rank(50),
                p95: rank(95),
                p99: rank(99),
            })
        };
        debug_assert_eq!(self.total, self.by_status.values().sum::<u64>());
        Summary::new(self.by_status, duration)
    }
}

/// Accumulates events, overall and per group, into [`Stats`].
#[derive(Clone, Debug, Default)]
pub struct StatsCollector {
    all: StatsBuilder,
    groups: BTreeMap<GroupKey, StatsBuilder>,
}

impl StatsCollector {
    /// An empty collector.
    pub fn new() -> StatsCollector {
        StatsCollector::default()
    }

    /// Counts one event, into group `key` too when given.
    pub fn add(&mut self, key: Option<GroupKey>, status: EventStatus, duration: Option<Duration>) {
        self.all.add(status, duration);
        if let Some(k) = key {
            self.groups.entry(k).or_default().add(status, duration);
        }
    }

    /// The statistics of everything added.
    pub fn finish(self) -> Stats {
        Stats {
            summary: self.all.finish(),
            groups: self
                .groups
                .into_iter()
                .map(|(k, b)| (k, b.finish()))
                .collect(),
        }
    }
}

/// The statistics of `events` under `query`, computed naively (every event visited). What
/// [`MemoryStore`](crate::MemoryStore) answers, and what other stores are checked against.
pub fn compute<'a>(query: &StatsQuery, events: impl IntoIterator<Item = &'a Event>) -> Stats {
    let mut c = StatsCollector::new();
    for e in events {
        if query.filter.matches(e) {
            c.add(
                query.group_by.map(|g| GroupKey::of(e, g)),
                e.status,
                e.duration,
            );
        }
    }
    c.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles_and_rates() {
        let mut b = StatsBuilder::new();
        for ms in 1..=100u64 {
            b.add(EventStatus::Success, Some(Duration::from_millis(ms)));
        }
        b.add(EventStatus::Failed, None);
        b.add(EventStatus::InProgress, None);
        let s = b.finish();
        let d = s.duration.unwrap();
        assert_eq!(s.total, 102);
        assert_eq!(d.count, 100);
        assert_eq!(d.p50, Duration::from_millis(50));
        assert_eq!(d.p95, Duration::from_millis(95));
        assert_eq!(d.p99, Duration::from_millis(99));
        assert_eq!(d.min, Duration::from_millis(1));
        assert_eq!(d.max, Duration::from_millis(100));
        assert_eq!(d.avg, Duration::from_micros(50_500));
        assert_eq!(s.success_rate, Some(100.0 / 101.0));
    }

    #[test]
    fn buckets_cut_to_their_start() {
        let t = DateTime::from_timestamp(90_061, 5_000).unwrap(); // 1d 1h 1m 1s
        assert_eq!(Bucket::Day.start_of(t).timestamp(), 86_400);
        assert_eq!(Bucket::Hour.start_of(t).timestamp(), 90_000);
        assert_eq!(Bucket::Minute.start_of(t).timestamp(), 90_060);
    }
}
