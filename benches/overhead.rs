//! What tracking costs the tracked call (issue 6, item 1).
//!
//! One function with three arguments returning `Result`, in five forms measured in the same
//! run: plain; `#[tracing::instrument(ret, err)]` with no subscriber; the same with
//! `tracing_subscriber::fmt().json()` writing to `io::sink()`; `#[track_history]` into a
//! recorder whose store discards; `#[track_history]` into a `SqliteStore` file. Each on one
//! thread and on two threads at once (the time is per call, as each thread sees it).
//!
//! Also a tracked function taking a small struct argument (`VmSpec`: three fields), the shape
//! whose capture redaction walks field by field.
//!
//! The realistic function (`overhead_realistic_{1,2}_thread`): `(u64, String, VmSpec{4 fields})
//! -> Result<VmInfo{3 fields}, CloudError>` with the user and VM ids taken from the arguments,
//! plain, under `#[tracing::instrument(ret, err)]` with the JSON subscriber, tracked, and
//! tracked with `skip_all, result = skip` (the machinery alone), on one thread and on two.
//!
//! The span bridge (`history`'s feature `tracing-spans`, on in this package): the tracked
//! function with its span and the same function with `no_span`, with no subscriber, with one
//! not interested in INFO spans, and with `fmt` writing to `io::sink()`
//! (`cargo bench --bench overhead -- overhead_span_bridge`).
//!
//! `cargo bench --bench overhead` (add `-- --quick` while developing).
//!
//! `HISTORY_OVERHEAD_PROBE=<calls>[:<function>] cargo bench --bench overhead` makes `<calls>`
//! calls of one function into the discarding recorder and exits, with no timing: run it
//! under `valgrind --tool=callgrind` at two call counts, and the difference of the instruction
//! counts divided by the difference of the calls is the cost of one call. `<function>`:
//! `struct` (the struct-argument function, the default), `realistic`, `realistic_skip_all`,
//! `realistic_plain` (the untracked baseline). The probe also prints the allocations made per
//! call on the calling thread.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, Criterion};

#[path = "overhead/probe.rs"]
mod probe;
#[path = "overhead/realistic.rs"]
mod realistic;

#[global_allocator]
static ALLOCATOR: probe::Counting = probe::Counting;
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

/// [`tracked`] without its `tracing` span (`no_span`): the span bridge off for this function.
#[inline(never)]
#[track_history(event_type = EventType::VmCreate, user_id = user_id, no_span)]
fn tracked_no_span(user_id: u64, name: &str, size: u32) -> Result<u64, QuotaError> {
    body(user_id, name, size)
}

/// A small struct argument.
#[derive(Debug, serde::Serialize)]
struct VmSpec {
    name: String,
    size: u32,
    region: &'static str,
}

#[inline(never)]
fn plain_struct(user_id: u64, spec: &VmSpec) -> Result<u64, QuotaError> {
    body(user_id, &spec.name, spec.size)
}

#[inline(never)]
#[track_history(event_type = EventType::VmCreate, user_id = user_id)]
fn tracked_struct(user_id: u64, spec: &VmSpec) -> Result<u64, QuotaError> {
    body(user_id, &spec.name, spec.size)
}

/// A failing call whose error keeps a backtrace, resolved into text on the caller's thread:
/// what recording one cost when the caller did it all.
#[inline(never)]
fn failing_resolved_here(user_id: u64) -> Result<u64, String> {
    let text = std::backtrace::Backtrace::force_capture().to_string();
    black_box(text);
    Err(format!("quota exceeded for {user_id}"))
}

/// The same with the frames captured and never resolved: the floor for any capture.
#[inline(never)]
fn failing_frames_only(user_id: u64) -> Result<u64, String> {
    let frames = std::backtrace::Backtrace::force_capture();
    black_box(&frames);
    Err(format!("quota exceeded for {user_id}"))
}

