//! Events per second into a SQLite file, end to end, with rows shaped like a real service's.
//!
//! The tracked function is realistic: `create_vm(user_id: u64, image: String, spec: VmSpec)
//! -> Result<VmInfo, CloudError>`, `VmSpec` four fields, `VmInfo` three, the user and VM ids
//! taken from the arguments, one call in ten failing (a `CloudError` with its message). Each
//! row carries parameters, a result or an error, ids, host, service and a change number.
//!
//! Measured in the same run:
//! - `track_history`: N calls of the tracked function (an in-progress and a final record
//!   each, the final one replacing the first in place while queued), recorder into
//!   `SqliteStore`, then `flush()` (durable at the end);
//! - `raw_rusqlite_batched_65536`: the same N rows (same columns, same JSON texts: checked
//!   against what the recorder stores before the run) through a prepared `INSERT` with
//!   rusqlite, 65,536 rows per transaction (the recorder's largest group commit), into the
//!   same schema (a file `SqliteStore` created) with the store's write pragmas (WAL,
//!   `synchronous = NORMAL`, its cache size and checkpoint interval);
//! - `raw_rusqlite_batched_<rows>`: the same with as many rows per transaction as the
//!   recorder's group commit takes of these rows (it also closes a group at 16 MiB of staged
//!   records): the same commit size, the fair raw baseline;
//! - `raw_rusqlite_batched`: the same with 1,024 rows per transaction;
//! - `autocommit_per_event_wal`: one `INSERT` per event with no transaction around it, same
//!   file settings;
//! - `autocommit_per_event_naive`: the same on a connection with SQLite's defaults (rollback
//!   journal, `synchronous = FULL`: an fsync per event), which is what a naive service does.
//!   The autocommit variants write fewer rows (they are slow); the rate per event compares.
//!
//! Before the benches, RSS: N tracked calls pushed as fast as possible with the default
//! (blocking) policy, peak resident set size printed (`VmHWM`, Linux).
//!
//! `cargo bench --bench ingest`; `HISTORY_BENCH_EVENTS` sets N for the benches (default
//! 1,000,000), `HISTORY_RSS_EVENTS` for the RSS run (default 1,000,000). With
//! `HISTORY_INGEST_ONLY=N` the binary only runs the RSS measure with N calls and exits, with
//! `HISTORY_RAW_ONLY=N` it only writes N raw rows (65,536 per transaction): for profiling.

use std::fmt::Write as _;
use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use history::{
    track_history, Event, EventId, EventStatus, EventType, MemoryStore, Query, Recorder,
};
use history_sqlite::SqliteStore;
use serde::Serialize;

/// What to create.
#[derive(Debug, Serialize)]
struct VmSpec {
    id: u64,
    name: String,
    region: String,
    size_gb: u32,
}

/// What was created.
#[derive(Debug, Serialize)]
struct VmInfo {
    instance_id: String,
    private_ip: String,
    state: &'static str,
}

#[derive(Debug, thiserror::Error)]
#[error("quota exceeded in region {region}")]
struct CloudError {
    region: String,
}

/// The region of call `i`: one call in ten goes where there is no quota left.
fn region(i: u64) -> &'static str {
    if i % 10 == 9 {
        "mars-1"
    } else {
        "eu-west-1"
    }
}

const IMAGE: &str = "ubuntu-24.04";

#[inline(never)]
#[track_history(event_type = EventType::VmCreate, user_id = user_id, vm_id = spec.id)]
fn create_vm(user_id: u64, image: String, spec: VmSpec) -> Result<VmInfo, CloudError> {
    black_box(&image);
    if spec.region == "mars-1" {
        return Err(CloudError {
            region: spec.region,
        });
    }
    Ok(VmInfo {
        instance_id: format!("i-{:08x}", spec.id),
        private_ip: format!(
            "10.{}.{}.{}",
            spec.id >> 16 & 255,
            spec.id >> 8 & 255,
            spec.id & 255
        ),
        state: "running",
    })
}

