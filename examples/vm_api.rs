//! A small VM-management HTTP API with its history: every request is recorded by
//! `HistoryLayer`, the service's operations are `#[track_history]` functions that nest under
//! the request, and the history is served at `/history` (JSON API and web page).
//!
//! ```sh
//! cargo run --example vm_api            # then open the printed URL
//! ```
//!
//! The user comes from a bearer token (`alice-token` is user 1, `bob-token` user 2). The
//! history is kept in `./vm_api.db` (or `$HISTORY_DB`); the server listens on 127.0.0.1:3000
//! (or `$HISTORY_PORT`; `0` picks a free port). With `HISTORY_EXAMPLE_SECONDS=n` it stops by
//! itself after n seconds.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use history::{track_history, EventType, Recorder};
use history_http::HistoryLayer;
use history_sqlite::SqliteStore;
use serde::{Deserialize, Serialize};

/// The authenticated user, put into the request by `auth`.
#[derive(Clone, Copy, Debug)]
struct User(u64);

#[derive(Debug, Deserialize, Serialize)]
struct NewVm {
    name: String,
    size: String,
    /// A secret the API takes and the history must never show.
    root_password: String,
}

#[derive(Clone, Debug, Serialize)]
struct Vm {
    id: u64,
    name: String,
    size: String,
    owner: u64,
    running: bool,
}

#[derive(Debug, thiserror::Error)]
enum VmError {
    #[error("no VM with id {0}")]
    NotFound(u64),
    #[error("VM {0} belongs to another user")]
    Forbidden(u64),
    #[error("size {0:?} is not offered (small, medium, large)")]
    BadSize(String),
}

impl IntoResponse for VmError {
    fn into_response(self) -> Response {
        let status = match self {
            VmError::NotFound(_) => StatusCode::NOT_FOUND,
            VmError::Forbidden(_) => StatusCode::FORBIDDEN,
            VmError::BadSize(_) => StatusCode::UNPROCESSABLE_ENTITY,
        };
        (
            status,
            Json(serde_json::json!({ "error": self.to_string() })),
        )
            .into_response()
    }
}

/// The VM service: its operations are recorded, nested under the request that called them.
#[derive(Default)]
struct VmService {
    vms: Mutex<BTreeMap<u64, Vm>>,
    next_id: AtomicU64,
}

impl VmService {
    fn owned(&self, user: u64, id: u64) -> Result<Vm, VmError> {
        let vms = self.vms.lock().unwrap_or_else(|e| e.into_inner());
        let vm = vms.get(&id).ok_or(VmError::NotFound(id))?;
        if vm.owner != user {
            return Err(VmError::Forbidden(id));
        }
        Ok(vm.clone())
    }

    fn set_running(&self, id: u64, running: bool) -> Option<Vm> {
        let mut vms = self.vms.lock().unwrap_or_else(|e| e.into_inner());
        let vm = vms.get_mut(&id)?;
        vm.running = running;
        Some(vm.clone())
    }

    #[track_history(event_type = EventType::VmCreate, user_id = user, skip(self))]
    async fn create(&self, user: u64, spec: NewVm) -> Result<Vm, VmError> {
        if !["small", "medium", "large"].contains(&spec.size.as_str()) {
            return Err(VmError::BadSize(spec.size));
        }
        tokio::time::sleep(Duration::from_millis(20)).await; // the provider's API
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        history::current_call::set_vm_id(id); // known only now
        let vm = Vm {
            id,
            name: spec.name,
            size: spec.size,
            owner: user,
            running: false,
        };
        let mut vms = self.vms.lock().unwrap_or_else(|e| e.into_inner());
        vms.insert(id, vm.clone());
        Ok(vm)
    }

    #[track_history(event_type = EventType::VmStart, user_id = user, vm_id = id, skip(self))]
    async fn start(&self, user: u64, id: u64) -> Result<Vm, VmError> {
        self.owned(user, id)?;
        tokio::time::sleep(Duration::from_millis(30)).await;
        self.set_running(id, true).ok_or(VmError::NotFound(id))
    }

    #[track_history(event_type = EventType::VmStop, user_id = user, vm_id = id, skip(self))]
    async fn stop(&self, user: u64, id: u64) -> Result<Vm, VmError> {
        self.owned(user, id)?;
        tokio::time::sleep(Duration::from_millis(10)).await;
        self.set_running(id, false).ok_or(VmError::NotFound(id))
    }

