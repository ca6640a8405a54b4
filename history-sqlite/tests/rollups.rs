//! Statistics from the hourly rollups stay right through inserts, rewrites, purges and
//! recovery: counts, rates, avg, min and max exact, percentiles within the histogram's 4.5%.

use std::time::Duration;

use history::conformance::{base_time, collect_pages, sample_events};
use history::retention::Retention;
use history::stats::{compute, Bucket, GroupBy, Stats, StatsQuery, Summary};
use history::{EventStatus, EventType, Filter, HistoryStore, Query};
use history_sqlite::SqliteStore;

fn close(a: Duration, b: Duration) -> bool {
    let (a, b) = (a.as_micros() as f64, b.as_micros() as f64);
    (a - b).abs() <= 1.0 + 0.05 * b
}

fn check_summary(got: &Summary, want: &Summary, what: &str) {
    assert_eq!(got.total, want.total, "{what}: total");
    assert_eq!(got.by_status, want.by_status, "{what}: by status");
    assert_eq!(got.success_rate, want.success_rate, "{what}: success rate");
    match (&got.duration, &want.duration) {
        (None, None) => {}
        (Some(g), Some(w)) => {
            assert_eq!(
                (g.count, g.avg, g.min, g.max),
                (w.count, w.avg, w.min, w.max),
                "{what}"
            );
            for (x, y, p) in [
                (g.p50, w.p50, "p50"),
                (g.p95, w.p95, "p95"),
                (g.p99, w.p99, "p99"),
            ] {
                assert!(close(x, y), "{what}: {p} {x:?} vs exact {y:?}");
            }
        }
        (g, w) => panic!("{what}: durations {g:?} vs {w:?}"),
    }
}

fn check(store: &SqliteStore, q: &StatsQuery, what: &str) {
    let data = collect_pages(store, &Query::new().limit(1000));
    let want: Stats = compute(q, &data);
    let got = store.stats(q).unwrap();
    check_summary(&got.summary, &want.summary, what);
    assert_eq!(got.groups.len(), want.groups.len(), "{what}: groups");
    for ((gk, gs), (wk, ws)) in got.groups.iter().zip(&want.groups) {
        assert_eq!(gk, wk, "{what}");
        check_summary(gs, ws, &format!("{what} / {gk:?}"));
    }
}

fn queries() -> Vec<(&'static str, StatsQuery)> {
    let t = |m: i64| base_time() + chrono::Duration::minutes(m);
    vec![
        ("all", StatsQuery::new(Filter::new())),
        (
            "by type",
            StatsQuery::new(Filter::new()).group_by(GroupBy::EventType),
        ),
        (
            "by hour",
            StatsQuery::new(Filter::new()).group_by(GroupBy::Time(Bucket::Hour)),
        ),
        (
            "by day",
            StatsQuery::new(Filter::new()).group_by(GroupBy::Time(Bucket::Day)),
        ),
        (
            "types and statuses",
            StatsQuery::new(
                Filter::new()
                    .event_type(EventType::VmCreate)
                    .event_type(EventType::TerraformApply)
                    .status(EventStatus::Success)
                    .status(EventStatus::Failed),
            ),
        ),
        (
            "unaligned range",
            StatsQuery::new(Filter::new().since(t(1_000 + 17)).until(t(9_000 + 5))),
        ),
        (
            "aligned range by day",
            StatsQuery::new(Filter::new().since(t(24 * 60)).until(t(5 * 24 * 60)))
                .group_by(GroupBy::Time(Bucket::Day)),
        ),
        (
            "within one hour",
            StatsQuery::new(Filter::new().since(t(36 * 60 + 1)).until(t(36 * 60 + 59))),
        ),
    ]
}

#[test]
fn rollup_statistics_follow_writes_rewrites_purges_and_recovery() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.db");
    let open = || {
        SqliteStore::options()
            .exact_stats_up_to(0)
            .recover_on_open(true)
            .open(&path)
            .unwrap()
    };
    let store = open();
    let mut data = sample_events(600, 31);
    for chunk in data.chunks(64) {
        store.write_batch(chunk).unwrap();
    }
    for (name, q) in queries() {
        check(&store, &q, &format!("after inserts: {name}"));
    }
    // Rewrites: finish some in-progress events, change durations and start times.
    for (i, e) in data.iter_mut().enumerate().filter(|(i, _)| i % 3 == 0) {
        e.status = if i % 2 == 0 {
            EventStatus::Success
        } else {
            EventStatus::Failed
        };
        e.duration = Some(Duration::from_micros((i as u64 + 1) * 7_919));
        if i % 9 == 0 {
            e.started_at += chrono::Duration::hours(5);
        }
    }
    for chunk in data.chunks(50) {
        store.write_batch(chunk).unwrap();
    }
    for (name, q) in queries() {
        check(&store, &q, &format!("after rewrites: {name}"));
    }
    // A purge, then recovery of what this store left unfinished once it is closed.
    let cut = base_time() + chrono::Duration::days(3);
    assert!(
        store
            .purge(&Retention::before(cut).status(EventStatus::Success))
            .unwrap()
            .deleted
            > 0
    );
    drop(store);
    let store = open();
    assert_eq!(
        store
            .count(&Query::new().status(EventStatus::InProgress))
            .unwrap(),
        0
    );
    for (name, q) in queries() {
        check(&store, &q, &format!("after purge and recovery: {name}"));
    }
}

#[test]
fn rebuilt_rollups_agree_with_events_deleted_behind_the_stores_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.db");
    let store = SqliteStore::options()
        .exact_stats_up_to(0)
        .open(&path)
        .unwrap();
    for chunk in sample_events(600, 32).chunks(100) {
        store.write_batch(chunk).unwrap();
    }
    // Raw SQL, as an operator might: the rollups do not see it.
    let raw = rusqlite::Connection::open(&path).unwrap();
    let gone = raw
        .execute(
            "DELETE FROM events WHERE status = 'failed' OR rowid % 7 = 0",
            [],
        )
        .unwrap();
    assert!(gone > 50);
    drop(raw);
    let all = StatsQuery::new(Filter::new());
    let drifted = store.stats(&all).unwrap();
    assert_eq!(
        drifted.summary.total, 600,
        "the rollups still count the deleted rows"
    );

    assert_eq!(store.rebuild_rollups().unwrap(), 600 - gone as u64);
    for (name, q) in queries() {
        check(&store, &q, &format!("after rebuilding: {name}"));
    }
}
