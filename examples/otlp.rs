//! The history exported as OpenTelemetry log records: a few tracked calls, an `OtlpExporter`
//! sending them to a local OTLP/HTTP receiver, and what the receiver decoded.
//!
//! `cargo run --example otlp` runs its own receiver on 127.0.0.1 (a stand-in for an
//! OpenTelemetry Collector). With `OTEL_EXPORTER_OTLP_ENDPOINT=http://collector:4318` set, it
//! exports there instead.

use std::time::Duration;

use history::{track_history, EventType, Recorder};
use history_otlp::OtlpExporter;
use history_sqlite::SqliteStore;

#[derive(Debug, thiserror::Error)]
#[error("quota exceeded in {0}")]
struct QuotaExceeded(String);

#[track_history(event_type = EventType::VmCreate, user_id = user_id, vm_id = vm_id)]
fn create_vm(
    user_id: u64,
    vm_id: u64,
    region: &str,
    api_key: &str,
) -> Result<String, QuotaExceeded> {
    let _ = api_key; // redacted in the history and in what is exported
    if region == "mars-1" {
        return Err(QuotaExceeded(region.into()));
    }
    Ok(format!("i-{vm_id}"))
}

#[path = "support/otlp_receiver.rs"]
mod otlp_receiver;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let runtime = tokio::runtime::Runtime::new()?;
    let (local, received) = otlp_receiver::start(&runtime)?;
    let endpoint = std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT").unwrap_or(local);

    let dir = tempfile::tempdir()?;
    let recorder = Recorder::builder()
        .service("vm-api")
        .build(SqliteStore::open(dir.path().join("history.db"))?)?;
    let exporter = OtlpExporter::builder(&endpoint)
        .max_delay(Duration::from_millis(100))
        .start(&recorder)?;
    let _guard = history::set_default(&recorder);

    let _ = create_vm(7, 1, "eu-west-1", "key-123");
    let _ = create_vm(7, 2, "mars-1", "key-123");

    recorder.shutdown()?; // the exporter sends what it holds, then stops
    exporter.shutdown_timeout(Duration::from_secs(5))?;
    let stats = exporter.stats();
    println!(
        "exported to {endpoint}: {} records, {} lost",
        stats.exported,
        stats.lost()
    );
    for line in otlp_receiver::lines(&received) {
        println!("  {line}");
    }
    Ok(())
}
