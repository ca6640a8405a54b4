//! PostgreSQL: ingest, queries and retention with `PostgresStore`, each beside a raw baseline
//! in the same run, on the local server (`HISTORY_POSTGRES_URL`, default
//! `postgres://postgres@127.0.0.1:5432/test`), in a schema of its own dropped at the end.
//!
//! - `pg_ingest/recorder`: N finished events (built beforehand) through `Recorder::record`
//!   into `PostgresStore`, then `flush()`: validation, redaction, the queue, and the writer's
//!   binary `COPY` of each batch (ids all new) straight into the events table under the
//!   change-feed lock, with the rollup triggers on, committed in groups;
//! - `pg_ingest/raw_copy`: the same rows with one binary `COPY` straight into the events
//!   table (same schema, partitions and indexes, the rollup triggers off), in one
//!   transaction: the floor.
//! - `pg_query/*` on N rows over 30 days: the newest page of 50 through the store and as raw
//!   SQL; statistics over the last 7 days through the store (from the hourly rollups, the
//!   partial hour at the start scanned exactly) and as one raw `GROUP BY status` aggregate
//!   over the rows.
//! - `pg_retention/*`: a month of rows (N/2 over 60 days) deleted by a time-only policy —
//!   whole partitions dropped — and by the same rows selected with one more condition, which
//!   deletes them row by row in chunks.
//!
//! `cargo bench --bench postgres`; `HISTORY_BENCH_PG_EVENTS` sets N (default 100,000).

use std::hint::black_box;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use criterion::{Criterion, Throughput};
use history::retention::Retention;
use history::stats::StatsQuery;
use history::{Event, EventStatus, EventType, Filter, HistoryStore, Json, Query, Recorder};
use history_postgres::PostgresStore;
use postgres::binary_copy::BinaryCopyInWriter;
use postgres::types::{ToSql, Type};

fn url() -> String {
    std::env::var("HISTORY_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

fn n_events() -> u64 {
    std::env::var("HISTORY_BENCH_PG_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000)
}

/// `n` finished events spread evenly over the `days` before `end`.
fn events(n: u64, days: i64, end: DateTime<Utc>) -> Vec<Event> {
    let span_us = days * 86_400_000_000;
    (0..n)
        .map(|i| {
            let mut e = Event::new(EventType::VmCreate, "vm_service::create");
            e.started_at =
                end - chrono::Duration::microseconds(span_us / n as i64 * (n - i) as i64);
            e.status = if i % 20 == 0 {
                EventStatus::Failed
            } else {
                EventStatus::Success
            };
            e.duration = Some(Duration::from_micros(1_000 + i % 50_000));
            e.finished_at = Some(e.started_at + chrono::Duration::microseconds(1_000));
            e.user_id = Some(((i % 1_000) as i64).into());
            e.vm_id = Some((i as i64).into());
            e.host = Some(format!("host-{}", i % 8));
            e.service = Some("bench".into());
            e.parameters = Json::from(serde_json::json!({"name": "my-vm", "n": i}));
            e
        })
        .collect()
}

struct Bench {
    store: PostgresStore,
    admin: postgres::Client,
    schema: String,
}

impl Bench {
    fn open() -> Bench {
        let schema = format!("bench_{}", std::process::id());
        let store = PostgresStore::options()
            .schema(&schema)
            .open(&url())
            .expect("a PostgreSQL server (HISTORY_POSTGRES_URL)");
        let admin = postgres::Client::connect(&url(), postgres::NoTls).expect("connect");
        Bench {
            store,
            admin,
            schema,
        }
    }

    fn truncate(&mut self) {
        self.admin
            .batch_execute(&format!("TRUNCATE \"{}\".events", self.schema))
            .expect("truncate");
    }

    /// Makes the partitions of `events` exist (a write through the store), then empties.
    fn partitions_for(&mut self, events: &[Event]) {
        let mut days: Vec<Event> = Vec::new();
        let mut last = None;
        for e in events {
            let day = e.started_at.date_naive();
            if last != Some(day) {
                days.push(e.clone());
                last = Some(day);
            }
        }
        self.store.write_batch(&days).expect("write");
        self.truncate();
    }

    /// One binary `COPY` of `events` straight into the events table, with its indexes but
    /// without the triggers that keep the rollups (the floor); returns the time.
    fn raw_copy(&mut self, events: &[Event]) -> Duration {
        let start = Instant::now();
        let mut tx = self.admin.transaction().expect("begin");
        tx.batch_execute("SET LOCAL session_replication_role = replica")
            .expect("no triggers");
        let sink = tx
            .copy_in(&format!(
                "COPY \"{}\".events (id, started_at, event_type, status, finished_at, \
                 duration_us, operation, user_id, vm_id, host, service, parameters, change_seq) \
                 FROM STDIN (FORMAT binary)",
                self.schema
            ))
            .expect("copy");
        let types = [
            Type::UUID,
            Type::TIMESTAMPTZ,
            Type::TEXT,
            Type::TEXT,
            Type::TIMESTAMPTZ,
            Type::INT8,
            Type::TEXT,
            Type::JSONB,
            Type::JSONB,
            Type::TEXT,
            Type::TEXT,
            Type::JSONB,
            Type::INT8,
        ];
        let mut out = BinaryCopyInWriter::new(sink, &types);
        for (i, e) in events.iter().enumerate() {
            let subject = |s: &Option<history::SubjectId>| s.as_ref().map(serde_json::to_value);
            let user = subject(&e.user_id).transpose().expect("json");
            let vm = subject(&e.vm_id).transpose().expect("json");
            let params = e.parameters.to_value();
            let operation: &str = &e.operation;
            let row: [&(dyn ToSql + Sync); 13] = [
                e.id.as_uuid(),
                &e.started_at,
                &e.event_type.as_str(),
                &e.status.as_str(),
                &e.finished_at,
                &e.duration.map(|d| d.as_micros() as i64),
                &operation,
                &user,
                &vm,
                &e.host,
                &e.service,
                &params,
                &(i as i64 + 1),
            ];
            out.write(&row).expect("row");
        }
        out.finish().expect("finish");
        tx.commit().expect("commit");
        start.elapsed()
    }

    fn analyze(&mut self) {
        self.admin
            .batch_execute(&format!("ANALYZE \"{}\".events", self.schema))
            .expect("analyze");
    }
}

impl Drop for Bench {
    fn drop(&mut self) {
        let _ = self.admin.batch_execute(&format!(
            "DROP SCHEMA IF EXISTS \"{}\" CASCADE",
            self.schema
        ));
    }
}

fn ingest(c: &mut Criterion, bench: &mut Bench, n: u64) {
    let now = history::now();
    let data = events(n, 7, now);
    bench.partitions_for(&data);
    let store = std::sync::Arc::new(
        PostgresStore::options()
            .schema(&bench.schema)
            .open(&url())
            .expect("store"),
    );
    let mut group = c.benchmark_group("pg_ingest");
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(1));
    group.measurement_time(Duration::from_secs(1));
    group.throughput(Throughput::Elements(n));
    group.bench_function("recorder", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                bench.truncate();
                let batch = data.clone();
                let recorder = Recorder::builder()
                    .build_shared(store.clone())
                    .expect("recorder");
                let start = Instant::now();
                for e in batch {
                    recorder.record(e).expect("record");
                }
                recorder.flush().expect("flush");
                total += start.elapsed();
                let stats = recorder.stats();
                assert!(stats.lost == 0 && stats.written >= n, "{stats:?}");
            }
            total
        })
    });
    group.bench_function("raw_copy", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| {
                    bench.truncate();
                    bench.raw_copy(&data)
                })
                .sum()
        })
    });
    group.finish();
}

