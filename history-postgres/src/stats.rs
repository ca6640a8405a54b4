//! Statistics. Small result sets, and filters or groupings the rollups do not carry: the
//! matching rows' status, duration and group key are streamed from the server and
//! summarised with [`StatsCollector`], the one definition of every figure, so the answers
//! are exact and agree with every other store. Large ranges filtered only by type, status
//! and time come from the hourly rollups (`rollup.rs`) for the whole hours and an exact scan
//! of the partial hours at either end, exactly as the SQLite store does: counts, rates,
//! avg, min and max exact, percentiles within about 4.5%.

use history::stats::{GroupBy, GroupKey, Stats, StatsCollector, StatsQuery};

use crate::rollup_read::{from_rollups, rollups_answer};
use history::{EventStatus, EventType};
use postgres::fallible_iterator::FallibleIterator;

use crate::codec::subject_of;
use crate::query::filter;
use crate::shared::Shared;
use crate::PostgresError;

fn key_column(g: Option<GroupBy>) -> &'static str {
    match g {
        None => "NULL::text",
        Some(GroupBy::EventType) => "event_type",
        Some(GroupBy::User) => "user_id::text",
        Some(GroupBy::Vm) => "vm_id::text",
        Some(GroupBy::Operation) => "operation",
        Some(GroupBy::Time(_)) => "NULL::text",
        Some(_) => "NULL::text",
    }
}

fn corrupt(what: impl std::fmt::Display) -> PostgresError {
    PostgresError::Corrupt(format!("stats: {what}"))
}

fn subject(text: Option<String>) -> Result<Option<history::SubjectId>, PostgresError> {
    match text {
        None => Ok(None),
        Some(t) => {
            let v: serde_json::Value = serde_json::from_str(&t).map_err(corrupt)?;
            subject_of(v).map(Some).map_err(corrupt)
        }
    }
}

/// The statistics of `q`: from the rollups when they can answer and the result is large,
/// else exactly.
pub(crate) fn compute(shared: &Shared, q: &StatsQuery) -> Result<Stats, PostgresError> {
    if rollups_answer(q) {
        let fast = from_rollups(shared, q)?;
        if fast.summary.total > shared.options.exact_stats_up_to {
            return Ok(fast);
        }
    }
    exact(shared, q)
}

/// The statistics of `q`, exactly.
fn exact(shared: &Shared, q: &StatsQuery) -> Result<Stats, PostgresError> {
    let f = filter(&q.filter);
    let sql = shared.names.sql(&format!(
        "SELECT status, duration_us, {}, started_at FROM {{s}}.events WHERE {}",
        key_column(q.group_by),
        f.clause()
    ));
    shared.readers.with(&shared.connector, |client| {
        let mut c = StatsCollector::new();
        let mut rows = client.query_raw(sql.as_str(), f.params())?;
        while let Some(row) = rows.next()? {
            let status: String = row.try_get(0)?;
            let status: EventStatus = status.parse().map_err(corrupt)?;
            let duration = row
                .try_get::<_, Option<i64>>(1)?
                .map(|us| std::time::Duration::from_micros(us.max(0) as u64));
            let key = match q.group_by {
                None => None,
                Some(g) => {
                    let text: Option<String> = row.try_get(2)?;
                    Some(match g {
                        GroupBy::EventType => GroupKey::EventType(
                            EventType::custom(text.unwrap_or_default()).map_err(corrupt)?,
                        ),
                        GroupBy::User => GroupKey::User(subject(text)?),
                        GroupBy::Vm => GroupKey::Vm(subject(text)?),
                        GroupBy::Operation => GroupKey::Operation(text.unwrap_or_default()),
                        GroupBy::Time(b) => {
                            let t: chrono::DateTime<chrono::Utc> = row.try_get(3)?;
                            GroupKey::Time(b.start_of(t))
                        }
                        _ => return Err(corrupt("unknown grouping")),
                    })
                }
            };
            c.add(key, status, duration);
        }
        Ok(c.finish())
    })
}
