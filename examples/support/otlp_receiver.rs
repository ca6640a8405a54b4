//! A local OTLP/HTTP logs receiver for the examples: decodes each request with the OTLP
//! protobuf definitions and keeps one line per log record.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use axum::Router;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use prost::Message;

/// The lines received so far, one per log record.
pub type Received = Arc<Mutex<Vec<String>>>;

/// Starts the receiver on `runtime` at a free local port; returns its base URL and the lines.
pub fn start(runtime: &tokio::runtime::Runtime) -> std::io::Result<(String, Received)> {
    let received: Received = Arc::default();
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let addr = listener.local_addr()?;
    let app = Router::new()
        .route("/v1/logs", post(logs))
        .with_state(received.clone());
    runtime.spawn(async move { axum::serve(listener, app).await });
    Ok((format!("http://{addr}"), received))
}

/// What the receiver got, one line per record.
pub fn lines(received: &Received) -> Vec<String> {
    received.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

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
