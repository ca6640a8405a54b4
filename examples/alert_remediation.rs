//! An alert that remediates itself: a failing health check is recorded as an event, a
//! notification rule fires, a webhook receiver (in this process, on a real port) checks the
//! signature and runs an Ansible playbook through `AnsibleExecutor`, and the remediation run is
//! recorded under the alert's correlation id. A second health check then passes.
//!
//!     cargo run --example alert_remediation
//!
//! Uses the ansible-core that scripts/install-ansible.sh installs (pinned, into
//! target/ansible-venv; the script is run first if needed), or the one in
//! `$HISTORY_ANSIBLE_BIN_DIR`. Everything it writes goes into a temporary directory.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::Router;
use history::{ErrorInfo, Event, EventStatus, EventType, Filter, HistoryStore, Query, Recorder};
use history_exec::ansible::AnsibleExecutor;
use history_notify::sign::{verify, IDEMPOTENCY_HEADER, SIGNATURE_HEADER};
use history_notify::{Notification, Notifier, Rule, Webhook};
use history_sqlite::SqliteStore;
use tokio::sync::mpsc;

type Error = Box<dyn std::error::Error + Send + Sync>;

/// Shared by the notifier's webhook and the receiver (in real life: from a secret store).
const SECRET: &str = "example shared secret";
const VM: i64 = 42;

fn health_check() -> EventType {
    EventType::custom("health_check").expect("a valid custom type name")
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let bin_dir = ansible_bin_dir(&root)?;
    let work = tempfile::tempdir()?;
    let app_dir = work.path().join("app");
    std::fs::create_dir(&app_dir)?;

    // The app: /healthz answers 503 until its "healthy" marker exists.
    let app = serve(
        Router::new()
            .route("/healthz", get(healthz))
            .with_state(app_dir.clone()),
    )
    .await?;
    let app_url = format!("http://{app}/healthz");

    // The history, and the recorder the probe and the executor record through.
    let store = Arc::new(SqliteStore::open(work.path().join("history.db"))?);
    let recorder = Recorder::new(store.clone())?;

    // The webhook receiver: checks signatures, acts once per idempotency key, and runs the
    // remediation playbook for each alert.
    let (done_tx, mut done_rx) = mpsc::unbounded_channel();
    let receiver = Receiver {
        seen: Arc::default(),
        recorder: recorder.clone(),
        bin_dir,
        playbooks: root.join("examples/remediation"),
        app_dir: app_dir.clone(),
        done: done_tx,
    };
    let hooks = serve(
        Router::new()
            .route("/hooks/history", post(receive))
            .with_state(receiver),
    )
    .await?;

    // The rule: every failed health check, posted (signed) to the receiver.
    let notifier = Notifier::builder()
        .rule(
            Rule::each(
                "failed-health-check",
                Filter::new()
                    .event_type(health_check())
                    .status(EventStatus::Failed),
            )
            .to(Webhook::new(&format!("http://{hooks}/hooks/history"))?.secret(SECRET)),
        )
        .state_file(work.path().join("notify.json"))
        .start(store.clone())?;

    let incident = format!("incident-{}", history::EventId::new());
    println!("probing {app_url} ({incident})");
    probe(&recorder, &app_url, &incident).await?;

    let run = tokio::time::timeout(Duration::from_secs(300), done_rx.recv())
        .await
        .map_err(|_| "no remediation within 5 minutes")?
        .ok_or("the receiver stopped")??;
    println!("remediation finished: success={} changed={}", run.0, run.1);

    println!("probing again");
    probe(&recorder, &app_url, &incident).await?;
    recorder.flush()?;
    let stats = tokio::task::block_in_place(|| {
        notifier
            .wait_idle(Duration::from_secs(30))
            .map(|_| notifier.stats())
    })?;
    println!(
        "notifier: {} delivered, {} pending",
        stats.delivered(),
        stats.pending()
    );

    println!("\nthe history of {incident}:");
    let page = store.query(&Query::new().correlation_id(&incident).oldest_first())?;
    for e in &page.items {
        let error = e
            .error
            .as_ref()
            .map(|e| format!(" — {}", e.message))
            .unwrap_or_default();
        println!(
            "  {} {:<12} {:<9} {}{error}",
            e.started_at.format("%H:%M:%S%.3f"),
            e.event_type.to_string(),
            e.status.to_string(),
            e.operation
        );
    }
    let kinds: Vec<_> = page
        .items
        .iter()
        .map(|e| (e.event_type.to_string(), e.status))
        .collect();
    let expected = [
        ("health_check".to_string(), EventStatus::Failed),
        ("playbook_run".to_string(), EventStatus::Success),
        ("health_check".to_string(), EventStatus::Success),
    ];
    if kinds != expected {
        return Err(format!("unexpected history: {kinds:?}").into());
    }
    Ok(())
}

