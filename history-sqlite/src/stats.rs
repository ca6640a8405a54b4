//! Statistics in SQL. Small result sets, and filters or groupings the rollups do not carry,
//! are computed exactly: the matching rows' status and duration (and group key) are read and
//! summarised with [`history::stats::StatsCollector`], the one definition of every figure.
//! Large ranges filtered only by type, status and time come from the hourly rollups (see
//! `rollup.rs`): counts, rates, avg, min and max exact, percentiles within about 4.5%.

use std::time::Duration;

use std::collections::BTreeMap;

use history::stats::histogram::duration_stats;
use history::stats::{Bucket, GroupBy, GroupKey, Stats, StatsCollector, StatsQuery, Summary};
use history::{EventStatus, EventType, Filter, SubjectId};
use rusqlite::params_from_iter;
use rusqlite::types::{Value, ValueRef};

use crate::codec::micros;
use crate::query::{filter, Where};
use crate::rollup::{decode, hour_of, Cell, Change, Deltas, CHANGE_COLUMNS, HOUR_US};
use crate::{SqliteError, SqliteStore};

fn key_column(g: GroupBy) -> &'static str {
    match g {
        GroupBy::EventType => "event_type",
        GroupBy::User => "user_id",
        GroupBy::Vm => "vm_id",
        GroupBy::Operation => "operation",
        // The bucket's start, flooring (also before 1970).
        GroupBy::Time(Bucket::Minute) => {
            "started_at - ((started_at % 60000000) + 60000000) % 60000000"
        }
        GroupBy::Time(Bucket::Hour) => {
            "started_at - ((started_at % 3600000000) + 3600000000) % 3600000000"
        }
        GroupBy::Time(Bucket::Day) => {
            "started_at - ((started_at % 86400000000) + 86400000000) % 86400000000"
        }
        _ => "NULL",
    }
}

fn corrupt(what: impl std::fmt::Display) -> SqliteError {
    SqliteError::Corrupt(format!("stats: {what}"))
}

fn group_key(g: GroupBy, v: ValueRef<'_>) -> Result<GroupKey, SqliteError> {
    let text = |v: ValueRef<'_>| -> Result<String, SqliteError> {
        Ok(v.as_str().map_err(corrupt)?.to_owned())
    };
    let subject = |v: ValueRef<'_>| -> Result<Option<SubjectId>, SqliteError> {
        Ok(match v {
            ValueRef::Null => None,
            ValueRef::Integer(i) => Some(SubjectId::Int(i)),
            other => Some(SubjectId::Text(text(other)?)),
        })
    };
    Ok(match g {
        GroupBy::EventType => GroupKey::EventType(EventType::custom(text(v)?).map_err(corrupt)?),
        GroupBy::User => GroupKey::User(subject(v)?),
        GroupBy::Vm => GroupKey::Vm(subject(v)?),
        GroupBy::Operation => GroupKey::Operation(text(v)?),
        GroupBy::Time(_) => GroupKey::Time(
            chrono::DateTime::from_timestamp_micros(v.as_i64().map_err(corrupt)?)
                .ok_or_else(|| corrupt("time out of range"))?,
        ),
        _ => return Err(corrupt("unknown grouping")),
    })
}

impl SqliteStore {
    /// The statistics of `q`: from the rollups when they can answer and the result is large,
    /// else exactly.
    pub(crate) fn compute_stats(&self, q: &StatsQuery) -> Result<Stats, SqliteError> {
        stats(self, q)
    }
}

fn stats(store: &SqliteStore, q: &StatsQuery) -> Result<Stats, SqliteError> {
    if rollups_answer(q) {
        let fast = from_rollups(store, q)?;
        if fast.summary.total > store.connections().options.exact_stats_up_to {
            return Ok(fast);
        }
    }
    exact(store, q)
}

/// Whether the hourly rollups can answer `q`: filters only on type, status and time, grouped
/// by nothing, type, hour or day.
fn rollups_answer(q: &StatsQuery) -> bool {
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
    cell: Cell,
}

impl Acc {
    fn summary(self) -> Summary {
        let c = &self.cell;
        let duration = match (c.timed > 0, c.min_us, c.max_us) {
            (true, Some(lo), Some(hi)) => duration_stats(c.timed as u64, c.sum_us, lo, hi, &c.hist),
            _ => None,
        };
        Summary::new(self.by_status, duration)
    }
}

