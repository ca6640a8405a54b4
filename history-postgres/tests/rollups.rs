//! Long-range statistics from the hourly rollups: PostgreSQL and SQLite give the same
//! figures for the same events (the histogram layout is shared), both agree with the exact
//! definition (counts, rates, min and max exactly, percentiles within the layout's
//! precision), and they stay right after final records replace unfinished ones, after
//! recovery marks orphans and after retention deletes rows or drops partitions.

mod common;

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use history::retention::Retention;
use history::stats::{Bucket, GroupBy, Stats, StatsQuery, Summary};
use history::{Event, EventStatus, EventType, Filter, HistoryStore, MemoryStore};
use history_sqlite::SqliteStore;

/// A small deterministic generator (the test must not depend on a random seed).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
}

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2031, 3, 1, 0, 0, 0)
        .single()
        .expect("time")
}

/// `n` events over ten days: three types, every status, durations from 0 to ~10 s (a few
/// exact powers of two), unfinished ones without a duration.
fn events(n: u64) -> Vec<Event> {
    let mut r = Lcg(7);
    let span_us = 10 * 86_400_000_000i64;
    (0..n)
        .map(|i| {
            let ty = match r.next() % 3 {
                0 => EventType::VmCreate,
                1 => EventType::VmDelete,
                _ => EventType::custom("billing.sync").expect("type"),
            };
            let mut e = Event::new(ty, "op");
            e.started_at = start()
                + chrono::Duration::microseconds(((r.next() << 31 | r.next()) as i64) % span_us);
            let (status, duration) = match r.next() % 10 {
                0 => (EventStatus::InProgress, None),
                1 => (EventStatus::Failed, Some(r.next() % 3_000_000)),
                2 => (EventStatus::Cancelled, Some(1 << (r.next() % 20))),
                _ => (EventStatus::Success, Some(r.next() % 10_000_000)),
            };
            e.status = status;
            e.duration = duration.map(Duration::from_micros);
            e.finished_at =
                duration.map(|d| e.started_at + chrono::Duration::microseconds(d as i64));
            let _ = i;
            e
        })
        .collect()
}

/// The final records of the unfinished events among `all` (every other one, with a
/// duration; the rest stay unfinished).
fn finals(all: &[Event]) -> Vec<Event> {
    all.iter()
        .filter(|e| e.status == EventStatus::InProgress)
        .step_by(2)
        .enumerate()
        .map(|(i, e)| {
            let mut f = e.clone();
            f.status = if i % 3 == 0 {
                EventStatus::Failed
            } else {
                EventStatus::Success
            };
            let d = 500 + (i as u64 * 7_919) % 4_000_000;
            f.duration = Some(Duration::from_micros(d));
            f.finished_at = Some(e.started_at + chrono::Duration::microseconds(d as i64));
            f
        })
        .collect()
}

fn queries() -> Vec<StatsQuery> {
    // Not on hour boundaries: the ends are scanned exactly, the middle read from rollups.
    let since = start() + chrono::Duration::minutes(90) + chrono::Duration::seconds(7);
    let until = start() + chrono::Duration::days(9) + chrono::Duration::minutes(17);
    let range = Filter::new().since(since).until(until);
    vec![
        StatsQuery::new(range.clone()),
        StatsQuery::new(Filter::new()),
        StatsQuery::new(range.clone()).group_by(GroupBy::EventType),
        StatsQuery::new(range.clone()).group_by(GroupBy::Time(Bucket::Day)),
        StatsQuery::new(range.clone()).group_by(GroupBy::Time(Bucket::Hour)),
        StatsQuery::new(range.clone().status(EventStatus::Failed)),
        StatsQuery::new(range.event_type(EventType::VmDelete)),
    ]
}

/// Counts and rates exactly; min, max exactly, avg to the microsecond; percentiles within
/// the histogram's precision.
fn close(what: &str, fast: &Summary, exact: &Summary) {
    assert_eq!(fast.total, exact.total, "{what}: total");
    assert_eq!(fast.by_status, exact.by_status, "{what}: by status");
    assert_eq!(
        fast.success_rate, exact.success_rate,
        "{what}: success rate"
    );
    match (&fast.duration, &exact.duration) {
        (None, None) => {}
        (Some(f), Some(e)) => {
            assert_eq!(f.count, e.count, "{what}: timed");
            assert_eq!((f.min, f.max), (e.min, e.max), "{what}: min, max");
            let us = |d: Duration| d.as_micros() as f64;
            assert!((us(f.avg) - us(e.avg)).abs() <= 1.0, "{what}: avg");
            for (name, a, b) in [
                ("p50", f.p50, e.p50),
                ("p95", f.p95, e.p95),
                ("p99", f.p99, e.p99),
            ] {
                // Half a bucket (4.5%), plus the gap to the neighbouring rank for small sets.
                let tolerance = us(b) * 0.095 + 2.0;
                assert!(
                    (us(a) - us(b)).abs() <= tolerance,
                    "{what}: {name} {a:?} vs exact {b:?}"
                );
            }
        }
        other => panic!("{what}: durations {other:?}"),
    }
}