/// GETs the health endpoint and records the check, failed or not.
async fn probe(recorder: &Recorder, url: &str, incident: &str) -> Result<(), Error> {
    let url = url.to_owned();
    let started = Instant::now();
    let answer = tokio::task::spawn_blocking(move || -> Result<(u16, String), ureq::Error> {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let mut response = agent.get(&url).call()?;
        let status = response.status().as_u16();
        Ok((status, response.body_mut().read_to_string()?))
    })
    .await?;
    let mut event = Event::builder(health_check(), "probe::http")
        .vm_id(VM)
        .correlation_id(incident)
        .duration(started.elapsed());
    event = match answer {
        Ok((200, _)) => event.status(EventStatus::Success),
        Ok((status, body)) => event
            .status(EventStatus::Failed)
            .error(ErrorInfo::new(format!(
                "GET /healthz answered {status}: {}",
                body.trim()
            ))),
        Err(e) => event
            .status(EventStatus::Failed)
            .error(ErrorInfo::new(e.to_string())),
    };
    let event = event.build()?;
    println!("  health check: {}", event.status);
    recorder.record(event)?;
    Ok(())
}

async fn healthz(State(dir): State<PathBuf>) -> (StatusCode, &'static str) {
    if dir.join("healthy").exists() {
        (StatusCode::OK, "ok")
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "database connection pool exhausted",
        )
    }
}

#[derive(Clone)]
struct Receiver {
    seen: Arc<Mutex<HashSet<String>>>,
    recorder: Recorder,
    bin_dir: PathBuf,
    playbooks: PathBuf,
    app_dir: PathBuf,
    done: mpsc::UnboundedSender<Result<(bool, bool), Error>>,
}

async fn receive(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let header = |name| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    };
    if !verify(SECRET.as_bytes(), &body, header(SIGNATURE_HEADER)) {
        return StatusCode::UNAUTHORIZED;
    }
    let Ok(alert) = serde_json::from_slice::<Notification>(&body) else {
        return StatusCode::BAD_REQUEST;
    };
    // At least once means maybe twice: act once per idempotency key.
    if !r
        .seen
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(header(IDEMPOTENCY_HEADER).to_owned())
    {
        return StatusCode::OK;
    }
    println!("alert: {}", alert.summary);
    let incident = alert.event["correlation_id"]
        .as_str()
        .unwrap_or(&alert.key)
        .to_owned();
    // Answer at once; the playbook runs on its own task.
    tokio::spawn(async move {
        let run = AnsibleExecutor::new(&r.recorder)
            .bin_dir(&r.bin_dir)
            .working_dir(&r.playbooks)
            .inventory("inventory.ini")
            .extra_var("app_dir", r.app_dir.to_string_lossy())
            .extra_var("incident", incident.as_str())
            .correlation_id(incident.as_str())
            .vm_id(VM)
            .operation("remediation::restart_app")
            .run_playbook("restart_app.yml")
            .await
            .map(|run| (run.success, run.changed))
            .map_err(Error::from);
        let _ = r.done.send(run);
    });
    StatusCode::ACCEPTED
}

/// Serves `router` on a free port of 127.0.0.1.
async fn serve(router: Router) -> Result<SocketAddr, Error> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router).await {
            eprintln!("server on {addr}: {e}");
        }
    });
    Ok(addr)
}

/// The ansible-core to use: `$HISTORY_ANSIBLE_BIN_DIR`, else the pinned one the script installs.
fn ansible_bin_dir(root: &Path) -> Result<PathBuf, Error> {
    if let Some(dir) = std::env::var_os("HISTORY_ANSIBLE_BIN_DIR") {
        return Ok(PathBuf::from(dir));
    }
    let out = Command::new("bash")
        .arg(root.join("scripts/install-ansible.sh"))
        .output()?;
    if !out.status.success() {
        return Err(format!(
            "scripts/install-ansible.sh failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    Ok(PathBuf::from(
        stdout.lines().last().unwrap_or_default().trim(),
    ))
}