fn parse_status(
    cache: &mut Vec<(String, EventStatus)>,
    s: &str,
) -> Result<EventStatus, SqliteError> {
    if let Some((_, st)) = cache.iter().find(|(n, _)| n == s) {
        return Ok(*st);
    }
    let st: EventStatus = s.parse().map_err(corrupt)?;
    cache.push((s.to_owned(), st));
    Ok(st)
}

fn rollup_key(g: Option<GroupBy>, at_us: i64, ty: &str) -> Result<Option<GroupKey>, SqliteError> {
    let time = |us: i64| {
        chrono::DateTime::from_timestamp_micros(us).ok_or_else(|| corrupt("time out of range"))
    };
    Ok(match g {
        None => None,
        Some(GroupBy::EventType) => {
            Some(GroupKey::EventType(EventType::custom(ty).map_err(corrupt)?))
        }
        Some(GroupBy::Time(Bucket::Hour)) => Some(GroupKey::Time(time(hour_of(at_us))?)),
        Some(GroupBy::Time(b)) => Some(GroupKey::Time(b.start_of(time(at_us)?))),
        Some(_) => return Err(corrupt("grouping not answerable from rollups")),
    })
}

/// Statistics from the hourly rollups for whole hours, plus an exact scan of the partial
/// hours at either end of the range.
fn from_rollups(store: &SqliteStore, q: &StatsQuery) -> Result<Stats, SqliteError> {
    let since = q.filter.since.map(micros);
    let until = q.filter.until.map(micros);
    // Whole hours: [first, last).
    let first = since.map(|t| {
        let h = hour_of(t);
        if h == t {
            h
        } else {
            h + HOUR_US
        }
    });
    let last = until.map(hour_of);
    let whole_hours = match (first, last) {
        (Some(a), Some(b)) => a < b,
        _ => true,
    };
    let mut groups: BTreeMap<Option<GroupKey>, Acc> = BTreeMap::new();
    let mut statuses = Vec::new();
    store.connections().read(|conn| {
        if whole_hours {
            let mut f = Where::default();
            let mut clauses = Vec::new();
            if let Some(a) = first {
                f.values.push(Value::Integer(a));
                clauses.push(format!("hour >= ?{}", f.values.len()));
            }
            if let Some(b) = last {
                f.values.push(Value::Integer(b));
                clauses.push(format!("hour < ?{}", f.values.len()));
            }
            if !q.filter.event_types.is_empty() {
                let mut list = Vec::new();
                for t in &q.filter.event_types {
                    f.values.push(Value::Text(t.as_str().to_owned()));
                    list.push(format!("?{}", f.values.len()));
                }
                clauses.push(format!("event_type IN ({})", list.join(", ")));
            }
            if !q.filter.statuses.is_empty() {
                let list: Vec<String> = q
                    .filter
                    .statuses
                    .iter()
                    .map(|s| format!("'{}'", s.as_str()))
                    .collect();
                clauses.push(format!("status IN ({})", list.join(", ")));
            }
            let sql = format!(
                "SELECT hour, event_type, status, events, timed, sum_us, min_us, max_us, hist \
                 FROM stats_hourly WHERE {}",
                if clauses.is_empty() {
                    "1".to_owned()
                } else {
                    clauses.join(" AND ")
                }
            );
            let mut stmt = conn.prepare_cached(&sql)?;
            let mut rows = stmt.query(params_from_iter(f.values.iter()))?;
            while let Some(r) = rows.next()? {
                let hour: i64 = r.get(0)?;
                let ty = r.get_ref(1)?.as_str().map_err(corrupt)?.to_owned();
                let st = parse_status(&mut statuses, r.get_ref(2)?.as_str().map_err(corrupt)?)?;
                let cell = Cell {
                    events: r.get(3)?,
                    timed: r.get(4)?,
                    sum_us: r.get(5)?,
                    min_us: r.get(6)?,
                    max_us: r.get(7)?,
                    hist: decode(r.get_ref(8)?.as_blob().map_err(corrupt)?)?,
                    ..Cell::default()
                };
                let acc = groups
                    .entry(rollup_key(q.group_by, hour, &ty)?)
                    .or_default();
                *acc.by_status.entry(st).or_insert(0) += cell.events.max(0) as u64;
                acc.cell.merge(&cell);
            }
        }
        // The partial hours at the ends (or the whole range when it has no whole hour).
        if since.is_some() || until.is_some() {
            let mut f = filter(&q.filter);
            if whole_hours {
                let mut edge = Vec::new();
                if let Some(a) = first {
                    f.values.push(Value::Integer(a));
                    edge.push(format!("started_at < ?{}", f.values.len()));
                }
                if let Some(b) = last {
                    f.values.push(Value::Integer(b));
                    edge.push(format!("started_at >= ?{}", f.values.len()));
                }
                f.sql = format!("{} AND ({})", f.clause(), edge.join(" OR "));
            }
            let sql = format!(
                "SELECT started_at, event_type, status, duration_us FROM events WHERE {}",
                f.clause()
            );
            let mut stmt = conn.prepare_cached(&sql)?;
            let mut rows = stmt.query(params_from_iter(f.values.iter()))?;
            while let Some(r) = rows.next()? {
                let at: i64 = r.get(0)?;
                let ty = r.get_ref(1)?.as_str().map_err(corrupt)?.to_owned();
                let st = parse_status(&mut statuses, r.get_ref(2)?.as_str().map_err(corrupt)?)?;
                let acc = groups.entry(rollup_key(q.group_by, at, &ty)?).or_default();
                *acc.by_status.entry(st).or_insert(0) += 1;
                acc.cell.add(r.get(3)?);
            }
        }
        Ok(())
    })?;
    let mut all = Acc::default();
    let mut out = Vec::new();
    for (key, acc) in groups {
        for (s, n) in &acc.by_status {
            *all.by_status.entry(*s).or_insert(0) += n;
        }
        all.cell.merge(&acc.cell);
        if let Some(k) = key {
            out.push((k, acc.summary()));
        }
    }
    Ok(Stats::new(all.summary(), out))
}

