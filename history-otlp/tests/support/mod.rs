//! A real OTLP/HTTP logs receiver on 127.0.0.1 for the tests: an axum server that decodes
//! every request body with the official OTLP protobuf definitions (opentelemetry-proto's
//! generated types) and keeps the records and the raw bytes it was sent.

#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use prost::Message;

/// How the receiver answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Mode {
    /// 200 with an empty response.
    Accept = 0,
    /// 503 (worth retrying).
    Unavailable = 1,
    /// 400 (refused for good).
    BadRequest = 2,
    /// 200 with a partial success rejecting one record per request.
    RejectOne = 3,
}

/// One log record as received, with the resource it came under.
#[derive(Clone, Debug)]
pub struct Received {
    pub resource: Vec<KeyValue>,
    pub scope_name: String,
    pub record: LogRecord,
}

impl Received {
    pub fn attr(&self, key: &str) -> Option<&Value> {
        find(&self.record.attributes, key)
    }

    pub fn attr_str(&self, key: &str) -> Option<&str> {
        match self.attr(key) {
            Some(Value::StringValue(s)) => Some(s),
            _ => None,
        }
    }

    pub fn resource_str(&self, key: &str) -> Option<&str> {
        match find(&self.resource, key) {
            Some(Value::StringValue(s)) => Some(s),
            _ => None,
        }
    }
}

fn find<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a Value> {
    attrs
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v: &AnyValue| v.value.as_ref())
}

#[derive(Default)]
struct Inner {
    records: Vec<Received>,
    raw: Vec<u8>,
    requests: usize,
    content_types: Vec<String>,
}

/// A running receiver.
pub struct Receiver {
    pub addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
    mode: Arc<AtomicU8>,
    runtime: tokio::runtime::Runtime,
}

type Shared = (Arc<Mutex<Inner>>, Arc<AtomicU8>);

async fn logs(
    State((inner, mode)): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, Vec<u8>) {
    let mode = mode.load(Ordering::SeqCst);
    if mode == Mode::Unavailable as u8 {
        return (StatusCode::SERVICE_UNAVAILABLE, Vec::new());
    }
    if mode == Mode::BadRequest as u8 {
        return (StatusCode::BAD_REQUEST, Vec::new());
    }
    let request = match ExportLogsServiceRequest::decode(body.as_ref()) {
        Ok(r) => r,
        Err(_) => return (StatusCode::BAD_REQUEST, Vec::new()),
    };
    let mut st = inner.lock().unwrap();
    st.requests += 1;
    st.raw.extend_from_slice(&body);
    st.content_types.push(
        headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned(),
    );
    for rl in request.resource_logs {
        let resource = rl.resource.map(|r| r.attributes).unwrap_or_default();
        for sl in rl.scope_logs {
            let scope_name = sl.scope.map(|s| s.name).unwrap_or_default();
            for record in sl.log_records {
                st.records.push(Received {
                    resource: resource.clone(),
                    scope_name: scope_name.clone(),
                    record,
                });
            }
        }
    }
    let response = if mode == Mode::RejectOne as u8 {
        ExportLogsServiceResponse {
            partial_success: Some(ExportLogsPartialSuccess {
                rejected_log_records: 1,
                error_message: "one record rejected".into(),
            }),
        }
    } else {
        ExportLogsServiceResponse::default()
    };
    (StatusCode::OK, response.encode_to_vec())
}

/// A free port on 127.0.0.1, nothing listening on it (for a receiver that starts later).
pub fn free_port() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr")
}

impl Receiver {
    /// A receiver on a new port.
    pub fn start() -> Receiver {
        Receiver::start_on("127.0.0.1:0".parse().unwrap())
    }

    /// A receiver on `addr`.
    pub fn start_on(addr: SocketAddr) -> Receiver {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let inner = Arc::new(Mutex::new(Inner::default()));
        let mode = Arc::new(AtomicU8::new(Mode::Accept as u8));
        let app = Router::new()
            .route("/v1/logs", post(logs))
            .with_state((inner.clone(), mode.clone()));
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind(addr))
            .expect("bind the receiver");
        let addr = listener.local_addr().expect("addr");
        runtime.spawn(async move { axum::serve(listener, app).await });
        Receiver {
            addr,
            inner,
            mode,
            runtime,
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn set_mode(&self, mode: Mode) {
        self.mode.store(mode as u8, Ordering::SeqCst);
    }

    pub fn records(&self) -> Vec<Received> {
        self.inner.lock().unwrap().records.clone()
    }

    pub fn raw(&self) -> Vec<u8> {
        self.inner.lock().unwrap().raw.clone()
    }

    pub fn requests(&self) -> usize {
        self.inner.lock().unwrap().requests
    }

    pub fn content_types(&self) -> Vec<String> {
        self.inner.lock().unwrap().content_types.clone()
    }

    /// Waits (at most 30 s) until at least `n` records have arrived; returns them.
    pub fn wait_for(&self, n: usize) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let records = self.records();
            if records.len() >= n || Instant::now() > deadline {
                return records;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Stops listening (the port is free again).
    pub fn stop(self) {
        self.runtime.shutdown_timeout(Duration::from_secs(1));
    }
}

/// Waits (at most 30 s) until `done` holds.
pub fn wait_until(mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    done()
}
