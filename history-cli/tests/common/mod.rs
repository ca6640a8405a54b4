//! Shared by the CLI tests: the real binary, and history files with known events.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use history::{ErrorInfo, Event, EventId, EventStatus, EventType, HistoryStore, Json};
use history_sqlite::SqliteStore;

/// The ids of the fixture's events.
pub(crate) const CREATE_WEB: &str = "0190a4c2-0000-7000-8000-000000000001";
pub(crate) const CREATE_DB: &str = "0190a4c2-0000-7000-8000-000000000002";
pub(crate) const START_WEB: &str = "0190a4c2-0000-7000-8000-000000000003";
pub(crate) const RESIZE_WEB: &str = "0190a4c2-0000-7000-8000-000000000004";
pub(crate) const DELETE_WEB: &str = "0190a4c2-0000-7000-8000-000000000005";

/// The distributed trace (W3C ids) the fixture's create and start of `web` ran in, and the
/// span of the start.
pub(crate) const EXTERNAL_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
pub(crate) const EXTERNAL_SPAN: &str = "00f067aa0ba902b7";

/// Secrets in the fixture that bypassed the recorder's redaction; never printed.
pub(crate) const SECRETS: &[&str] = &["hunter2", "tok-SECRET", "pw-in-url"];

/// The binary, with a clean environment (no HISTORY_DB, UTC, no colors asked).
pub(crate) fn historyctl(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_historyctl"));
    cmd.current_dir(dir)
        .env_remove("HISTORY_DB")
        .env_remove("NO_COLOR")
        .env("TZ", "UTC");
    cmd
}

/// Runs the binary in `dir` with `args`.
pub(crate) fn run(dir: &Path, args: &[&str]) -> Output {
    historyctl(dir).args(args).output().expect("run historyctl")
}

/// Stdout of a run that must succeed.
pub(crate) fn ok(dir: &Path, args: &[&str]) -> String {
    let out = run(dir, args);
    assert!(
        out.status.success(),
        "historyctl {args:?} failed ({:?}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("time")
        .with_timezone(&Utc)
}

fn id(s: &str) -> EventId {
    s.parse().expect("id")
}

/// The fixture's five events: creates, a failure with a cause, a child call, a write that
/// bypassed redaction, and an in-progress call whose writer is gone.
pub(crate) fn events() -> Vec<Event> {
    let build = |ty: EventType, op: &str, i: &str, start: &str| {
        Event::builder(ty, op).id(id(i)).started_at(at(start))
    };
    let finished = |b: history::EventBuilder, start: &str, ms: u64, status| {
        b.status(status)
            .duration(Duration::from_millis(ms))
            .finished_at(at(start) + Duration::from_millis(ms))
    };
    let mut resize = finished(
        build(
            EventType::VmCreate,
            "vm::create",
            RESIZE_WEB,
            "2026-11-30T10:20:00Z",
        ),
        "2026-11-30T10:20:00Z",
        95,
        EventStatus::Success,
    )
    .user_id(7)
    .vm_id(4)
    .label("region", "eu-west-1")
    .parameters(&serde_json::json!({"name": "web", "size": "large"}))
    .unwrap()
    .build()
    .unwrap();
    // Written by hand, bypassing the recorder: the CLI must still not print these.
    resize
        .labels
        .insert("api_token".into(), "tok-SECRET".into());
    resize.parameters = Json::from(serde_json::json!({
        "name": "web", "size": "large", "admin_password": "hunter2",
        "dsn": "postgres://app:pw-in-url@db/main",
    }));
    vec![
        finished(
            build(
                EventType::VmCreate,
                "vm::create",
                CREATE_WEB,
                "2026-11-30T10:00:00Z",
            ),
            "2026-11-30T10:00:00Z",
            120,
            EventStatus::Success,
        )
        .user_id(7)
        .vm_id(2)
        .label("region", "eu-west-1")
        .parameters(&serde_json::json!({"name": "web", "size": "small"}))
        .unwrap()
        .result(&serde_json::json!({"instance_id": "i-1"}))
        .unwrap()
        .trace_id(id(CREATE_WEB))
        .external_trace(EXTERNAL_TRACE.parse().expect("trace id"), None)
        .build()
        .unwrap(),
        finished(
            build(
                EventType::VmCreate,
                "vm::create",
                CREATE_DB,
                "2026-11-30T10:05:00Z",
            ),
            "2026-11-30T10:05:00Z",
            80,
            EventStatus::Failed,
        )
        .user_id(7)
        .vm_id(3)
        .label("region", "us-east-1")
        .parameters(&serde_json::json!({"name": "db", "size": "large"}))
        .unwrap()
        .error({
            let mut e = ErrorInfo::new("quota exceeded in us-east-1").with_kind("CloudError");
            e.sources = vec!["provider refused: 2 of 2 m5.4xlarge in use".into()];
            e
        })
        .build()
        .unwrap(),
        finished(
            build(
                EventType::VmStart,
                "vm::start",
                START_WEB,
                "2026-11-30T10:10:00Z",
            ),
            "2026-11-30T10:10:00Z",
            1500,
            EventStatus::Success,
        )
        .user_id(1)
        .vm_id(2)
        .parent_id(id(CREATE_WEB))
        .trace_id(id(CREATE_WEB))
        .parameters(&serde_json::json!({"vm": 2}))
        .unwrap()
        .external_trace(
            EXTERNAL_TRACE.parse().expect("trace id"),
            Some(EXTERNAL_SPAN.parse().expect("span id")),
        )
        .build()
        .unwrap(),
        resize,
        build(
            EventType::VmDelete,
            "vm::delete",
            DELETE_WEB,
            "2026-11-30T10:30:00Z",
        )
        .status(EventStatus::InProgress)
        .user_id(1)
        .vm_id(2)
        .build()
        .unwrap(),
    ]
}

/// A history file with the fixture's events, closed (its WAL checkpointed away).
pub(crate) fn fixture(dir: &Path) -> PathBuf {
    let path = dir.join("history.db");
    let store = SqliteStore::open(&path).expect("open");
    store.write_batch(&events()).expect("write");
    drop(store);
    path
}

/// The file's bytes and modification time.
pub(crate) fn fingerprint(path: &Path) -> (Vec<u8>, SystemTime) {
    let bytes = std::fs::read(path).expect("read");
    let mtime = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .expect("mtime");
    (bytes, mtime)
}

/// The text of a checked-in expected output, `tests/expected/<name>`.
pub(crate) fn expected(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/expected")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Compares `actual` with `tests/expected/<name>`; with `UPDATE_EXPECTED=1`, rewrites it.
pub(crate) fn assert_expected(name: &str, actual: &str) {
    if std::env::var_os("UPDATE_EXPECTED").is_some() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/expected")
            .join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let want = expected(name);
    assert!(
        want == actual,
        "output differs from tests/expected/{name}:\n--- expected\n{want}\n--- actual\n{actual}"
    );
}