/// Call `i`: user `i % 1,000`, VM `i`.
fn call(i: u64) -> Result<VmInfo, CloudError> {
    create_vm(
        i % 1_000,
        IMAGE.to_owned(),
        VmSpec {
            id: i,
            name: format!("vm-{i}"),
            region: region(i).to_owned(),
            size_gb: 40,
        },
    )
}

fn events(var: &str) -> u64 {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000)
}

/// N tracked calls into a fresh file, flushed; the time from the first call to durable.
fn tracked_into_sqlite(dir: &Path, n: u64) -> Duration {
    let path = dir.join(format!("tracked-{}.db", EventId::new()));
    let recorder = Recorder::new(SqliteStore::open(&path).expect("a store")).expect("a recorder");
    let guard = history::set_default(&recorder);
    let start = Instant::now();
    for i in 0..n {
        let _ = black_box(call(i));
    }
    recorder.flush().expect("flushed");
    let elapsed = start.elapsed();
    drop(guard);
    // A call whose two records straddle a batch costs two row writes: `written` may exceed n.
    let stats = recorder.stats();
    assert!(stats.lost == 0 && stats.written >= n, "{stats:?}");
    drop(recorder);
    let _ = std::fs::remove_file(&path);
    elapsed
}

/// The texts of a row that do not depend on the call: host, service, the failure's error.
struct Constant {
    host: Option<String>,
    service: Option<String>,
    error: String,
}

/// The JSON texts of call `i`'s row, as the recorder stores them, written into `params` and
/// `result` (reused buffers); `false` when the call fails.
fn row_texts(i: u64, params: &mut String, result: &mut String) -> bool {
    params.clear();
    result.clear();
    let _ = write!(
        params,
        r#"{{"user_id":{},"image":"{IMAGE}","spec":{{"id":{i},"name":"vm-{i}","region":"{}","size_gb":40}}}}"#,
        i % 1_000,
        region(i),
    );
    if region(i) == "mars-1" {
        return false;
    }
    let _ = write!(
        result,
        r#"{{"instance_id":"i-{i:08x}","private_ip":"10.{}.{}.{}","state":"running"}}"#,
        i >> 16 & 255,
        i >> 8 & 255,
        i & 255,
    );
    true
}

/// Records calls 0..20 into a `MemoryStore`, checks that the raw rows carry the same texts,
/// and returns what is the same in every row.
fn constant_texts() -> Constant {
    let recorder = Recorder::new(MemoryStore::new()).expect("a recorder");
    history::with_default(&recorder, || {
        for i in 0..20 {
            let _ = black_box(call(i));
        }
    });
    recorder.flush().expect("flushed");
    let mut stored: Vec<Event> = recorder.store().query(&Query::new()).expect("read").items;
    stored.sort_by_key(|e| e.vm_id.clone().map(|v| v.to_string()));
    let failed = stored
        .iter()
        .find(|e| e.status == EventStatus::Failed)
        .expect("a failed call");
    let constant = Constant {
        host: failed.host.clone(),
        service: failed.service.clone(),
        error: serde_json::to_string(failed.error.as_deref().expect("an error")).expect("JSON"),
    };
    let (mut params, mut result) = (String::new(), String::new());
    for e in &stored {
        let Some(history::SubjectId::Int(i)) = e.vm_id else {
            panic!("a VM id: {e:?}");
        };
        let ok = row_texts(i as u64, &mut params, &mut result);
        assert_eq!(e.parameters.as_str(), params, "parameters of call {i}");
        assert_eq!(ok, e.status == EventStatus::Success, "status of call {i}");
        if ok {
            assert_eq!(e.result.as_ref().map(|r| r.as_str()), Some(&*result));
        } else {
            let error = serde_json::to_string(e.error.as_deref().expect("an error"));
            assert_eq!(error.expect("JSON"), constant.error);
        }
        assert_eq!((&e.host, &e.service), (&constant.host, &constant.service));
    }
    constant
}

