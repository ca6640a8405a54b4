//! Time partitions of the events table: one per span of start times, named for the UTC start
//! (`events_p2026010100`), created ahead of time by the writer. Events outside every
//! partition land in the default partition.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use parking_lot::Mutex;
use postgres::Client;

use crate::names::{lock_key, Names};
use crate::PostgresError;

/// The most partitions one batch may create: a batch spread over years of start times
/// (a backfill) sends the rest to the default partition instead of creating thousands.
const MAX_NEW_PER_BATCH: usize = 64;

/// The partitions this store knows exist (or decided not to create).
#[derive(Debug)]
pub(crate) struct Partitions {
    span_us: i64,
    known: Mutex<HashSet<i64>>,
}

/// One partition: its bounds (start inclusive, end exclusive) and its table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Partition {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub table: String,
}

impl Partitions {
    pub(crate) fn new(span_secs: i64) -> Partitions {
        Partitions {
            span_us: span_secs.saturating_mul(1_000_000),
            known: Mutex::new(HashSet::new()),
        }
    }

    /// The start of the partition holding `t` (microseconds; flooring, also before 1970).
    pub(crate) fn start_of(&self, t_us: i64) -> i64 {
        t_us - t_us.rem_euclid(self.span_us)
    }

    /// The partition starting at `start_us`, if it has a name (years 1 to 9999).
    fn partition(&self, start_us: i64) -> Option<Partition> {
        let start = DateTime::from_timestamp_micros(start_us)?;
        let end = DateTime::from_timestamp_micros(start_us.checked_add(self.span_us)?)?;
        if !(1..=9999).contains(&chrono::Datelike::year(&start)) {
            return None;
        }
        Some(Partition {
            start,
            end,
            table: format!("events_p{}", start.format("%Y%m%d%H")),
        })
    }

    /// Makes sure a partition exists for each of `times` (microseconds), and for the current
    /// one and `ahead` after it. Each missing one is created in its own short transaction on
    /// `client`, which must not be in a transaction. A partition whose range already has rows
    /// in the default partition is not created (they stay where they are).
    pub(crate) fn ensure(
        &self,
        client: &mut Client,
        names: &Names,
        times: impl IntoIterator<Item = i64>,
        ahead: u32,
    ) -> Result<(), PostgresError> {
        let now = self.start_of(history::now().timestamp_micros());
        let mut wanted: Vec<i64> = (0..=i64::from(ahead))
            .map(|i| now.saturating_add(i.saturating_mul(self.span_us)))
            .collect();
        {
            let known = self.known.lock();
            let mut seen = HashSet::new();
            for t in times {
                let s = self.start_of(t);
                if !known.contains(&s) && seen.insert(s) {
                    wanted.push(s);
                }
            }
            wanted.retain(|s| !known.contains(s));
        }
        wanted.sort_unstable();
        wanted.dedup();
        for (n, start) in wanted.into_iter().enumerate() {
            if n >= MAX_NEW_PER_BATCH {
                break;
            }
            if let Some(p) = self.partition(start) {
                create(client, names, &p)?;
            }
            self.known.lock().insert(start);
        }
        Ok(())
    }

    /// Forgets a partition (after retention dropped it).
    pub(crate) fn forget(&self, start: DateTime<Utc>) {
        self.known.lock().remove(&start.timestamp_micros());
    }
}

fn create(client: &mut Client, names: &Names, p: &Partition) -> Result<(), PostgresError> {
    let mut tx = client.transaction()?;
    // Hosts creating the same partition take turns; a short lock timeout keeps a writer
    // from waiting long behind a long query (it retries at its next batch).
    tx.batch_execute("SET LOCAL lock_timeout = '5s'")?;
    tx.execute(
        "SELECT pg_advisory_xact_lock($1)",
        &[&lock_key("partitions", &names.schema)],
    )?;
    let sql = names.sql(&format!(
        "CREATE TABLE IF NOT EXISTS {{s}}.\"{}\" PARTITION OF {{s}}.events \
         FOR VALUES FROM ('{}') TO ('{}')",
        p.table,
        p.start.to_rfc3339(),
        p.end.to_rfc3339()
    ));
    match tx.batch_execute(&sql) {
        Ok(()) => {
            tx.commit()?;
            Ok(())
        }
        // 23514: rows of that range already sit in the default partition; they stay there.
        Err(e) if e.code().is_some_and(|c| c.code() == "23514") => {
            tracing::warn!(
                partition = %p.table,
                "history-postgres: the default partition holds events of this range; \
                 they stay there (retention deletes them row by row)"
            );
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

/// Every time partition of the events table, oldest first (read from their names: the span
/// is the schema's).
pub(crate) fn list(
    client: &mut Client,
    names: &Names,
    partitions: &Partitions,
) -> Result<Vec<Partition>, PostgresError> {
    let rows = client.query(
        "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
         JOIN pg_class p ON p.oid = i.inhparent JOIN pg_namespace n ON n.oid = p.relnamespace \
         WHERE n.nspname = $1 AND p.relname = 'events'",
        &[&names.schema],
    )?;
    let mut out = Vec::new();
    for row in rows {
        let table: String = row.get(0);
        let Some(stamp) = table.strip_prefix("events_p") else {
            continue;
        };
        let Ok(start) =
            chrono::NaiveDateTime::parse_from_str(&format!("{stamp}0000"), "%Y%m%d%H%M%S")
        else {
            continue;
        };
        let start_us = start.and_utc().timestamp_micros();
        if let Some(p) = partitions.partition(start_us) {
            if p.table == table {
                out.push(p);
            }
        }
    }
    out.sort_by_key(|p| p.start);
    Ok(out)
}
