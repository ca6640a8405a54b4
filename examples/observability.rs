//! A small service that logs with `tracing` and keeps its audit trail with `#[track_history]`,
//! joined both ways:
//!
//! - the span bridge (`history`'s `tracing-spans` feature) runs each tracked call inside a
//!   span carrying its event id, so every log line inside the call names its event;
//! - `HistoryLayer` (`history-tracing`) records a span marked `history.event_type` — here a
//!   `#[tracing::instrument]` function — as an event, without a second attribute;
//! - with `history-tracing`'s `opentelemetry` feature and a `tracing-opentelemetry` layer,
//!   every event stores the W3C trace id and span id of the request it ran in;
//! - an `OtlpExporter` (`history-otlp`) sends the final records as OTLP log records to
//!   `$OTEL_EXPORTER_OTLP_ENDPOINT`, else to a local receiver that prints what it decodes.
//!
//! The history goes to `./observability.db` (SQLite; pass another path as the first
//! argument). Afterwards the events of this run are printed: their ids match the log lines,
//! and their external trace ids match the trace the logs were written in.
//!
//! Run with `cargo run --example observability`.

use std::io::IsTerminal;
use std::time::Duration;

use history::{track_history, EventType, Query, Recorder};
use history_otlp::OtlpExporter;
use history_sqlite::SqliteStore;
use history_tracing::HistoryLayer;
use opentelemetry::trace::{TraceContextExt as _, TracerProvider as _};
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::{info, info_span, instrument, warn};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer as _;

/// What can go wrong in the pretend cloud.
#[derive(Debug, thiserror::Error)]
enum CloudError {
    #[error("quota exceeded: {used} of {limit} VMs in {region}")]
    Quota {
        used: u32,
        limit: u32,
        region: String,
    },
}

/// The service: creates VMs against a quota, records each call in the history.
struct VmService {
    used: std::sync::atomic::AtomicU32,
    limit: u32,
}

impl VmService {
    #[track_history(event_type = EventType::VmCreate, user_id = user_id, redact(api_key))]
    fn create_vm(&self, user_id: u64, name: &str, api_key: &str) -> Result<String, CloudError> {
        // The line carries the call's span: `create_vm{history.event_id=… user_id=…}`.
        info!(name, "creating VM");
        let used = self.used.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        if used > self.limit {
            warn!(used, "over quota");
            return Err(CloudError::Quota {
                used,
                limit: self.limit,
                region: "eu-west-1".into(),
            });
        }
        std::thread::sleep(Duration::from_millis(3));
        Ok(format!("i-{used:04}"))
    }
}

/// Code instrumented for `tracing` only: the marker field makes it an event too.
#[instrument(fields(history.event_type = "vm_start"))]
fn start_vm(vm_id: &str) {
    info!("starting");
}

#[path = "support/otlp_receiver.rs"]
mod otlp_receiver;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "observability.db".into());
    let recorder = Recorder::builder()
        .service("vm-api")
        .build(SqliteStore::open(&path)?)?;
    let _default = history::init(recorder.clone())?;

    // The audit trail also leaves as OTLP log records: to $OTEL_EXPORTER_OTLP_ENDPOINT, else to
    // a local receiver that prints what it decodes.
    let runtime = tokio::runtime::Runtime::new()?;
    let (local, received) = otlp_receiver::start(&runtime)?;
    let endpoint = std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT").unwrap_or(local);
    let exporter = OtlpExporter::builder(&endpoint)
        .max_delay(Duration::from_millis(100))
        .start(&recorder)?;

    // OpenTelemetry tracing with no exporter: enough to give every request a trace id. A
    // service would add its exporter here.
    let provider = SdkTracerProvider::builder().build();
    let tracer = provider.tracer("vm-api");
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_target(false)
                .with_ansi(std::io::stdout().is_terminal())
                // The service's own log lines; not the HTTP client's wire traces.
                .with_filter(LevelFilter::INFO),
        )
        .with(tracing_opentelemetry::layer().with_tracer(tracer))
        .with(HistoryLayer::new(recorder.clone()))
        .init();
    history_tracing::install_opentelemetry()?;

    let service = VmService {
        used: Default::default(),
        limit: 2,
    };
    let since = history::now();
    for (request, name) in ["web", "db", "cache"].into_iter().enumerate() {
        // One request: a span that OpenTelemetry turns into a trace.
        let span = info_span!("request", request);
        let _entered = span.enter();
        let trace = span.context().span().span_context().trace_id();
        info!(%trace, "request received");
        match service.create_vm(7, name, "sk-live-123") {
            Ok(id) => start_vm(&id),
            Err(e) => tracing::error!(error = %e, "request failed"),
        }
    }

    recorder.flush()?;
    println!("\nThe history of this run:");
    let events = recorder
        .store()
        .query(&Query::new().since(since).oldest_first())?
        .items;
    for e in &events {
        println!(
            "{}  {:<10} {:<8} trace {}  span {}",
            e.id,
            e.event_type.as_str(),
            e.status.as_str(),
            e.external_trace_id
                .map_or_else(|| "-".into(), |t| t.to_string()),
            e.external_span_id
                .map_or_else(|| "-".into(), |s| s.to_string()),
        );
    }
    recorder.shutdown()?; // the exporter sends what it holds, then stops
    exporter.shutdown_timeout(Duration::from_secs(5))?;
    println!("\nExported to {endpoint} as OTLP log records:");
    for line in otlp_receiver::lines(&received) {
        println!("  {line}");
    }
    let _ = provider.shutdown();
    Ok(())
}
