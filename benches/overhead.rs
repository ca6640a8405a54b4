//! What tracking costs the tracked call (issue 6, item 1).
//!
//! One function with three arguments returning `Result`, in five forms measured in the same
//! run: plain; `#[tracing::instrument(ret, err)]` with no subscriber; the same with
//! `tracing_subscriber::fmt().json()` writing to `io::sink()`; `#[track_history]` into a
//! recorder whose store discards; `#[track_history]` into a `SqliteStore` file. Each on one
//! thread and on two threads at once (the time is per call, as each thread sees it).
//!
//! `cargo bench --bench overhead` (add `-- --quick` while developing).

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use history::StoreError;
use history::{track_history, Event, EventId, EventType, HistoryStore, Page, Query, Recorder};

/// The error the measured function can return.
#[derive(Debug)]
struct QuotaError;

impl std::fmt::Display for QuotaError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("quota exceeded")
    }
}

impl std::error::Error for QuotaError {}

#[inline(always)]
fn body(user_id: u64, name: &str, size: u32) -> Result<u64, QuotaError> {
    if size == u32::MAX {
        return Err(QuotaError);
    }
    Ok(user_id.wrapping_mul(31) ^ name.len() as u64 ^ u64::from(size))
}

#[inline(never)]
fn plain(user_id: u64, name: &str, size: u32) -> Result<u64, QuotaError> {
    body(user_id, name, size)
}

#[inline(never)]
#[tracing::instrument(ret, err)]
fn traced(user_id: u64, name: &str, size: u32) -> Result<u64, QuotaError> {
    body(user_id, name, size)
}

#[inline(never)]
#[track_history(event_type = EventType::VmCreate, user_id = user_id)]
fn tracked(user_id: u64, name: &str, size: u32) -> Result<u64, QuotaError> {
    body(user_id, name, size)
}

/// A store that keeps nothing: measures the recorder, not a database.
struct Discard;

impl HistoryStore for Discard {
    fn write_batch(&self, batch: &[Event]) -> Result<(), StoreError> {
        black_box(batch.len());
        Ok(())
    }
    fn get(&self, _: EventId) -> Result<Option<Event>, StoreError> {
        Ok(None)
    }
    fn query(&self, _: &Query) -> Result<Page<Event>, StoreError> {
        Err(StoreError::InvalidQuery(
            "the discarding store keeps nothing".into(),
        ))
    }
    fn count(&self, _: &history::Filter) -> Result<u64, StoreError> {
        Ok(0)
    }
}

type Call = fn(u64, &str, u32) -> Result<u64, QuotaError>;

/// How a variant is set up on each thread that runs it.
#[derive(Clone)]
enum Setup {
    Nothing,
    TracingJson,
    Recorder(Recorder),
}

/// Runs `iters` calls on each of `threads` threads at once; the time per call is the longest
/// thread's time divided by `iters`.
fn run(threads: usize, iters: u64, f: Call, setup: &Setup) -> Duration {
    let work = move |setup: Setup| {
        let _tracing = match setup {
            Setup::TracingJson => Some(tracing::subscriber::set_default(
                tracing_subscriber::fmt()
                    .json()
                    .with_writer(std::io::sink)
                    .finish(),
            )),
            _ => None,
        };
        let _recorder = match &setup {
            Setup::Recorder(r) => Some(history::set_default(r)),
            _ => None,
        };
        let start = Instant::now();
        for i in 0..iters {
            let _ = black_box(f(black_box(i), black_box("my-vm"), black_box(4)));
        }
        start.elapsed()
    };
    if threads == 1 {
        return work(setup.clone());
    }
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let setup = setup.clone();
            std::thread::spawn(move || work(setup))
        })
        .collect();
    handles
        .into_iter()
        .map(|h| h.join().unwrap_or_default())
        .max()
        .unwrap_or_default()
}

fn overhead(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let discard = Recorder::new(Discard).expect("a recorder");
    let sqlite = Recorder::new(
        history_sqlite::SqliteStore::open(dir.path().join("overhead.db")).expect("a store"),
    )
    .expect("a recorder");
    let variants: [(&str, Call, Setup); 5] = [
        ("plain", plain, Setup::Nothing),
        ("tracing_no_subscriber", traced, Setup::Nothing),
        ("tracing_json_sink", traced, Setup::TracingJson),
        (
            "track_history_discard",
            tracked,
            Setup::Recorder(discard.clone()),
        ),
        (
            "track_history_sqlite",
            tracked,
            Setup::Recorder(sqlite.clone()),
        ),
    ];
    for threads in [1usize, 2] {
        let mut group = c.benchmark_group(format!("overhead_{threads}_thread"));
        for (name, f, setup) in &variants {
            group.bench_function(*name, |b| {
                b.iter_custom(|iters| run(threads, iters, *f, setup));
            });
            if let Setup::Recorder(r) = setup {
                // Each variant starts with an empty queue.
                let _ = r.flush();
            }
        }
        group.finish();
    }
    let stats = Arc::new(sqlite.stats());
    eprintln!("sqlite recorder after the run: {stats:?}");
    let _ = discard.shutdown();
    let _ = sqlite.shutdown();
}

criterion_group!(benches, overhead);
criterion_main!(benches);