#[inline(never)]
#[track_history(event_type = EventType::VmCreate, user_id = user_id, backtrace)]
fn tracked_failing(user_id: u64) -> Result<u64, String> {
    Err(format!("quota exceeded for {user_id}"))
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

/// Runs `iters` calls of `call` (given the call's index) on each of `threads` threads at
/// once; the time per call is the longest thread's time divided by `iters`.
fn run<F>(threads: usize, iters: u64, call: F, setup: &Setup) -> Duration
where
    F: Fn(u64) + Copy + Send + 'static,
{
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
            call(black_box(i));
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

/// The small function's calls, as [`run`] takes them.
fn small(f: Call) -> impl Fn(u64) + Copy + Send + 'static {
    move |i| {
        let _ = black_box(f(i, black_box("my-vm"), black_box(4)));
    }
}

/// Runs every variant on one thread and on two, in groups `{name}_1_thread` and
/// `{name}_2_thread`; each recorder's queue is emptied between variants.
fn run_groups<F>(c: &mut Criterion, name: &str, variants: &[(&str, F, Setup)])
where
    F: Fn(u64) + Copy + Send + 'static,
{
    for threads in [1usize, 2] {
        let mut group = c.benchmark_group(format!("{name}_{threads}_thread"));
        for (variant, f, setup) in variants {
            group.bench_function(*variant, |b| {
                b.iter_custom(|iters| run(threads, iters, *f, setup));
            });
            if let Setup::Recorder(r) = setup {
                // Each variant starts with an empty queue.
                let _ = r.flush();
            }
        }
        group.finish();
    }
}

fn overhead(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let discard = Recorder::new(Discard).expect("a recorder");
    let sqlite = Recorder::new(
        history_sqlite::SqliteStore::open(dir.path().join("overhead.db")).expect("a store"),
    )
    .expect("a recorder");
    let variants = [
        ("plain", small(plain), Setup::Nothing),
        ("tracing_no_subscriber", small(traced), Setup::Nothing),
        ("tracing_json_sink", small(traced), Setup::TracingJson),
        (
            "track_history_discard",
            small(tracked),
            Setup::Recorder(discard.clone()),
        ),
        (
            "track_history_sqlite",
            small(tracked),
            Setup::Recorder(sqlite.clone()),
        ),
    ];
    run_groups(c, "overhead", &variants);
    let stats = Arc::new(sqlite.stats());
    eprintln!("sqlite recorder after the run: {stats:?}");
    let _ = discard.shutdown();
    let _ = sqlite.shutdown();
}

/// The realistic function plain, under `tracing` with the JSON subscriber, tracked and
/// tracked with `skip_all, result = skip`, into a discarding recorder; one thread and two.
fn realistic_function(c: &mut Criterion) {
    let discard = Recorder::new(Discard).expect("a recorder");
    let variants = [
        ("plain", realistic::calls(realistic::plain), Setup::Nothing),
        (
            "tracing_json_sink",
            realistic::calls(realistic::traced),
            Setup::TracingJson,
        ),
        (
            "track_history_discard",
            realistic::calls(realistic::tracked),
            Setup::Recorder(discard.clone()),
        ),
        (
            "track_history_skip_all",
            realistic::calls(realistic::tracked_skip_all),
            Setup::Recorder(discard.clone()),
        ),
    ];
    run_groups(c, "overhead_realistic", &variants);
    let _ = discard.shutdown();
}

/// The struct-argument function, plain and tracked into a discarding recorder, one thread.
fn struct_argument(c: &mut Criterion) {
    let discard = Recorder::new(Discard).expect("a recorder");
    let spec = VmSpec {
        name: "my-vm".into(),
        size: 4,
        region: "eu-west-1",
    };
    let mut group = c.benchmark_group("overhead_struct_argument");
    group.bench_function("plain", |b| {
        b.iter(|| black_box(plain_struct(black_box(7), black_box(&spec))))
    });
    let _guard = history::set_default(&discard);
    group.bench_function("track_history_discard", |b| {
        b.iter(|| black_box(tracked_struct(black_box(7), black_box(&spec))))
    });
    group.finish();
    let _ = discard.flush();
}

/// `HISTORY_OVERHEAD_PROBE=<calls>[:<function>]`: that many calls of one function into a
/// discarding recorder, no timing; prints the allocations per call on the calling thread.
fn probe(calls: u64, function: &str) -> Result<(), String> {
    let discard = Recorder::new(Discard).map_err(|e| e.to_string())?;
    let spec = VmSpec {
        name: "my-vm".into(),
        size: 4,
        region: "eu-west-1",
    };
    let one: Box<dyn Fn(u64)> = match function {
        "struct" => Box::new(|i| {
            let _ = black_box(tracked_struct(black_box(i), black_box(&spec)));
        }),
        "realistic" => Box::new(realistic::calls(realistic::tracked)),
        "realistic_skip_all" => Box::new(realistic::calls(realistic::tracked_skip_all)),
        "realistic_plain" => Box::new(realistic::calls(realistic::plain)),
        other => return Err(format!("no probe function `{other}`")),
    };
    let allocations = history::with_default(&discard, || {
        // The first calls warm the per-thread caches; counted from the second.
        one(0);
        let before = probe::allocations();
        for i in 0..calls {
            one(i);
        }
        probe::allocations() - before
    });
    eprintln!(
        "{function}: {calls} calls, {:.2} allocations per call on the calling thread",
        allocations as f64 / calls.max(1) as f64
    );
    discard.shutdown().map_err(|e| e.to_string())
}

type Failing = fn(u64) -> Result<u64, String>;

/// A failing call with a backtrace: resolved on the caller's thread (baseline), frames only
/// (the floor), and tracked (frames on the caller's thread, text on the writer's). Timed in
/// chunks with the writer caught up between them, so the time is the caller's alone.
fn failing_with_backtrace(c: &mut Criterion) {
    let discard = Recorder::new(Discard).expect("a recorder");
    let _guard = history::set_default(&discard);
    let mut group = c.benchmark_group("overhead_failing_with_backtrace");
    group.sample_size(20);
    let variants: [(&str, Failing); 3] = [
        ("resolved_on_caller", failing_resolved_here),
        ("frames_only", failing_frames_only),
        ("track_history_discard", tracked_failing),
    ];
    for (name, f) in variants {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut timed = Duration::ZERO;
                let mut done = 0;
                while done < iters {
                    let chunk = (iters - done).min(256);
                    let start = Instant::now();
                    for i in 0..chunk {
                        let _ = black_box(f(black_box(i)));
                    }
                    timed += start.elapsed();
                    done += chunk;
                    let _ = discard.flush();
                }
                timed
            });
        });
    }
    group.finish();
}

