//! Queries on 1,000,000 events in SQLite: newest 50 failed, one user's day, page 100 by
//! cursor, 7-day statistics with p95, and a purge of the oldest third (with the longest stall
//! a concurrent writer sees). Each query has an in-run baseline: the same question as raw SQL
//! on a plain rusqlite connection, rows not decoded into events.
//!
//! The data (30 days, 10 types, 1,000 users, 4 statuses) is built once into
//! `target/bench-data/query-1m.db` and reused; delete the file to rebuild it.
//!
//! `events_page_1m` asks the same first question through `history_http::router` (`GET
//! /events?status=failed&limit=50`, in process, the JSON answer read whole) beside the store
//! call alone.
//!
//! Run: `cargo bench --bench query` (quick look: `cargo bench --bench query -- --quick`).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use criterion::{criterion_group, criterion_main, Criterion};
use history::conformance::Rng;
use history::retention::Retention;
use history::stats::StatsQuery;
use history::{Event, EventId, EventStatus, EventType, HistoryStore, Json, Query, SubjectId};
use history_sqlite::SqliteStore;

const EVENTS: usize = 1_000_000;
const DAYS: i64 = 30;

fn end_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0)
        .single()
        .expect("valid date")
}

fn start_time() -> DateTime<Utc> {
    end_time() - chrono::Duration::days(DAYS)
}

/// A UUID v7 whose time is `at` (so ids follow start times, as they do in real use).
fn id_at(at: DateTime<Utc>, rng: &mut Rng) -> EventId {
    let ms = at.timestamp_millis() as u64;
    let r = rng.next_u64().to_be_bytes();
    let r2 = rng.next_u64().to_be_bytes();
    let mut b = [0u8; 16];
    b[..6].copy_from_slice(&ms.to_be_bytes()[2..]);
    b[6] = 0x70 | (r[0] & 0x0f);
    b[7] = r[1];
    b[8] = 0x80 | (r[2] & 0x3f);
    b[9..16].copy_from_slice(&r2[..7]);
    EventId::from_bytes(b)
}

fn make_event(i: usize, rng: &mut Rng) -> Event {
    let types = [
        EventType::VmCreate,
        EventType::VmStart,
        EventType::VmStop,
        EventType::VmRestart,
        EventType::VmDelete,
        EventType::VmUpdate,
        EventType::ApiRequest,
        EventType::TerraformPlan,
        EventType::TerraformApply,
        EventType::PlaybookRun,
    ];
    let span_us = DAYS * 86_400_000_000;
    let at = start_time()
        + chrono::Duration::microseconds(
            (i as i64) * (span_us / EVENTS as i64) + rng.below(1_000_000) as i64,
        );
    let t = rng.pick(&types).clone();
    let mut e = Event::new(t.clone(), format!("svc::{}", t.as_str()));
    e.id = id_at(at, rng);
    e.started_at = at;
    e.user_id = Some(SubjectId::Int(1 + rng.below(1000) as i64));
    e.vm_id = Some(SubjectId::Int(1 + rng.below(5000) as i64));
    e.status = match rng.below(100) {
        0..=69 => EventStatus::Success,
        70..=89 => EventStatus::Failed,
        90..=94 => EventStatus::Cancelled,
        _ => EventStatus::InProgress,
    };
    e.parameters = Json::from(serde_json::json!({
        "name": format!("vm-{}", i % 5000), "region": "eu-west-1", "size": "m5.large"
    }));
    if e.status != EventStatus::InProgress {
        // Long-tailed durations: mostly 50 ms – 5 s, some minutes.
        let base = 50_000 + rng.below(5_000_000);
        let us = if rng.chance(5) { base * 40 } else { base };
        e.duration = Some(Duration::from_micros(us));
        e.finished_at = Some(at + chrono::Duration::microseconds(us as i64));
    }
    if e.status == EventStatus::Success {
        e.result = Some(Json::from(
            serde_json::json!({"instance_id": format!("i-{i:x}")}),
        ));
    }
    if e.status == EventStatus::Failed {
        let mut info = history::ErrorInfo::new("quota exceeded for instance type");
        info.sources = vec!["HTTP 429 from provider".into()];
        e.error = Some(Box::new(info));
    }
    e
}

