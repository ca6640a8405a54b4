//! Queries on 1,000,000 events in SQLite: newest 50 failed, one user's day, page 100 by
//! cursor, 7-day statistics with p95, and a purge of the oldest third (with the longest stall
//! a concurrent writer sees). Each query has an in-run baseline: the same question as raw SQL
//! on a plain rusqlite connection. A page's baseline selects the same columns the store reads
//! and keeps each row the way a careful hand-written application would ([`RawRow`]: owned
//! strings, integers, fixed-size id arrays), so the two sides return the same full rows.
//!
//! The data (30 days, 10 types, 1,000 users, 4 statuses) is built once into
//! `target/bench-data/query-1m.db` and reused; delete the file to rebuild it.
//!
//! `events_page_1m` asks the same first question through `history_http::router` (`GET
//! /events?status=failed&limit=50`, in process, the JSON answer read whole) beside the store
//! call alone.
//!
//! Run: `cargo bench --bench query` (quick look: `cargo bench --bench query -- --quick`).
//!
//! Instruction counts (load-independent): `HISTORY_BENCH_COUNT=<question>:<n>` asks one page
//! question (`newest_50_failed`, `one_users_day`, `page_100_by_cursor`, each also with
//! `/raw_sql`) `n` times and measures nothing, for `valgrind --tool=callgrind`; the difference
//! between two `n` is the cost of the extra pages.

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

/// The columns of a stored event, as `SqliteStore` selects them.
const RAW_COLUMNS: &str = "id, started_at, event_type, status, finished_at, duration_us, \
    operation, user_id, vm_id, credential_id, organization_id, parent_id, trace_id, \
    correlation_id, labels, parameters, result, error, terraform_status, execution, host, \
    service, external_trace_id, external_span_id";

/// One event row kept the way a hand-written application would: text and JSON columns as
/// owned strings, times and durations as integers, ids as fixed-size arrays. The baseline the
/// store's decoding into [`Event`]s is measured against.
#[allow(dead_code)] // read by nobody: built to be measured
struct RawRow {
    id: [u8; 16],
    started_at: i64,
    event_type: String,
    status: String,
    finished_at: Option<i64>,
    duration_us: Option<i64>,
    operation: String,
    user_id: Option<i64>,
    vm_id: Option<i64>,
    credential_id: Option<i64>,
    organization_id: Option<i64>,
    parent_id: Option<[u8; 16]>,
    trace_id: Option<[u8; 16]>,
    correlation_id: Option<String>,
    labels: Option<String>,
    parameters: String,
    result: Option<String>,
    error: Option<String>,
    terraform_status: Option<String>,
    execution: Option<String>,
    host: Option<String>,
    service: Option<String>,
    external_trace_id: Option<[u8; 16]>,
    external_span_id: Option<[u8; 8]>,
}

impl RawRow {
    fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawRow> {
        Ok(RawRow {
            id: r.get(0)?,
            started_at: r.get(1)?,
            event_type: r.get(2)?,
            status: r.get(3)?,
            finished_at: r.get(4)?,
            duration_us: r.get(5)?,
            operation: r.get(6)?,
            user_id: r.get(7)?,
            vm_id: r.get(8)?,
            credential_id: r.get(9)?,
            organization_id: r.get(10)?,
            parent_id: r.get(11)?,
            trace_id: r.get(12)?,
            correlation_id: r.get(13)?,
            labels: r.get(14)?,
            parameters: r.get(15)?,
            result: r.get(16)?,
            error: r.get(17)?,
            terraform_status: r.get(18)?,
            execution: r.get(19)?,
            host: r.get(20)?,
            service: r.get(21)?,
            external_trace_id: r.get(22)?,
            external_span_id: r.get(23)?,
        })
    }
}

/// Runs a page's raw SQL and keeps its rows.
fn raw_page(stmt: &mut rusqlite::Statement<'_>, params: impl rusqlite::Params) -> Vec<RawRow> {
    stmt.query_map(params, RawRow::read)
        .expect("query")
        .collect::<rusqlite::Result<Vec<_>>>()
        .expect("row")
}

/// A plain rusqlite connection read the way the store reads: read-only, no mutex, a 16 MB
/// page cache, a 256 MB memory map and plans that do not depend on bound values (the store's
/// read connections' settings), so that a page's baseline fetches its rows as cheaply as the
/// store does.
fn raw(path: &Path) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .expect("raw connection");
    conn.pragma_update(None, "cache_size", -16_000)
        .expect("cache size");
    conn.pragma_update(None, "mmap_size", 268_435_456)
        .expect("mmap size");
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )
    .expect("stable plans");
    conn
}