/// How many of these rows the recorder commits at once under sustained load: its group
/// closes at 65,536 events or once the staged events hold 16 MiB (by the queue's approximate
/// sizes: the event's fixed size and its texts' lengths), in whole batches of 1,024.
fn recorder_group_rows(constant: &Constant) -> u64 {
    let (mut params, mut result) = (String::new(), String::new());
    let origin = constant.host.as_ref().map_or(0, String::len)
        + constant.service.as_ref().map_or(0, String::len);
    let error: history::ErrorInfo = serde_json::from_str(&constant.error).expect("an error");
    let error = std::mem::size_of::<history::ErrorInfo>()
        + error.message.len()
        + error.kind.as_ref().map_or(0, String::len)
        + error.sources.iter().map(|s| 24 + s.len()).sum::<usize>();
    let sizes: usize = (0..1_000)
        .map(|i| {
            let ok = row_texts(i, &mut params, &mut result);
            let outcome = if ok { result.len() } else { error };
            std::mem::size_of::<Event>() + params.len() + outcome + origin
        })
        .sum();
    let batches = (16u64 << 20).div_ceil(sizes as u64 / 1_000 * 1_024);
    (batches * 1_024).min(65_536)
}

/// A file with the store's schema, and a rusqlite connection to it.
fn raw_connection(dir: &Path, name: &str) -> (std::path::PathBuf, rusqlite::Connection) {
    let path = dir.join(format!("{name}-{}.db", EventId::new()));
    drop(SqliteStore::open(&path).expect("a store"));
    let conn = rusqlite::Connection::open(&path).expect("a connection");
    (path, conn)
}

const INSERT: &str = "INSERT INTO events (id, started_at, event_type, status, finished_at, \
    duration_us, operation, user_id, vm_id, trace_id, parameters, result, error, host, service, \
    change_seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)";

/// Reused text buffers of the raw baseline.
#[derive(Default)]
struct Texts {
    params: String,
    result: String,
}

/// Call `i`'s finished row, as the store writes it (a root call is its own trace).
fn insert_row(
    stmt: &mut rusqlite::CachedStatement<'_>,
    i: u64,
    constant: &Constant,
    texts: &mut Texts,
) -> rusqlite::Result<usize> {
    let id = EventId::new();
    let now = history::now().timestamp_micros();
    let ok = row_texts(i, &mut texts.params, &mut texts.result);
    stmt.execute(rusqlite::params![
        &id.as_bytes()[..],
        now,
        "vm_create",
        if ok { "success" } else { "failed" },
        now + 3,
        3i64,
        "ingest::create_vm",
        (i % 1_000) as i64,
        i as i64,
        &id.as_bytes()[..],
        texts.params,
        ok.then_some(&texts.result),
        (!ok).then_some(&constant.error),
        constant.host,
        constant.service,
        i as i64 + 1,
    ])
}

/// The pragmas `SqliteStore` gives its write connection.
fn store_pragmas(conn: &rusqlite::Connection) {
    for (name, value) in [
        ("journal_mode", "WAL"),
        ("synchronous", "NORMAL"),
        ("wal_autocheckpoint", "10000"),
        ("cache_size", "-16384"),
        ("temp_store", "MEMORY"),
    ] {
        conn.pragma_update(None, name, value).expect("a pragma");
    }
}

fn raw_batched(dir: &Path, n: u64, per_transaction: u64, constant: &Constant) -> Duration {
    let (path, mut conn) = raw_connection(dir, "raw");
    store_pragmas(&conn);
    let mut texts = Texts::default();
    let start = Instant::now();
    let mut i = 0;
    while i < n {
        let tx = conn.transaction().expect("a transaction");
        {
            let mut stmt = tx.prepare_cached(INSERT).expect("the insert");
            for _ in 0..per_transaction.min(n - i) {
                insert_row(&mut stmt, i, constant, &mut texts).expect("a row");
                i += 1;
            }
        }
        tx.commit().expect("committed");
    }
    let elapsed = start.elapsed();
    drop(conn);
    let _ = std::fs::remove_file(&path);
    elapsed
}