fn exact(store: &SqliteStore, q: &StatsQuery) -> Result<Stats, SqliteError> {
    let f = filter(&q.filter);
    let key = q.group_by.map_or("NULL", key_column);
    let sql = format!(
        "SELECT status, duration_us, {key} FROM events WHERE {}",
        f.clause()
    );
    store.connections().read(|conn| {
        let mut stmt = conn.prepare_cached(&sql)?;
        let mut rows = stmt.query(params_from_iter(f.values.iter()))?;
        let mut collector = StatsCollector::new();
        // Status names repeat: parse each once.
        let mut statuses: Vec<(String, EventStatus)> = Vec::new();
        while let Some(row) = rows.next()? {
            let s = row.get_ref(0)?.as_str().map_err(corrupt)?;
            let status = match statuses.iter().find(|(n, _)| n == s) {
                Some((_, st)) => *st,
                None => {
                    let st: EventStatus = s.parse().map_err(corrupt)?;
                    statuses.push((s.to_owned(), st));
                    st
                }
            };
            let duration = row
                .get::<_, Option<i64>>(1)?
                .map(|us| Duration::from_micros(us.max(0) as u64));
            let key = match q.group_by {
                Some(g) => Some(group_key(g, row.get_ref(2)?)?),
                None => None,
            };
            collector.add(key, status, duration);
        }
        Ok(collector.finish())
    })
}

impl SqliteStore {
    /// Recomputes the hourly rollups that long-range [statistics](history::HistoryStore::stats)
    /// read, from the stored events, in one transaction; returns the number of events counted.
    ///
    /// Every write, purge and recovery through this library keeps the rollups exact. They
    /// drift only when the `events` table is changed by other means (rows deleted or updated
    /// with raw SQL, a file edited by another tool): then statistics over long ranges
    /// disagree with the events until this is called. Writers wait for the transaction
    /// (about a second per million events); readers do not.
    ///
    /// ```
    /// use history::{Event, EventType, HistoryStore};
    /// use history_sqlite::SqliteStore;
    ///
    /// let dir = tempfile::tempdir()?;
    /// let store = SqliteStore::open(dir.path().join("history.db"))?;
    /// store.write_batch(&[Event::new(EventType::VmCreate, "vm::create")])?;
    /// assert_eq!(store.rebuild_rollups()?, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn rebuild_rollups(&self) -> Result<u64, SqliteError> {
        self.connections().write(|conn| {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            tx.execute("DELETE FROM stats_hourly", [])?;
            let mut deltas = Deltas::default();
            let events = deltas.gather(
                &mut tx.prepare(&format!("SELECT {CHANGE_COLUMNS} FROM events"))?,
                [],
                Change::Enter,
            )?;
            deltas.apply(&tx)?;
            tx.commit()?;
            Ok(events)
        })
    }
}
