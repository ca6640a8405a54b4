//! Events per second into a SQLite file, end to end (issue 6, items 2 and 3).
//!
//! Measured in the same run:
//! - `track_history`: N calls of a `#[track_history]` function (an in-progress and a final
//!   record each, merged into one row write when they share a batch), recorder into
//!   `SqliteStore`, then `flush()` (durable at the end);
//! - `raw_rusqlite_batched`: the same number of event rows through a prepared `INSERT` with
//!   rusqlite, 1,024 rows per transaction, into the same schema (a file `SqliteStore` created,
//!   so the same tables and indexes) with the store's write pragmas (WAL, `synchronous =
//!   NORMAL`, its cache size and checkpoint interval);
//! - `raw_rusqlite_batched_65536`: the same with 65,536 rows per transaction, the recorder's
//!   largest group commit: the fairest raw baseline for a writer that groups;
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
//! 1,000,000), `HISTORY_RSS_EVENTS` for the RSS run (default 1,000,000).

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use history::{track_history, EventId, EventType, Recorder};
use history_sqlite::SqliteStore;

#[inline(never)]
#[track_history(event_type = EventType::VmCreate, user_id = user_id, vm_id = vm_id)]
fn create_vm(user_id: u64, vm_id: u64, name: &str) -> Result<u64, std::io::Error> {
    Ok(black_box(vm_id ^ user_id ^ name.len() as u64))
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
        let _ = black_box(create_vm(i % 1_000, i, "my-vm"));
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

/// A file with the store's schema, and a rusqlite connection to it.
fn raw_connection(dir: &Path, name: &str) -> (std::path::PathBuf, rusqlite::Connection) {
    let path = dir.join(format!("{name}-{}.db", EventId::new()));
    drop(SqliteStore::open(&path).expect("a store"));
    let conn = rusqlite::Connection::open(&path).expect("a connection");
    (path, conn)
}

const INSERT: &str = "INSERT INTO events (id, started_at, event_type, status, finished_at, \
    duration_us, operation, user_id, vm_id, trace_id, parameters, result) \
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)";

/// One finished event's row, as the store writes it for `create_vm` (a root call is its own
/// trace).
fn insert_row(stmt: &mut rusqlite::CachedStatement<'_>, i: u64) -> rusqlite::Result<usize> {
    let id = EventId::new();
    let now = history::now().timestamp_micros();
    stmt.execute(rusqlite::params![
        &id.as_bytes()[..],
        now,
        "vm_create",
        "success",
        now + 3,
        3i64,
        "ingest::create_vm",
        (i % 1_000) as i64,
        i as i64,
        &id.as_bytes()[..],
        r#"{"user_id":1,"vm_id":2,"name":"my-vm"}"#,
        "3",
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

fn raw_batched(dir: &Path, n: u64, per_transaction: u64) -> Duration {
    let (path, mut conn) = raw_connection(dir, "raw");
    store_pragmas(&conn);
    let start = Instant::now();
    let mut i = 0;
    while i < n {
        let tx = conn.transaction().expect("a transaction");
        {
            let mut stmt = tx.prepare_cached(INSERT).expect("the insert");
            for _ in 0..per_transaction.min(n - i) {
                insert_row(&mut stmt, i).expect("a row");
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

fn autocommit(dir: &Path, n: u64, naive: bool) -> Duration {
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
    let start = Instant::now();
    for i in 0..n {
        insert_row(&mut stmt, i).expect("a row");
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

fn ingest(c: &mut Criterion, dir: &Path) {
    let n = events("HISTORY_BENCH_EVENTS");
    let mut group = c.benchmark_group("ingest");
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(1));
    group.measurement_time(Duration::from_secs(1));
    group.throughput(Throughput::Elements(n));
    group.bench_function("track_history", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| tracked_into_sqlite(dir, n)).sum())
    });
    group.bench_function("raw_rusqlite_batched", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| raw_batched(dir, n, 1_024)).sum())
    });
    group.bench_function("raw_rusqlite_batched_65536", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| raw_batched(dir, n, 65_536)).sum())
    });
    let few = (n / 100).clamp(100, 10_000);
    group.throughput(Throughput::Elements(few));
    group.bench_function("autocommit_per_event_wal", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| autocommit(dir, few, false)).sum())
    });
    let fewer = (n / 5_000).clamp(50, 200);
    group.throughput(Throughput::Elements(fewer));
    group.bench_function("autocommit_per_event_naive", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| autocommit(dir, fewer, true)).sum())
    });
    group.finish();
}

fn main() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut c = Criterion::default().configure_from_args();
    if !std::env::args().any(|a| a == "--list") {
        measure_rss(dir.path(), events("HISTORY_RSS_EVENTS"));
    }
    ingest(&mut c, dir.path());
    c.final_summary();
}