/// The cached 1M-event file, built on first use.
fn data_file() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-data");
    let path = dir.join("query-1m.db");
    if path.exists() {
        return path;
    }
    std::fs::create_dir_all(&dir).expect("create target/bench-data");
    let tmp = dir.join("query-1m.db.building");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", tmp.display()));
    }
    let store = SqliteStore::open(&tmp).expect("open");
    let mut rng = Rng::new(42);
    let started = Instant::now();
    let mut batch = Vec::with_capacity(10_000);
    for i in 0..EVENTS {
        batch.push(make_event(i, &mut rng));
        if batch.len() == 10_000 {
            store.write_batch(&batch).expect("write");
            batch.clear();
        }
    }
    store.write_batch(&batch).expect("write");
    let took = started.elapsed();
    eprintln!(
        "built {EVENTS} events in {took:.1?} ({:.0} events/s, batches of 10,000)",
        EVENTS as f64 / took.as_secs_f64()
    );
    store.analyze().expect("analyze");
    drop(store);
    let conn = rusqlite::Connection::open(&tmp).expect("reopen");
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
        .expect("checkpoint");
    drop(conn);
    std::fs::rename(&tmp, &path).expect("rename");
    path
}

fn raw(path: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .expect("raw connection")
}

fn queries(c: &mut Criterion) {
    let path = data_file();
    let store = SqliteStore::open(&path).expect("open");
    let conn = raw(&path);
    let mut g = c.benchmark_group("query_1m");
    g.sample_size(30);
    g.measurement_time(Duration::from_secs(3));

    let failed = Query::new().status(EventStatus::Failed).limit(50);
    g.bench_function("newest_50_failed", |b| {
        b.iter(|| store.query(&failed).expect("query"))
    });
    g.bench_function("newest_50_failed/raw_sql", |b| {
        let mut stmt = conn
            .prepare("SELECT id, started_at FROM events WHERE status = 'failed' ORDER BY started_at DESC, id DESC LIMIT 50")
            .expect("prepare");
        b.iter(|| {
            stmt.query_map([], |r| r.get::<_, Vec<u8>>(0))
                .expect("query")
                .count()
        })
    });

    let day = start_time() + chrono::Duration::days(12);
    let users_day = Query::new()
        .user_id(417)
        .since(day)
        .until(day + chrono::Duration::days(1))
        .limit(100);
    g.bench_function("one_users_day", |b| {
        b.iter(|| store.query(&users_day).expect("query"))
    });
    g.bench_function("one_users_day/raw_sql", |b| {
        let mut stmt = conn
            .prepare("SELECT id FROM events WHERE user_id = 417 AND started_at >= ?1 AND started_at < ?2 ORDER BY started_at DESC, id DESC LIMIT 100")
            .expect("prepare");
        let (a, z) = (day.timestamp_micros(), (day + chrono::Duration::days(1)).timestamp_micros());
        b.iter(|| {
            stmt.query_map([a, z], |r| r.get::<_, Vec<u8>>(0))
                .expect("query")
                .count()
        })
    });

    let mut q = Query::new().limit(50);
    for _ in 0..99 {
        let page = store.query(&q).expect("query");
        q.cursor = page.next_cursor;
    }
    let cursor = q.cursor.expect("a 100th page");
    g.bench_function("page_100_by_cursor", |b| {
        b.iter(|| store.query(&q).expect("query"))
    });
    g.bench_function("page_100_by_cursor/raw_sql", |b| {
        let mut stmt = conn
            .prepare("SELECT id FROM events WHERE started_at <= ?1 AND (started_at < ?1 OR id < ?2) ORDER BY started_at DESC, id DESC LIMIT 50")
            .expect("prepare");
        let ts = cursor.started_at.timestamp_micros();
        let id = cursor.id.as_bytes().to_vec();
        b.iter(|| {
            stmt.query_map(rusqlite::params![ts, id], |r| r.get::<_, Vec<u8>>(0))
                .expect("query")
                .count()
        })
    });

    let week =
        StatsQuery::new(history::Filter::new().since(end_time() - chrono::Duration::days(7)));
    g.sample_size(10);
    g.bench_function("stats_7_days_p95", |b| {
        b.iter(|| store.stats(&week).expect("stats"))
    });
    g.bench_function("stats_7_days_p95/raw_sql_naive", |b| {
        let mut stmt = conn
            .prepare("SELECT status, count(*), avg(duration_us), min(duration_us), max(duration_us) FROM events WHERE started_at >= ?1 GROUP BY status")
            .expect("prepare");
        let mut p95 = conn
            .prepare("SELECT duration_us FROM events WHERE started_at >= ?1 AND duration_us IS NOT NULL ORDER BY duration_us LIMIT 1 OFFSET (SELECT count(*) * 95 / 100 FROM events WHERE started_at >= ?1 AND duration_us IS NOT NULL)")
            .expect("prepare");
        let since = (end_time() - chrono::Duration::days(7)).timestamp_micros();
        b.iter(|| {
            let n = stmt.query_map([since], |r| r.get::<_, i64>(1)).expect("q").count();
            let p: i64 = p95.query_row([since], |r| r.get(0)).expect("p95");
            (n, p)
        })
    });
    g.finish();
}