fn queries(c: &mut Criterion, bench: &mut Bench, n: u64) {
    let now = history::now();
    let data = events(n, 30, now);
    bench.partitions_for(&data);
    bench.raw_copy(&data);
    bench.store.rebuild_rollups().expect("rollups");
    bench.analyze();
    let store = &bench.store;
    let since = now - chrono::Duration::days(7);
    let mut group = c.benchmark_group("pg_query");
    group.sample_size(20);
    group.bench_function("newest_page_50", |b| {
        b.iter(|| black_box(store.query(&Query::new().limit(50)).expect("page")))
    });
    let mut raw = postgres::Client::connect(&url(), postgres::NoTls).expect("connect");
    let page_sql = format!(
        "SELECT id, started_at, event_type, status, finished_at, duration_us, operation, \
         user_id, vm_id, host, service, parameters FROM \"{}\".events \
         ORDER BY started_at DESC, id DESC LIMIT 51",
        bench.schema
    );
    group.bench_function("newest_page_50_raw_sql", |b| {
        b.iter(|| black_box(raw.query(page_sql.as_str(), &[]).expect("page")))
    });
    group.sample_size(10);
    group.bench_function("stats_7_days", |b| {
        b.iter(|| {
            black_box(
                store
                    .stats(&StatsQuery::new(Filter::new().since(since)))
                    .expect("stats"),
            )
        })
    });
    let stats_sql = format!(
        "SELECT status, count(*), avg(duration_us), min(duration_us), max(duration_us), \
         percentile_disc(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY duration_us) \
         FROM \"{}\".events WHERE started_at >= $1 GROUP BY status",
        bench.schema
    );
    group.bench_function("stats_7_days_raw_sql", |b| {
        b.iter(|| black_box(raw.query(stats_sql.as_str(), &[&since]).expect("stats")))
    });
    group.finish();
}

fn retention(c: &mut Criterion, bench: &mut Bench, n: u64) {
    let end = history::now().duration_trunc_day();
    let data = events(n / 2, 60, end);
    let cut = end - chrono::Duration::days(30);
    let month = data.iter().filter(|e| e.started_at < cut).count() as u64;
    let mut group = c.benchmark_group("pg_retention");
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(1));
    group.measurement_time(Duration::from_secs(1));
    group.throughput(Throughput::Elements(month));
    for (name, policy) in [
        ("month_by_partition_drop", Retention::before(cut)),
        (
            "month_by_row_delete",
            Retention::matching(Filter::new().until(cut).event_type(EventType::VmCreate)),
        ),
    ] {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    bench.partitions_for(&data);
                    bench.raw_copy(&data);
                    bench.store.rebuild_rollups().expect("rollups");
                    let start = Instant::now();
                    let report = bench.store.purge(&policy).expect("purge");
                    total += start.elapsed();
                    assert_eq!(report.deleted, month);
                }
                total
            })
        });
    }
    group.finish();
}

trait DayTrunc {
    fn duration_trunc_day(self) -> Self;
}

impl DayTrunc for DateTime<Utc> {
    fn duration_trunc_day(self) -> Self {
        use chrono::DurationRound;
        self.duration_trunc(chrono::TimeDelta::days(1))
            .unwrap_or(self)
    }
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let n = n_events();
    let mut bench = Bench::open();
    ingest(&mut c, &mut bench, n);
    bench.truncate();
    queries(&mut c, &mut bench, n);
    bench.truncate();
    retention(&mut c, &mut bench, n);
    c.final_summary();
}