/// The subscriber a span-bridge variant runs under.
#[derive(Clone, Copy)]
enum Listening {
    /// No subscriber at all.
    Nobody,
    /// A subscriber that wants nothing below WARN: the call's INFO span is not made.
    NotInterested,
    /// A subscriber that wants the span: `fmt` writing to `io::sink()`.
    Interested,
}

/// The span bridge: a tracked call with its span (`tracked`) and without (`no_span`), into a
/// discarding recorder, with no subscriber, a subscriber not interested in the span, and one
/// that is. One thread.
fn span_bridge(c: &mut Criterion) {
    let discard = Recorder::new(Discard).expect("a recorder");
    let _guard = history::set_default(&discard);
    let mut group = c.benchmark_group("overhead_span_bridge");
    let variants: [(&str, Call, Listening); 6] = [
        ("off_no_subscriber", tracked_no_span, Listening::Nobody),
        ("on_no_subscriber", tracked, Listening::Nobody),
        (
            "off_subscriber_not_interested",
            tracked_no_span,
            Listening::NotInterested,
        ),
        (
            "on_subscriber_not_interested",
            tracked,
            Listening::NotInterested,
        ),
        (
            "off_subscriber_fmt_sink",
            tracked_no_span,
            Listening::Interested,
        ),
        ("on_subscriber_fmt_sink", tracked, Listening::Interested),
    ];
    for (name, f, listening) in variants {
        let _tracing = match listening {
            Listening::Nobody => None,
            Listening::NotInterested => Some(tracing::subscriber::set_default(
                tracing_subscriber::fmt()
                    .with_max_level(tracing::Level::WARN)
                    .with_writer(std::io::sink)
                    .finish(),
            )),
            Listening::Interested => Some(tracing::subscriber::set_default(
                tracing_subscriber::fmt()
                    .with_max_level(tracing::Level::INFO)
                    .with_writer(std::io::sink)
                    .finish(),
            )),
        };
        group.bench_function(name, |b| {
            b.iter(|| black_box(f(black_box(7), black_box("my-vm"), black_box(4))))
        });
        let _ = discard.flush();
    }
    group.finish();
}

criterion_group!(
    benches,
    overhead,
    realistic_function,
    struct_argument,
    failing_with_backtrace,
    span_bridge
);

fn main() {
    if let Ok(probe_spec) = std::env::var("HISTORY_OVERHEAD_PROBE") {
        let (calls, function) = probe_spec
            .split_once(':')
            .unwrap_or((probe_spec.as_str(), "struct"));
        let outcome = calls
            .parse()
            .map_err(|e| format!("HISTORY_OVERHEAD_PROBE=<calls>[:<function>]: {e}"))
            .and_then(|calls| probe(calls, function));
        if let Err(e) = outcome {
            eprintln!("{e}");
            std::process::exit(2);
        }
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
