//! A real webhook receiver for the tests: axum on 127.0.0.1, on its own tokio runtime. It
//! checks signatures, de-duplicates by idempotency key, can refuse the next N attempts, and
//! can go down and come back on the same port.

#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use history_notify::sign::{verify, IDEMPOTENCY_HEADER, SIGNATURE_HEADER};

/// What the receiver has seen.
#[derive(Debug, Default)]
pub struct Seen {
    /// Every request that reached the handler.
    pub attempts: u64,
    /// Requests answered 503 on purpose.
    pub refused: u64,
    /// Requests whose key was already accepted (answered 200, not acted on again).
    pub duplicates: u64,
    /// Requests with a missing or wrong signature (answered 401).
    pub bad_signatures: u64,
    /// Accepted bodies by idempotency key: each key once.
    pub accepted: BTreeMap<String, serde_json::Value>,
    /// Keys of every attempt, in order.
    pub attempt_keys: Vec<String>,
    /// Refuse this many more attempts.
    pub refuse_next: u64,
}

#[derive(Clone)]
struct App {
    seen: Arc<Mutex<Seen>>,
    secret: Arc<Vec<u8>>,
}

async fn receive(State(app): State<App>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let mut seen = app.seen.lock().unwrap();
    seen.attempts += 1;
    let key = headers
        .get(IDEMPOTENCY_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    seen.attempt_keys.push(key.clone());
    if seen.refuse_next > 0 {
        seen.refuse_next -= 1;
        seen.refused += 1;
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    let signed = headers
        .get(SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|sig| verify(&app.secret, &body, sig));
    if !signed || key.is_empty() {
        seen.bad_signatures += 1;
        return StatusCode::UNAUTHORIZED;
    }
    if seen.accepted.contains_key(&key) {
        seen.duplicates += 1;
        return StatusCode::OK;
    }
    let json = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
    seen.accepted.insert(key, json);
    StatusCode::OK
}

/// A webhook receiver on a real port.
pub struct Receiver {
    pub seen: Arc<Mutex<Seen>>,
    secret: Arc<Vec<u8>>,
    addr: SocketAddr,
    rt: tokio::runtime::Runtime,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
}

impl Receiver {
    pub fn start(secret: &str) -> Receiver {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let mut r = Receiver {
            seen: Arc::default(),
            secret: Arc::new(secret.as_bytes().to_vec()),
            addr: "127.0.0.1:0".parse().unwrap(),
            rt,
            stop: None,
            server: None,
        };
        r.up();
        r
    }

    pub fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    /// Serves (again) on the same address.
    pub fn up(&mut self) {
        let app = Router::new().route("/hook", post(receive)).with_state(App {
            seen: self.seen.clone(),
            secret: self.secret.clone(),
        });
        let deadline = Instant::now() + Duration::from_secs(10);
        let listener = loop {
            match self.rt.block_on(tokio::net::TcpListener::bind(self.addr)) {
                Ok(l) => break l,
                Err(e) if Instant::now() < deadline => {
                    eprintln!("rebinding {}: {e}", self.addr);
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(e) => panic!("cannot bind {}: {e}", self.addr),
            }
        };
        self.addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        self.stop = Some(tx);
        self.server = Some(self.rt.spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await
                .unwrap();
        }));
    }

    /// Stops serving: connections to the port are refused until [`Receiver::up`].
    pub fn down(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            self.rt.block_on(server).unwrap();
        }
    }

    pub fn refuse_next(&self, n: u64) {
        self.seen.lock().unwrap().refuse_next = n;
    }

    /// Waits until `done(seen)` holds, or panics after `timeout`.
    pub fn wait_for(&self, timeout: Duration, what: &str, done: impl Fn(&Seen) -> bool) {
        let deadline = Instant::now() + timeout;
        loop {
            {
                let seen = self.seen.lock().unwrap();
                if done(&seen) {
                    return;
                }
                if Instant::now() > deadline {
                    panic!("timed out waiting for {what}: {seen:?}");
                }
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}