    #[track_history(event_type = EventType::VmDelete, user_id = user, vm_id = id, skip(self))]
    async fn delete(&self, user: u64, id: u64) -> Result<(), VmError> {
        self.owned(user, id)?;
        let mut vms = self.vms.lock().unwrap_or_else(|e| e.into_inner());
        vms.remove(&id);
        Ok(())
    }
}

type Service = Arc<VmService>;

async fn list(State(svc): State<Service>, Extension(User(user)): Extension<User>) -> Json<Vec<Vm>> {
    let vms = svc.vms.lock().unwrap_or_else(|e| e.into_inner());
    Json(
        vms.values()
            .filter(|vm| vm.owner == user)
            .cloned()
            .collect(),
    )
}

async fn create(
    State(svc): State<Service>,
    Extension(User(user)): Extension<User>,
    Json(spec): Json<NewVm>,
) -> Result<(StatusCode, Json<Vm>), VmError> {
    Ok((StatusCode::CREATED, Json(svc.create(user, spec).await?)))
}

async fn start(
    State(svc): State<Service>,
    Extension(User(user)): Extension<User>,
    Path(id): Path<u64>,
) -> Result<Json<Vm>, VmError> {
    Ok(Json(svc.start(user, id).await?))
}

async fn stop(
    State(svc): State<Service>,
    Extension(User(user)): Extension<User>,
    Path(id): Path<u64>,
) -> Result<Json<Vm>, VmError> {
    Ok(Json(svc.stop(user, id).await?))
}

async fn delete(
    State(svc): State<Service>,
    Extension(User(user)): Extension<User>,
    Path(id): Path<u64>,
) -> Result<StatusCode, VmError> {
    svc.delete(user, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Bearer-token authentication: the token names the user.
async fn auth(mut req: Request, next: Next) -> Response {
    let token = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let user = match token {
        Some("alice-token") => User(1),
        Some("bob-token") => User(2),
        _ => {
            return (
                StatusCode::UNAUTHORIZED,
                Json(serde_json::json!({"error": "a bearer token is required"})),
            )
                .into_response()
        }
    };
    // The request's event (HistoryLayer) records this user.
    history::current_call::set_user_id(user.0);
    req.extensions_mut().insert(user);
    next.run(req).await
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let db = std::env::var("HISTORY_DB").unwrap_or_else(|_| "vm_api.db".into());
    let recorder = Recorder::new(SqliteStore::open(&db)?)?;
    // The recorder of the `#[track_history]` functions; flushed when the guard drops.
    let _guard = history::init(recorder.clone())?;

    let api = Router::new()
        .route("/vms", get(list).post(create))
        .route("/vms/{id}/start", post(start))
        .route("/vms/{id}/stop", post(stop))
        .route("/vms/{id}", axum::routing::delete(delete))
        .with_state(Service::default())
        .layer(middleware::from_fn(auth))
        // The last layer is the outermost: every request is recorded, refused ones (401) too.
        // `auth` runs inside the request's event and names its user (see `auth`); a history
        // layer placed inside the auth layer could read the user with `.user_id(|parts| ..)`.
        .layer(
            HistoryLayer::new(recorder.clone())
                .headers(["user-agent", "authorization"]) // authorization: always "[redacted]"
                .request_body(4096)
                .client_errors_fail(true),
        );
    let app = Router::new()
        .route("/health", get(|| async { "ok" }))
        .merge(api)
        // Read-only, and open here for the demo: in production put your auth layer on it.
        .nest("/history", history_http::router(&recorder));

    let port = std::env::var("HISTORY_PORT").unwrap_or_else(|_| "3000".into());
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await?;
    let addr = listener.local_addr()?;
    println!("VM API on http://{addr} — history in {db}");
    println!("Open http://{addr}/history to browse it. Try:");
    println!(
        "  curl -s -X POST http://{addr}/vms -H 'Authorization: Bearer alice-token' \
         -H 'Content-Type: application/json' \
         -d '{{\"name\":\"web\",\"size\":\"small\",\"root_password\":\"hunter2\"}}'"
    );
    println!("  curl -s -X POST http://{addr}/vms/1/start -H 'Authorization: Bearer alice-token'");
    println!("  curl -s 'http://{addr}/history/events?event_type=api_request&limit=5'");

    let stop = async {
        match std::env::var("HISTORY_EXAMPLE_SECONDS")
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
        {
            Some(secs) => tokio::time::sleep(Duration::from_secs(secs)).await,
            None => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    };
    axum::serve(listener, app)
        .with_graceful_shutdown(stop)
        .await?;
    recorder.flush()?;
    println!("stopped; {} events recorded", recorder.stats().written);
    Ok(())
}
