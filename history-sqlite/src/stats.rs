//! Statistics in SQL: the matching rows' status and duration (and group key) are read through
//! the indexes the filter allows and summarised with [`history::stats::StatsBuilder`], so the
//! figures are exact and defined once.

use std::time::Duration;

use history::stats::{Bucket, GroupBy, GroupKey, Stats, StatsCollector, StatsQuery};
use history::{EventStatus, EventType, SubjectId};
use rusqlite::params_from_iter;
use rusqlite::types::ValueRef;

use crate::query::filter;
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

pub(crate) fn stats(store: &SqliteStore, q: &StatsQuery) -> Result<Stats, SqliteError> {
    let f = filter(&q.filter);
    let key = q.group_by.map_or("NULL", key_column);
    let sql = format!(
        "SELECT status, duration_us, {key} FROM events WHERE {}",
        f.clause()
    );
    store.inner().read(|conn| {
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