/// A page question: the store's query and the same question as raw SQL with its values,
/// bound where an application binds them (a user id, times, a cursor) and written into the
/// statement where they are constants of the code (a status, a page size).
struct PageQuestion {
    name: &'static str,
    query: Query,
    sql: String,
    params: Vec<rusqlite::types::Value>,
}

/// The page questions asked of the 1M-event file.
fn page_questions(store: &SqliteStore) -> Vec<PageQuestion> {
    use rusqlite::types::Value;
    let day = start_time() + chrono::Duration::days(12);
    let mut cursor_query = Query::new().limit(50);
    for _ in 0..99 {
        let page = store.query(&cursor_query).expect("query");
        cursor_query.cursor = page.next_cursor;
    }
    let cursor = cursor_query.cursor.expect("a 100th page");
    vec![
        PageQuestion {
            name: "newest_50_failed",
            query: Query::new().status(EventStatus::Failed).limit(50),
            sql: format!(
                "SELECT {RAW_COLUMNS} FROM events WHERE status = 'failed' \
                 ORDER BY started_at DESC, id DESC LIMIT 50"
            ),
            params: vec![],
        },
        PageQuestion {
            name: "one_users_day",
            query: Query::new()
                .user_id(417)
                .since(day)
                .until(day + chrono::Duration::days(1))
                .limit(100),
            sql: format!(
                "SELECT {RAW_COLUMNS} FROM events WHERE user_id = ?1 AND started_at >= ?2 \
                 AND started_at < ?3 ORDER BY started_at DESC, id DESC LIMIT 100"
            ),
            params: vec![
                Value::Integer(417),
                Value::Integer(day.timestamp_micros()),
                Value::Integer((day + chrono::Duration::days(1)).timestamp_micros()),
            ],
        },
        PageQuestion {
            name: "page_100_by_cursor",
            query: cursor_query,
            sql: format!(
                "SELECT {RAW_COLUMNS} FROM events WHERE started_at <= ?1 \
                 AND (started_at < ?1 OR id < ?2) ORDER BY started_at DESC, id DESC LIMIT 50"
            ),
            params: vec![
                Value::Integer(cursor.started_at.timestamp_micros()),
                Value::Blob(cursor.id.as_bytes().to_vec()),
            ],
        },
    ]
}

/// `HISTORY_BENCH_COUNT=<question>:<n>` (or `<question>/raw_sql:<n>`): asks one page question
/// `n` times, unmeasured, for `valgrind --tool=callgrind`; the difference between two `n` is
/// the cost of the extra pages.
fn count_only(store: &SqliteStore, conn: &rusqlite::Connection) -> bool {
    let Ok(spec) = std::env::var("HISTORY_BENCH_COUNT") else {
        return false;
    };
    let (name, n) = spec.split_once(':').expect("<question>:<n>");
    let n: usize = n.parse().expect("a number of pages");
    let (name, raw_sql) = match name.strip_suffix("/raw_sql") {
        Some(name) => (name, true),
        None => (name, false),
    };
    let questions = page_questions(store);
    let q = questions
        .iter()
        .find(|q| q.name == name)
        .unwrap_or_else(|| panic!("no page question {name}"));
    let mut stmt = conn.prepare(&q.sql).expect("prepare");
    let mut rows = 0;
    for _ in 0..n {
        rows += if raw_sql {
            raw_page(&mut stmt, rusqlite::params_from_iter(q.params.iter())).len()
        } else {
            store.query(&q.query).expect("query").len()
        };
    }
    eprintln!("{spec}: {rows} rows");
    true
}

fn queries(c: &mut Criterion) {
    let path = data_file();
    let store = SqliteStore::open(&path).expect("open");
    let conn = raw(&path);
    if count_only(&store, &conn) {
        std::process::exit(0);
    }
    let mut g = c.benchmark_group("query_1m");
    g.sample_size(30);
    g.measurement_time(Duration::from_secs(3));

    for q in page_questions(&store) {
        g.bench_function(q.name, |b| b.iter(|| store.query(&q.query).expect("query")));
        g.bench_function(format!("{}/raw_sql", q.name), |b| {
            let mut stmt = conn.prepare(&q.sql).expect("prepare");
            b.iter(|| raw_page(&mut stmt, rusqlite::params_from_iter(q.params.iter())))
        });
    }

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