fn autocommit(dir: &Path, n: u64, naive: bool, constant: &Constant) -> Duration {
    let (path, conn) = raw_connection(dir, "autocommit");
    if naive {
        conn.pragma_update(None, "journal_mode", "DELETE")
            .expect("DELETE");
        conn.pragma_update(None, "synchronous", "FULL")
            .expect("FULL");
    } else {
        store_pragmas(&conn);
    }
    let mut stmt = conn.prepare_cached(INSERT).expect("the insert");
    let mut texts = Texts::default();
    let start = Instant::now();
    for i in 0..n {
        insert_row(&mut stmt, i, constant, &mut texts).expect("a row");
    }
    let elapsed = start.elapsed();
    drop(stmt);
    drop(conn);
    let _ = std::fs::remove_file(&path);
    elapsed
}

/// Peak RSS (kB) of this process so far, from `/proc/self/status`.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn measure_rss(dir: &Path, n: u64) {
    let before = peak_rss_kib();
    let took = tracked_into_sqlite(dir, n);
    if let (Some(before), Some(after)) = (before, peak_rss_kib()) {
        eprintln!(
            "rss: {n} tracked calls into SQLite (blocking policy) in {took:?} ({:.0} events/s): \
             peak RSS {:.1} MiB (before: {:.1} MiB)",
            n as f64 / took.as_secs_f64(),
            after as f64 / 1024.0,
            before as f64 / 1024.0,
        );
    }
}

fn ingest(c: &mut Criterion, dir: &Path, constant: &Constant) {
    let n = events("HISTORY_BENCH_EVENTS");
    let mut group = c.benchmark_group("ingest");
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(1));
    group.measurement_time(Duration::from_secs(1));
    group.throughput(Throughput::Elements(n));
    group.bench_function("track_history", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| tracked_into_sqlite(dir, n)).sum())
    });
    group.bench_function("raw_rusqlite_batched_65536", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| raw_batched(dir, n, 65_536, constant))
                .sum()
        })
    });
    let rows = recorder_group_rows(constant);
    eprintln!("the recorder's group commit: about {rows} of these rows per transaction");
    group.bench_function(format!("raw_rusqlite_batched_{rows}"), |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| raw_batched(dir, n, rows, constant))
                .sum()
        })
    });
    group.bench_function("raw_rusqlite_batched", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| raw_batched(dir, n, 1_024, constant))
                .sum()
        })
    });
    let few = (n / 100).clamp(100, 10_000);
    group.throughput(Throughput::Elements(few));
    group.bench_function("autocommit_per_event_wal", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| autocommit(dir, few, false, constant))
                .sum()
        })
    });
    let fewer = (n / 5_000).clamp(50, 200);
    group.throughput(Throughput::Elements(fewer));
    group.bench_function("autocommit_per_event_naive", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| autocommit(dir, fewer, true, constant))
                .sum()
        })
    });
    group.finish();
}

fn main() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    if let Some(n) = std::env::var("HISTORY_INGEST_ONLY")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        measure_rss(dir.path(), n);
        return;
    }
    let constant = constant_texts();
    if let Some(n) = std::env::var("HISTORY_RAW_ONLY")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        let took = raw_batched(dir.path(), n, 65_536, &constant);
        eprintln!("{n} raw rows into SQLite in {took:?}");
        return;
    }
    let mut c = Criterion::default().configure_from_args();
    if !std::env::args().any(|a| a == "--list") {
        measure_rss(dir.path(), events("HISTORY_RSS_EVENTS"));
    }
    ingest(&mut c, dir.path(), &constant);
    c.final_summary();
}
