//! Statistics from the hourly rollups (`rollup.rs`): the whole hours of the range read from
//! the cells, summed per group, status and bucket by the server; the partial hours at
//! either end scanned exactly; figures made by [`duration_stats`], the one reading of the
//! histogram every store shares.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use history::stats::histogram::{bucket, duration_stats};
use history::stats::{Bucket, GroupBy, GroupKey, Stats, StatsQuery, Summary};
use history::{EventStatus, EventType, Filter};
use postgres::fallible_iterator::FallibleIterator;

use crate::query::{filter, Where};
use crate::shared::Shared;
use crate::PostgresError;

const HOUR_US: i64 = 3_600_000_000;

/// Whether the rollups can answer `q`: filters only on type, status and time, grouped by
/// nothing, type, hour or day.
pub(crate) fn rollups_answer(q: &StatsQuery) -> bool {
    let f = &q.filter;
    let mut only = Filter::new();
    only.event_types = f.event_types.clone();
    only.statuses = f.statuses.clone();
    only.since = f.since;
    only.until = f.until;
    only == *f
        && matches!(
            q.group_by,
            None | Some(GroupBy::EventType) | Some(GroupBy::Time(Bucket::Hour | Bucket::Day))
        )
}

/// Per group: counts per status and the duration aggregates.
#[derive(Default)]
struct Acc {
    by_status: BTreeMap<EventStatus, u64>,
    timed: u64,
    sum_us: i64,
    min_us: Option<i64>,
    max_us: Option<i64>,
    hist: BTreeMap<u16, i64>,
}

impl Acc {
    fn add_cell(&mut self, status: EventStatus, cell: Cell) {
        *self.by_status.entry(status).or_insert(0) += cell.events.max(0) as u64;
        if let Some(b) = cell.bucket {
            self.timed += cell.events.max(0) as u64;
            self.sum_us += cell.sum_us;
            *self.hist.entry(b).or_insert(0) += cell.events;
            self.extremes(cell.min_us, cell.max_us);
        }
    }

    fn extremes(&mut self, lo: Option<i64>, hi: Option<i64>) {
        if let Some(lo) = lo {
            self.min_us = Some(self.min_us.map_or(lo, |m| m.min(lo)));
        }
        if let Some(hi) = hi {
            self.max_us = Some(self.max_us.map_or(hi, |m| m.max(hi)));
        }
    }

    fn merge(&mut self, other: &Acc) {
        for (s, n) in &other.by_status {
            *self.by_status.entry(*s).or_insert(0) += n;
        }
        self.timed += other.timed;
        self.sum_us += other.sum_us;
        for (b, n) in &other.hist {
            *self.hist.entry(*b).or_insert(0) += n;
        }
        self.extremes(other.min_us, other.max_us);
    }

    fn summary(&self) -> Summary {
        let duration = match (self.min_us, self.max_us) {
            (Some(lo), Some(hi)) => duration_stats(self.timed, self.sum_us, lo, hi, &self.hist),
            _ => None,
        };
        Summary::new(self.by_status.clone(), duration)
    }
}

/// One cell (or a sum of cells) as read: `bucket` is `None` for events without a duration.
struct Cell {
    bucket: Option<u16>,
    events: i64,
    sum_us: i64,
    min_us: Option<i64>,
    max_us: Option<i64>,
}

fn corrupt(what: impl std::fmt::Display) -> PostgresError {
    PostgresError::Corrupt(format!("stats_hourly: {what}"))
}

fn key(
    g: Option<GroupBy>,
    at: DateTime<Utc>,
    ty: Option<String>,
) -> Result<Option<GroupKey>, PostgresError> {
    Ok(match g {
        None => None,
        Some(GroupBy::EventType) => Some(GroupKey::EventType(
            EventType::custom(ty.unwrap_or_default()).map_err(corrupt)?,
        )),
        Some(GroupBy::Time(b)) => Some(GroupKey::Time(b.start_of(at))),
        Some(_) => return Err(corrupt("grouping not answerable from rollups")),
    })
}

/// The start of the hour holding `t_us` (flooring, also before 1970).
fn hour_floor(t_us: i64) -> i64 {
    t_us - t_us.rem_euclid(HOUR_US)
}

fn time(us: i64) -> Result<DateTime<Utc>, PostgresError> {
    DateTime::from_timestamp_micros(us).ok_or_else(|| corrupt("time out of range"))
}

