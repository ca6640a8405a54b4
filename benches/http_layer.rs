//! The cost of `HistoryLayer` per request, beside `tower_http::trace::TraceLayer` and the bare
//! service, in the same run. Each request goes through the layers into an axum router with
//! one route (`GET /vms/{id}`), called in process (no socket: the socket would dwarf what is
//! measured).
//!
//! - `bare`: the router alone.
//! - `trace_layer/no_subscriber`: `TraceLayer::new_for_http()` with no tracing subscriber (its
//!   spans and events are disabled: the cheapest it gets).
//! - `trace_layer/fmt_subscriber`: the same with a `tracing_subscriber::fmt` subscriber at
//!   DEBUG writing to `io::sink` (what a service that reads its traces pays).
//! - `history_layer`: `HistoryLayer` recording to a store that drops what it is given (the
//!   recorder's writer thread runs as in production; the store's I/O is not measured), headers
//!   `user-agent` allowed.
//!
//! Run: `cargo bench --bench http_layer`.
//!
//! Instruction counts (load-independent): `HISTORY_BENCH_COUNT=<service>:<n>` runs `n` requests
//! through one service (`bare`, `trace_layer`, `trace_layer_fmt`, `history_layer`) and no measurement, for
//! `valgrind --tool=callgrind`; the difference between two `n` is the cost of the extra
//! requests.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::Path;
use axum::http::Request;
use axum::routing::get;
use axum::Router;
use criterion::{criterion_group, criterion_main, Criterion};
use history::{Event, EventId, Filter, HistoryStore, Page, Query, Recorder, StoreError};
use history_http::HistoryLayer;
use tower::{Service, ServiceExt};
use tower_http::trace::TraceLayer;

/// A store that keeps nothing.
struct Discard;
impl HistoryStore for Discard {
    fn write_batch(&self, _: &[Event]) -> Result<(), StoreError> {
        Ok(())
    }
    fn get(&self, _: EventId) -> Result<Option<Event>, StoreError> {
        Ok(None)
    }
    fn query(&self, _: &Query) -> Result<Page<Event>, StoreError> {
        Ok(Page {
            items: Vec::new(),
            next_cursor: None,
            total: None,
        })
    }
    fn count(&self, _: &Filter) -> Result<u64, StoreError> {
        Ok(0)
    }
}

fn app() -> Router {
    Router::new().route(
        "/vms/{id}",
        get(|Path(id): Path<u64>| async move { format!("vm {id}") }),
    )
}

fn request() -> Request<Body> {
    Request::get("/vms/42")
        .header("user-agent", "bench/1.0")
        .header("x-request-id", "req-1")
        .body(Body::empty())
        .expect("request")
}

fn bench_one<S>(
    c: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    rt: &tokio::runtime::Runtime,
    svc: S,
) where
    S: Service<Request<Body>> + Clone,
    S::Error: std::fmt::Debug,
{
    c.bench_function(name, |b| {
        b.iter(|| {
            rt.block_on(async {
                let res = svc.clone().oneshot(request()).await.expect("response");
                drop(res);
            })
        })
    });
}

/// `HISTORY_BENCH_COUNT=<service>:<n>`: `n` requests through one service, unmeasured.
fn count_only(rt: &tokio::runtime::Runtime, recorder: &Recorder) -> bool {
    let Ok(spec) = std::env::var("HISTORY_BENCH_COUNT") else {
        return false;
    };
    let (service, n) = spec.split_once(':').expect("<service>:<n>");
    let n: usize = n.parse().expect("a number of requests");
    let app = match service {
        "bare" => app(),
        "trace_layer" => app().layer(TraceLayer::new_for_http()),
        "trace_layer_fmt" => {
            let subscriber = tracing_subscriber::fmt()
                .with_max_level(tracing::Level::DEBUG)
                .with_writer(std::io::sink)
                .finish();
            let app = app().layer(TraceLayer::new_for_http());
            tracing::subscriber::with_default(subscriber, || {
                rt.block_on(async {
                    for _ in 0..n {
                        drop(app.clone().oneshot(request()).await.expect("response"));
                    }
                })
            });
            return true;
        }
        "history_layer" => app().layer(HistoryLayer::new(recorder.clone()).headers(["user-agent"])),
        other => panic!("no service {other}"),
    };
    rt.block_on(async {
        for _ in 0..n {
            drop(app.clone().oneshot(request()).await.expect("response"));
        }
    });
    let _ = recorder.flush();
    true
}

fn layers(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let recorder = Recorder::builder()
        .build_shared(Arc::new(Discard))
        .expect("recorder");
    if count_only(&rt, &recorder) {
        return;
    }
    let mut g = c.benchmark_group("http_layer");
    g.measurement_time(Duration::from_secs(4));

    bench_one(&mut g, "bare", &rt, app());
    bench_one(
        &mut g,
        "trace_layer/no_subscriber",
        &rt,
        app().layer(TraceLayer::new_for_http()),
    );
    bench_one(
        &mut g,
        "history_layer",
        &rt,
        app().layer(HistoryLayer::new(recorder.clone()).headers(["user-agent"])),
    );
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_writer(std::io::sink)
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        bench_one(
            &mut g,
            "trace_layer/fmt_subscriber",
            &rt,
            app().layer(TraceLayer::new_for_http()),
        );
    });
    g.finish();
    let _ = recorder.flush();
}

criterion_group!(benches, layers);
criterion_main!(benches);
