//! What in-process subscribers and metrics cost ingest: N tracked calls into a SQLite file,
//! flushed (durable at the end), with
//! - `baseline`: nobody subscribing, no metrics recorder installed;
//! - `1_subscriber`: one subscription of everything, read by its own thread;
//! - `1_subscriber_never_reads`: one subscription nobody reads (its buffer stays full; the
//!   writer drops its oldest records and counts them);
//! - `8_subscribers`: eight subscriptions, each read by its own thread;
//! - `metrics`: a Prometheus exporter installed the way an application installs it
//!   (`metrics-exporter-prometheus` serving `/metrics` on a local port, which also runs the
//!   exporter's periodic upkeep that drains histogram samples), nobody subscribing;
//! - `metrics_1_subscriber`: both.
//!
//! All in one run, in that order (a metrics recorder, once installed, stays for the process);
//! `/metrics` is scraped at the end. The benches are built with the `metrics` feature on (the
//! workspace's tests and benches enable it), so `baseline` includes the feature's cost with no
//! recorder installed: a few no-op handle calls per commit.
//!
//! `cargo bench --bench feed`; `HISTORY_BENCH_EVENTS` sets N (default 200,000).
//!
//! `HISTORY_FEED_PROBE=<case>` (one of the case names above) runs that case once with N
//! events and exits, with no timing: run it under
//! `valgrind --tool=callgrind --separate-threads=yes` at two values of N, and the difference of
//! the writer thread's instruction counts divided by the difference of N is what the writer
//! spends per event.

use std::hint::black_box;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use history::{track_history, EventId, EventType, Filter, Recorder};
use history_sqlite::SqliteStore;

#[inline(never)]
#[track_history(event_type = EventType::VmCreate, user_id = user_id, vm_id = vm_id)]
fn create_vm(user_id: u64, vm_id: u64, name: &str) -> Result<u64, std::io::Error> {
    Ok(black_box(vm_id ^ user_id ^ name.len() as u64))
}

fn events() -> u64 {
    std::env::var("HISTORY_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000)
}

/// How the subscribers of one run behave.
#[derive(Clone, Copy)]
enum Subscribers {
    None,
    Reading(usize),
    NeverReading,
}

/// N tracked calls into a fresh file with `subs`, flushed; the time from the first call to
/// durable (every subscriber has been handed every record by then).
fn run(dir: &Path, n: u64, subs: Subscribers) -> Duration {
    let path = dir.join(format!("feed-{}.db", EventId::new()));
    let recorder = Recorder::new(SqliteStore::open(&path).expect("a store")).expect("a recorder");
    let mut readers = Vec::new();
    let mut stuck = None;
    match subs {
        Subscribers::None => {}
        Subscribers::Reading(k) => {
            for _ in 0..k {
                let subscription = recorder.subscribe(Filter::new());
                readers.push(std::thread::spawn(move || subscription.count()));
            }
        }
        Subscribers::NeverReading => stuck = Some(recorder.subscribe(Filter::new())),
    }
    let guard = history::set_default(&recorder);
    let start = Instant::now();
    for i in 0..n {
        let _ = black_box(create_vm(i % 1_000, i, "my-vm"));
    }
    recorder.flush().expect("flushed");
    let elapsed = start.elapsed();
    drop(guard);
    let stats = recorder.stats();
    assert!(stats.lost == 0 && stats.written >= n, "{stats:?}");
    recorder.shutdown().expect("shut down");
    for r in readers {
        let received = r.join().expect("a reader");
        black_box(received);
    }
    if let Some(s) = stuck {
        assert!(s.lagged() > 0, "a subscriber that never reads lags");
    }
    drop(recorder);
    for suffix in ["", "-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(p);
    }
    elapsed
}

/// A Prometheus exporter serving `/metrics` on a free local port, installed as the global
/// metrics recorder, as an application does (the exporter's thread also runs its upkeep).
fn install_exporter() -> SocketAddr {
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    metrics_exporter_prometheus::PrometheusBuilder::new()
        .with_http_listener(addr)
        .install()
        .expect("install the Prometheus exporter");
    addr
}

/// One scrape of the exporter's endpoint.
fn scrape(addr: SocketAddr) -> String {
    let url = format!("http://{addr}/metrics");
    for _ in 0..100 {
        if let Ok(mut response) = ureq::get(&url).call() {
            return response.body_mut().read_to_string().expect("a body");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{url} did not answer");
}

/// The case names, in the order they run.
const CASES: [(&str, Subscribers); 6] = [
    ("baseline", Subscribers::None),
    ("1_subscriber", Subscribers::Reading(1)),
    ("1_subscriber_never_reads", Subscribers::NeverReading),
    ("8_subscribers", Subscribers::Reading(8)),
    ("metrics", Subscribers::None),
    ("metrics_1_subscriber", Subscribers::Reading(1)),
];

fn bench(c: &mut Criterion) {
    let n = events();
    let dir = tempfile::tempdir().expect("temp dir");
    let mut group = c.benchmark_group("feed_ingest");
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(10));
    group.throughput(Throughput::Elements(n));
    let mut exporter = None;
    for (name, subs) in CASES {
        if name.starts_with("metrics") && exporter.is_none() {
            // From here on, metrics go to a real Prometheus exporter.
            exporter = Some(install_exporter());
        }
        group.bench_function(name, |b| {
            b.iter_custom(|iters| (0..iters).map(|_| run(dir.path(), n, subs)).sum())
        });
    }
    group.finish();
    if let Some(addr) = exporter {
        assert!(scrape(addr).contains("history_events_total"));
    }
}

/// `HISTORY_FEED_PROBE=<case>`: that case once, no timing.
fn probe(case: &str) {
    let Some(&(name, subs)) = CASES.iter().find(|(name, _)| *name == case) else {
        panic!("HISTORY_FEED_PROBE: no case {case:?}");
    };
    let exporter = name.starts_with("metrics").then(install_exporter);
    let dir = tempfile::tempdir().expect("temp dir");
    black_box(run(dir.path(), events(), subs));
    if let Some(addr) = exporter {
        assert!(scrape(addr).contains("history_events_total"));
    }
}

criterion::criterion_group!(benches, bench);

fn main() {
    if let Ok(case) = std::env::var("HISTORY_FEED_PROBE") {
        probe(&case);
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