/// Purges the oldest third of a copy of the data while a writer thread keeps writing
/// batches of 100 (one every 5 ms); reports the purge time, and the writer's latencies during
/// the purges against its own latencies in the second before each purge (the in-run
/// baseline: same store, same machine load).
fn purge(c: &mut Criterion) {
    let path = data_file();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-data");
    let copy = dir.join("purge-copy.db");
    let cutoff = start_time() + chrono::Duration::days(DAYS / 3);
    let mut g = c.benchmark_group("purge_1m");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(20));
    let (mut before, mut during) = (Vec::new(), Vec::new());
    g.bench_function("oldest_third", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", copy.display()));
                }
                std::fs::copy(&path, &copy).expect("copy");
                // The copy's 350 MB reach the disk before the clock starts: writing them back
                // is the bench's set-up, not the purge's cost.
                std::fs::File::open(&copy)
                    .and_then(|f| f.sync_all())
                    .expect("sync the copy");
                let store = Arc::new(SqliteStore::open(&copy).expect("open copy"));
                let stop = Arc::new(AtomicBool::new(false));
                let writer = {
                    let (store, stop) = (store.clone(), stop.clone());
                    std::thread::spawn(move || {
                        let mut rng = Rng::new(7);
                        let mut writes = Vec::new();
                        let mut i = EVENTS;
                        while !stop.load(Ordering::Relaxed) {
                            let batch: Vec<Event> =
                                (0..100).map(|k| make_event(i + k, &mut rng)).collect();
                            i += 100;
                            let t = Instant::now();
                            store.write_batch(&batch).expect("write during purge");
                            writes.push((t, t.elapsed()));
                            std::thread::sleep(Duration::from_millis(5));
                        }
                        writes
                    })
                };
                std::thread::sleep(Duration::from_secs(1));
                let t = Instant::now();
                let report = store.purge(&Retention::before(cutoff)).expect("purge");
                let took = t.elapsed();
                total += took;
                stop.store(true, Ordering::Relaxed);
                for (at, d) in writer.join().expect("writer") {
                    if at < t {
                        before.push(d);
                    } else if at < t + took {
                        during.push(d);
                    }
                }
                assert!(report.deleted > 300_000, "{report:?}");
            }
            total
        })
    });
    g.finish();
    for (name, writes) in [("before", &mut before), ("during", &mut during)] {
        writes.sort_unstable();
        let at = |q: f64| writes[((writes.len() - 1) as f64 * q) as usize];
        if !writes.is_empty() {
            eprintln!(
                "purge_1m/oldest_third: 100-event writes {name} the purges: {} writes, \
                 p50 {:.1?}, p99 {:.1?}, longest {:.1?}",
                writes.len(),
                at(0.5),
                at(0.99),
                at(1.0)
            );
        }
    }
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", copy.display()));
    }
}

/// `/events` through the HTTP router beside the store call it makes.
fn events_page(c: &mut Criterion) {
    use tower::ServiceExt;
    let path = data_file();
    let store = Arc::new(SqliteStore::open(&path).expect("open"));
    let app = history_http::router(store.clone());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let mut g = c.benchmark_group("events_page_1m");
    g.sample_size(30);
    g.measurement_time(Duration::from_secs(3));
    let failed = Query::new().status(EventStatus::Failed).limit(50);
    g.bench_function("store_query", |b| {
        b.iter(|| store.query(&failed).expect("query"))
    });
    g.bench_function("http_get_events", |b| {
        b.iter(|| {
            rt.block_on(async {
                let req = axum::http::Request::get("/events?status=failed&limit=50")
                    .body(axum::body::Body::empty())
                    .expect("request");
                let res = app.clone().oneshot(req).await.expect("response");
                assert_eq!(res.status(), 200);
                axum::body::to_bytes(res.into_body(), usize::MAX)
                    .await
                    .expect("body")
            })
        })
    });
    g.finish();
}

criterion_group!(benches, queries, events_page, purge);
criterion_main!(benches);
