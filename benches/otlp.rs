//! OTLP export beside ingest: N tracked calls into a SQLite file, with
//! - `ingest`: nothing exported (the baseline): the time from the first call to durable;
//! - `ingest_with_export`: an `OtlpExporter` sending every final record to a local OTLP/HTTP
//!   receiver, the time from the first call to durable (what export costs the recording side);
//! - `ingest_then_exported`: the same run, timed until the receiver has every record: the
//!   export's throughput, end to end.
//!
//! The receiver is an axum server on 127.0.0.1 (one tokio worker) that decodes each request
//! with opentelemetry-proto's types and counts the records, as a collector would decode them;
//! it shares the machine's cores with the recorder and the exporter. The exporter runs with
//! its default batch (512 records) and a buffer of N records, so nothing lags and every
//! record is delivered; each run asserts it. Records lost with the default buffer (16,384)
//! are printed after the run.
//!
//! `cargo bench --bench otlp`; `HISTORY_BENCH_EVENTS` sets N (default 200,000).

use std::hint::black_box;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use criterion::{Criterion, Throughput};
use history::{track_history, EventId, EventType, Recorder};
use history_otlp::OtlpExporter;
use history_sqlite::SqliteStore;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use prost::Message;

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

/// A local OTLP/HTTP logs receiver counting the records it decodes.
struct Receiver {
    endpoint: String,
    records: Arc<AtomicU64>,
    _runtime: tokio::runtime::Runtime,
}

async fn logs(State(records): State<Arc<AtomicU64>>, body: Bytes) -> StatusCode {
    match ExportLogsServiceRequest::decode(body.as_ref()) {
        Ok(request) => {
            let n: usize = request
                .resource_logs
                .iter()
                .flat_map(|r| &r.scope_logs)
                .map(|s| s.log_records.len())
                .sum();
            records.fetch_add(n as u64, Ordering::Relaxed);
            StatusCode::OK
        }
        Err(_) => StatusCode::BAD_REQUEST,
    }
}

impl Receiver {
    fn start() -> Receiver {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a runtime");
        let records = Arc::new(AtomicU64::new(0));
        let app = Router::new()
            .route("/v1/logs", post(logs))
            .with_state(records.clone());
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind");
        let addr = listener.local_addr().expect("an address");
        runtime.spawn(async move { axum::serve(listener, app).await });
        Receiver {
            endpoint: format!("http://{addr}"),
            records,
            _runtime: runtime,
        }
    }
}

/// What one run measured.
struct Run {
    /// First call to durable.
    durable: Duration,
    /// First call to every record at the receiver (with export).
    delivered: Option<Duration>,
    /// Records the exporter lost.
    lost: u64,
}

/// N tracked calls into a fresh file, flushed; with `export`, exported with a buffer of
/// `buffer` records and waited for until delivered (or until it is clear some were lost).
fn run(dir: &Path, n: u64, export: Option<(&Receiver, usize)>) -> Run {
    let path = dir.join(format!("otlp-{}.db", EventId::new()));
    let recorder = Recorder::new(SqliteStore::open(&path).expect("a store")).expect("a recorder");
    let exporter = export.map(|(receiver, buffer)| {
        receiver.records.store(0, Ordering::SeqCst);
        let exporter = OtlpExporter::builder(&receiver.endpoint)
            .buffer(buffer)
            .start(&recorder)
            .expect("an exporter");
        (receiver, exporter)
    });
    let guard = history::set_default(&recorder);
    let start = Instant::now();
    for i in 0..n {
        let _ = black_box(create_vm(i % 1_000, i, "my-vm"));
    }
    recorder.flush().expect("flushed");
    let durable = start.elapsed();
    drop(guard);
    let mut delivered = None;
    let mut lost = 0;
    if let Some((receiver, exporter)) = &exporter {
        loop {
            let s = exporter.stats();
            if s.exported + s.lost() >= n {
                lost = s.lost();
                if lost == 0 {
                    // The exporter counts a record once the receiver has answered for it.
                    assert_eq!(receiver.records.load(Ordering::SeqCst), n);
                    delivered = Some(start.elapsed());
                }
                break;
            }
            std::thread::sleep(Duration::from_micros(200));
        }
    }
    let stats = recorder.stats();
    assert!(stats.lost == 0 && stats.written >= n, "{stats:?}");
    recorder.shutdown().expect("shut down");
    drop(exporter);
    drop(recorder);
    for suffix in ["", "-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(p);
    }
    Run {
        durable,
        delivered,
        lost,
    }
}

fn bench(c: &mut Criterion) {
    let n = events();
    let dir = tempfile::tempdir().expect("temp dir");
    let receiver = Receiver::start();
    let all = usize::try_from(n).unwrap_or(usize::MAX);
    let mut group = c.benchmark_group("otlp_export");
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(15));
    group.throughput(Throughput::Elements(n));
    group.bench_function("ingest", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| run(dir.path(), n, None).durable).sum())
    });
    group.bench_function("ingest_with_export", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| run(dir.path(), n, Some((&receiver, all))).durable)
                .sum()
        })
    });
    group.bench_function("ingest_then_exported", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| {
                    let r = run(dir.path(), n, Some((&receiver, all)));
                    assert_eq!(r.lost, 0, "a buffer of N loses nothing");
                    r.delivered.expect("delivered")
                })
                .sum()
        })
    });
    group.finish();
    // With the default buffer, how much a burst of N loses while export catches up.
    let r = run(
        dir.path(),
        n,
        Some((&receiver, history_otlp::DEFAULT_BUFFER)),
    );
    println!(
        "otlp_export/default_buffer: {n} calls durable in {:?}; exporter lost {} of them ({:.1} %)",
        r.durable,
        r.lost,
        r.lost as f64 * 100.0 / n as f64
    );
}

criterion::criterion_group!(benches, bench);
criterion::criterion_main!(benches);
