//! The history exported as OpenTelemetry log records: a few tracked calls, an `OtlpExporter`
//! sending them to a local OTLP/HTTP receiver, and what the receiver decoded.
//!
//! `cargo run --example otlp` runs its own receiver on 127.0.0.1 (a stand-in for an
//! OpenTelemetry Collector). With `OTEL_EXPORTER_OTLP_ENDPOINT=http://collector:4318` set, it
//! exports there instead.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use axum::Router;
use history::{track_history, EventType, Recorder};
use history_otlp::OtlpExporter;
use history_sqlite::SqliteStore;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use prost::Message;

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

type Received = Arc<Mutex<Vec<String>>>;

/// The receiver: decodes each request with the OTLP protobuf definitions and keeps one line
/// per log record.
async fn logs(State(lines): State<Received>, body: Bytes) -> axum::http::StatusCode {
    let Ok(request) = ExportLogsServiceRequest::decode(body.as_ref()) else {
        return axum::http::StatusCode::BAD_REQUEST;
    };
    let mut lines = lines.lock().unwrap_or_else(|e| e.into_inner());
    for resource in &request.resource_logs {
        let attrs = resource.resource.as_ref().map(|r| r.attributes.as_slice());
        let service = attr(attrs.unwrap_or_default(), "service.name");
        for scope in &resource.scope_logs {
            for r in &scope.log_records {
                lines.push(format!(
                    "{service} {} {} {} params={}",
                    r.severity_text,
                    r.event_name,
                    attr(&r.attributes, "history.operation"),
                    attr(&r.attributes, "history.parameters"),
                ));
            }
        }
    }
    axum::http::StatusCode::OK
}

fn attr(attrs: &[KeyValue], key: &str) -> String {
    match attrs
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| v.value.as_ref())
    {
        Some(Value::StringValue(s)) => s.clone(),
        Some(Value::IntValue(n)) => n.to_string(),
        Some(other) => format!("{other:?}"),
        None => "-".into(),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let received: Received = Arc::default();
    let runtime = tokio::runtime::Runtime::new()?;
    let endpoint = match std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT") {
        Ok(endpoint) => endpoint,
        Err(_) => {
            let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
            let addr = listener.local_addr()?;
            let app = Router::new()
                .route("/v1/logs", post(logs))
                .with_state(received.clone());
            runtime.spawn(async move { axum::serve(listener, app).await });
            format!("http://{addr}")
        }
    };

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
    for line in received.lock().unwrap_or_else(|e| e.into_inner()).iter() {
        println!("  {line}");
    }
    Ok(())
}
