//! Outcome: `Ok` / plain values succeed with their result, `Err` fails with the error's
//! message, source chain, `Debug` form and type; `ok_if` / `error_if` judge plain values;
//! `backtrace` captures one. The function's own result is never changed.

mod common;

use common::Mem;
use history::{track_history, EventStatus};
use serde_json::json;

#[derive(Debug)]
enum CloudError {
    Quota { limit: u32, source: std::io::Error },
}

impl std::fmt::Display for CloudError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CloudError::Quota { limit, .. } => write!(f, "quota of {limit} VMs reached"),
        }
    }
}

impl std::error::Error for CloudError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CloudError::Quota { source, .. } => Some(source),
        }
    }
}

#[derive(Debug)]
struct Wrapped(CloudError);
impl std::fmt::Display for Wrapped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("create failed")
    }
}
impl std::error::Error for Wrapped {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

#[track_history(event_type = "create")]
fn create(fail: bool) -> Result<serde_json::Value, Wrapped> {
    if fail {
        return Err(Wrapped(CloudError::Quota {
            limit: 5,
            source: std::io::Error::new(std::io::ErrorKind::QuotaExceeded, "403 from provider"),
        }));
    }
    Ok(json!({"instance_id": "i-1", "public_ip": "1.2.3.4"}))
}

#[test]
fn ok_records_result_err_records_chain() {
    let mem = Mem::new();
    mem.with(|| {
        assert!(create(false).is_ok());
        let err = create(true).unwrap_err();
        assert_eq!(err.to_string(), "create failed");
    });
    let e = mem.events();
    assert_eq!(e[0].status, EventStatus::Success);
    assert_eq!(
        e[0].result.as_ref().unwrap(),
        &json!({"instance_id": "i-1", "public_ip": "1.2.3.4"})
    );
    assert!(e[0].error.is_none());
    assert_eq!(e[1].status, EventStatus::Failed);
    assert!(e[1].result.is_none());
    let err = e[1].error.as_ref().unwrap();
    assert_eq!(err.message, "create failed");
    assert_eq!(
        err.sources,
        vec![
            "quota of 5 VMs reached".to_owned(),
            "403 from provider".to_owned()
        ]
    );
    assert_eq!(err.kind.as_deref(), Some("macro_outcome::Wrapped"));
    assert!(err
        .debug
        .as_deref()
        .unwrap()
        .starts_with("Wrapped(Quota { limit: 5"));
    assert_eq!(
        err.chain(),
        "create failed: quota of 5 VMs reached: 403 from provider"
    );
    assert!(e[1].duration.is_some());
}

#[track_history(event_type = "lookup", error_if = Option::is_none)]
fn lookup(key: &str) -> Option<u32> {
    (key == "a").then_some(1)
}

#[track_history(event_type = "exit", ok_if = |code: &i32| *code == 0)]
fn exit_code(code: i32) -> i32 {
    code
}

#[track_history(event_type = "plain_option")]
fn plain_option(key: &str) -> Option<u32> {
    (key == "a").then_some(1)
}

#[test]
fn ok_if_and_error_if_judge_plain_values() {
    let mem = Mem::new();
    mem.with(|| {
        assert_eq!(lookup("a"), Some(1));
        assert_eq!(lookup("b"), None);
        assert_eq!(exit_code(0), 0);
        assert_eq!(exit_code(2), 2);
        assert_eq!(plain_option("b"), None);
    });
    let e = mem.events();
    assert_eq!(e[0].status, EventStatus::Success);
    assert_eq!(e[1].status, EventStatus::Failed);
    assert_eq!(
        e[1].error.as_ref().unwrap().kind.as_deref(),
        Some("error_if")
    );
    assert_eq!(e[1].result.as_ref().unwrap(), &json!(null));
    assert_eq!(e[2].status, EventStatus::Success);
    assert_eq!(e[3].status, EventStatus::Failed);
    assert_eq!(e[3].error.as_ref().unwrap().kind.as_deref(), Some("ok_if"));
    assert_eq!(e[3].result.as_ref().unwrap(), &json!(2));
    // without error_if, None is just a value
    assert_eq!(e[4].status, EventStatus::Success);
}

#[track_history(event_type = "bt", backtrace)]
fn with_backtrace() -> Result<(), String> {
    Err("boom".into())
}

#[track_history(event_type = "no_bt")]
fn without_backtrace() -> Result<(), String> {
    Err("boom".into())
}

#[test]
fn backtrace_when_configured() {
    let mem = Mem::new();
    mem.with(|| {
        let _ = with_backtrace();
        let _ = without_backtrace();
    });
    let e = mem.events();
    let bt = e[0].error.as_ref().unwrap().backtrace.as_deref().unwrap();
    assert!(
        bt.contains("with_backtrace"),
        "resolved on the writer thread: {bt}"
    );
    // without the option a backtrace is taken only when RUST_BACKTRACE asks for one
    let env_wants = std::env::var("RUST_BACKTRACE").is_ok_and(|v| v != "0")
        || std::env::var("RUST_LIB_BACKTRACE").is_ok_and(|v| v != "0");
    assert_eq!(e[1].error.as_ref().unwrap().backtrace.is_some(), env_wants);
}

#[track_history(event_type = "long_error")]
fn long_error() -> Result<(), String> {
    Err("x".repeat(50_000))
}

#[test]
fn a_long_error_is_cut_not_lost() {
    let mem = Mem::new();
    mem.with(|| long_error().unwrap_err());
    let e = mem.only();
    let err = e.error.unwrap();
    // Cut to the recorder's error cap, keeping the original size in the marker.
    assert!(err.message.len() <= history::redact::DEFAULT_MAX_ERROR_BYTES);
    assert!(err.message.len() > history::redact::DEFAULT_MAX_ERROR_BYTES - 100);
    assert!(
        err.message.ends_with("[cut: 50000 bytes in all]"),
        "{}",
        &err.message[err.message.len() - 60..]
    );
}

#[test]
fn in_progress_first_then_final_with_same_id() {
    #[track_history(event_type = "observed")]
    fn observed(rec: &history::Recorder, store: &history::MemoryStore) -> usize {
        rec.flush().unwrap();
        let during = store.all();
        assert_eq!(during.len(), 1);
        assert_eq!(during[0].status, EventStatus::InProgress);
        assert!(during[0].finished_at.is_none());
        during.len()
    }
    let mem = Mem::new();
    let id_during = mem.with(|| {
        observed(&mem.recorder, &mem.store);
        mem.store.all()[0].id
    });
    let e = mem.only();
    assert_eq!(e.id, id_during);
    assert_eq!(e.status, EventStatus::Success);
}