/// Statistics from the rollups for whole hours, plus an exact scan of the partial hours at
/// either end of the range.
pub(crate) fn from_rollups(shared: &Shared, q: &StatsQuery) -> Result<Stats, PostgresError> {
    let since = q.filter.since.map(|t| t.timestamp_micros());
    let until = q.filter.until.map(|t| t.timestamp_micros());
    // Whole hours: [first, last).
    let first = since.map(|t| {
        let h = hour_floor(t);
        if h == t {
            h
        } else {
            h + HOUR_US
        }
    });
    let last = until.map(hour_floor);
    let whole_hours = match (first, last) {
        (Some(a), Some(b)) => a < b,
        _ => true,
    };
    let mut groups: BTreeMap<Option<GroupKey>, Acc> = BTreeMap::new();
    let statuses: Vec<String> = q
        .filter
        .statuses
        .iter()
        .map(|s| format!("'{}'", s.as_str()))
        .collect();
    let types: Vec<String> = q
        .filter
        .event_types
        .iter()
        .map(|t| t.as_str().to_owned())
        .collect();
    shared.readers.with(&shared.connector, |client| {
        if whole_hours {
            let mut f = Where::default();
            if let Some(a) = first {
                let p = f.bind(time(a)?);
                f.and(&format!("hour >= {p}"));
            }
            if let Some(b) = last {
                let p = f.bind(time(b)?);
                f.and(&format!("hour < {p}"));
            }
            if !types.is_empty() {
                let p = f.bind(types.clone());
                f.and(&format!("event_type = ANY({p})"));
            }
            if !statuses.is_empty() {
                f.and(&format!("status IN ({})", statuses.join(", ")));
            }
            // One row per group key, status and bucket (the hours summed by the server).
            let group = match q.group_by {
                Some(GroupBy::EventType) => "event_type, NULL::timestamptz",
                Some(GroupBy::Time(Bucket::Day)) => "NULL::text, date_trunc('day', hour, 'UTC')",
                Some(GroupBy::Time(_)) => "NULL::text, hour",
                _ => "NULL::text, NULL::timestamptz",
            };
            let sql = shared.names.sql(&format!(
                "SELECT {group}, status, bucket, sum(events)::bigint, sum(sum_us)::bigint, \
                 min(min_us), max(max_us) FROM {{s}}.stats_hourly WHERE {} \
                 GROUP BY 1, 2, 3, 4",
                f.clause()
            ));
            let mut rows = client.query_raw(sql.as_str(), f.params())?;
            while let Some(row) = rows.next()? {
                let ty: Option<String> = row.try_get(0)?;
                let at: Option<DateTime<Utc>> = row.try_get(1)?;
                let status: String = row.try_get(2)?;
                let status: EventStatus = status.parse().map_err(corrupt)?;
                let b: i32 = row.try_get(3)?;
                let cell = Cell {
                    bucket: if b < 0 {
                        None
                    } else {
                        Some(u16::try_from(b).map_err(corrupt)?)
                    },
                    events: row.try_get(4)?,
                    sum_us: row.try_get(5)?,
                    min_us: row.try_get(6)?,
                    max_us: row.try_get(7)?,
                };
                let k = key(q.group_by, at.unwrap_or_default(), ty)?;
                groups.entry(k).or_default().add_cell(status, cell);
            }
        }
        // The partial hours at the ends (or the whole range when it has no whole hour).
        if since.is_some() || until.is_some() {
            let mut f = filter(&q.filter);
            if whole_hours {
                let mut edge = Vec::new();
                if let Some(a) = first {
                    edge.push(format!("started_at < {}", f.bind(time(a)?)));
                }
                if let Some(b) = last {
                    edge.push(format!("started_at >= {}", f.bind(time(b)?)));
                }
                f.and(&format!("({})", edge.join(" OR ")));
            }
            let sql = shared.names.sql(&format!(
                "SELECT started_at, event_type, status, duration_us FROM {{s}}.events WHERE {}",
                f.clause()
            ));
            let mut rows = client.query_raw(sql.as_str(), f.params())?;
            while let Some(row) = rows.next()? {
                let at: DateTime<Utc> = row.try_get(0)?;
                let ty: String = row.try_get(1)?;
                let status: String = row.try_get(2)?;
                let status: EventStatus = status.parse().map_err(corrupt)?;
                let d: Option<i64> = row.try_get(3)?;
                let cell = Cell {
                    bucket: d.map(bucket),
                    events: 1,
                    sum_us: d.unwrap_or(0),
                    min_us: d,
                    max_us: d,
                };
                groups
                    .entry(key(q.group_by, at, Some(ty))?)
                    .or_default()
                    .add_cell(status, cell);
            }
        }
        Ok(())
    })?;
    let mut all = Acc::default();
    let mut out = Vec::new();
    for (k, acc) in groups {
        all.merge(&acc);
        if let Some(k) = k {
            out.push((k, acc.summary()));
        }
    }
    Ok(Stats::new(all.summary(), out))
}