fn agree(step: &str, pg: &dyn HistoryStore, sqlite: &dyn HistoryStore, exact: &MemoryStore) {
    for (i, q) in queries().iter().enumerate() {
        let what = format!("{step}, query {i}");
        let a: Stats = pg.stats(q).expect("postgres stats");
        let b: Stats = sqlite.stats(q).expect("sqlite stats");
        let e: Stats = exact.stats(q).expect("exact stats");
        assert!(a.summary.total > 0, "{what}: something to count");
        assert_eq!(a, b, "{what}: PostgreSQL and SQLite answer alike");
        close(&what, &a.summary, &e.summary);
        assert_eq!(a.groups.len(), e.groups.len(), "{what}: groups");
        for ((ka, sa), (ke, se)) in a.groups.iter().zip(&e.groups) {
            assert_eq!(ka, ke, "{what}: group keys");
            close(&format!("{what}, group {ka:?}"), sa, se);
        }
    }
}

#[test]
fn long_range_statistics_agree_with_sqlite_and_stay_right() {
    let Some(fixture) = common::store_with("rollups", |o| o.exact_stats_up_to(0)) else {
        return;
    };
    let pg = &fixture.store;
    let dir = tempfile::tempdir().expect("dir");
    let sqlite = SqliteStore::options()
        .exact_stats_up_to(0)
        .open(dir.path().join("history.db"))
        .expect("sqlite");
    let exact = MemoryStore::new();
    let all = events(30_000);
    let write = |batch: &[Event]| {
        for chunk in batch.chunks(4_000) {
            pg.write_batch(chunk).expect("postgres write");
            sqlite.write_batch(chunk).expect("sqlite write");
            exact.write_batch(chunk).expect("memory write");
        }
    };
    write(&all);
    agree("written", pg, &sqlite, &exact);

    // Final records replace unfinished ones (their cells move); the same records again
    // change nothing.
    let done = finals(&all);
    assert!(done.len() > 500);
    write(&done);
    write(&done[..1_000]);
    agree("finished", pg, &sqlite, &exact);

    // Retention: a time-only cut not on a partition boundary (partitions dropped, the rest
    // deleted row by row), then one type deleted row by row over a range.
    let cut = start() + chrono::Duration::days(2) + chrono::Duration::minutes(43);
    for policy in [
        Retention::before(cut),
        Retention::matching(
            Filter::new()
                .event_type(EventType::VmCreate)
                .until(start() + chrono::Duration::days(5)),
        ),
        Retention::matching(Filter::new().status(EventStatus::Cancelled)),
    ] {
        let a = pg.purge(&policy).expect("postgres purge");
        let b = sqlite.purge(&policy).expect("sqlite purge");
        let e = exact.purge(&policy).expect("memory purge");
        assert_eq!((a.deleted, b.deleted), (e.deleted, e.deleted), "{policy:?}");
        assert!(a.deleted > 0, "{policy:?}");
    }
    agree("purged", pg, &sqlite, &exact);

    // The rollups were exact all along: recomputing them changes no answer.
    let before: Vec<Stats> = queries()
        .iter()
        .map(|q| pg.stats(q).expect("stats"))
        .collect();
    assert_eq!(
        pg.rebuild_rollups().expect("rebuild"),
        exact.count(&Filter::new()).expect("count")
    );
    let after: Vec<Stats> = queries()
        .iter()
        .map(|q| pg.stats(q).expect("stats"))
        .collect();
    assert_eq!(before, after);
}

#[test]
fn recovery_moves_orphans_to_interrupted_in_the_rollups() {
    let Some(fixture) = common::store_with("rollrecover", |o| o.exact_stats_up_to(0)) else {
        return;
    };
    let mut batch = events(2_000);
    for e in &mut batch {
        e.started_at = history::now() - chrono::Duration::hours(3);
    }
    fixture.store.write_batch(&batch).expect("write");
    let unfinished = batch
        .iter()
        .filter(|e| e.status == EventStatus::InProgress)
        .count() as u64;
    // A second store takes the first one's events for orphans once it is gone.
    let schema = fixture.store.schema().to_owned();
    let history::conformance::Guarded { store, guard } = fixture;
    drop(store);
    let _drop = guard;
    let other = history_postgres::PostgresStore::options()
        .schema(&schema)
        .recover_on_open(false)
        .exact_stats_up_to(0)
        .open(&common::url())
        .expect("reopen");
    assert_eq!(other.recover_interrupted().expect("recover"), unfinished);
    let q = StatsQuery::new(Filter::new().since(history::now() - chrono::Duration::days(1)));
    let fast = other.stats(&q).expect("stats");
    assert_eq!(fast.summary.by_status.get(&EventStatus::InProgress), None);
    assert_eq!(
        fast.summary.by_status.get(&EventStatus::Interrupted),
        Some(&unfinished)
    );
    assert_eq!(other.rebuild_rollups().expect("rebuild"), 2_000);
    assert_eq!(other.stats(&q).expect("stats"), fast);
}

#[test]
fn the_servers_bucket_is_the_shared_layouts() {
    let Some(fixture) = common::store("rollbucket") else {
        return;
    };
    let mut admin = postgres::Client::connect(&common::url(), postgres::NoTls).expect("admin");
    let mut r = Lcg(11);
    let mut values: Vec<i64> = vec![0, -5, 1, 2, 3, i64::MAX];
    for p in 0..63 {
        let x = 1i64 << p;
        values.extend([x - 1, x, x + 1]);
    }
    values.extend((0..2_000).map(|_| (r.next() << 20 | r.next()) as i64 % 100_000_000_000));
    let sql = format!(
        "SELECT v, \"{}\".duration_bucket(v) FROM unnest($1::bigint[]) AS v",
        fixture.store.schema()
    );
    for row in admin.query(sql.as_str(), &[&values]).expect("buckets") {
        let (v, b): (i64, i32) = (row.get(0), row.get(1));
        assert_eq!(b, i32::from(history::stats::histogram::bucket(v)), "{v}");
    }
}
