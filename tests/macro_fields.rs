//! `history::current_call`: code inside a tracked call sets fields of its own event known only
//! later; the final record carries them, on this thread, across `.await` and on another thread
//! through a context snapshot; a secret label keeps its value out; outside a call nothing is
//! recorded.

mod common;

use common::{Captured, Mem};
use history::{current_call, track_history, EventStatus, MemoryStore, Recorder};

/// What the store holds for the running call, read from inside it.
fn stored_now(rec: &Recorder, store: &MemoryStore) -> history::Event {
    rec.flush().unwrap();
    store.all().pop().unwrap()
}

#[track_history(event_type = "create_vm", recorder = rec, skip(rec, store), vm_id = "pending")]
fn create_vm(rec: &Recorder, store: &MemoryStore, name: &str) -> Result<String, String> {
    let vm_id = format!("i-{name}");
    assert!(current_call::set_vm_id(vm_id.clone()));
    assert!(current_call::set_label("zone", "eu-west-1a"));
    assert!(current_call::set_label("api_token", "tok-123"));
    assert!(current_call::set_correlation_id("req-7"));
    let during = stored_now(rec, store);
    assert_eq!(during.status, EventStatus::InProgress);
    assert_eq!(
        during.vm_id,
        Some("pending".into()),
        "the start keeps what was known"
    );
    if name == "bad" {
        return Err("quota".into());
    }
    Ok(vm_id)
}

#[test]
fn fields_set_inside_the_call_reach_its_final_record() {
    let mem = Mem::new();
    assert_eq!(
        create_vm(&mem.recorder, &mem.store, "web"),
        Ok("i-web".into())
    );
    assert!(create_vm(&mem.recorder, &mem.store, "bad").is_err());
    let events = mem.events();
    assert_eq!(events.len(), 2);
    for (e, vm) in events.iter().zip(["i-web", "i-bad"]) {
        assert_eq!(e.vm_id, Some(vm.into()));
        assert_eq!(e.correlation_id.as_deref(), Some("req-7"));
        assert_eq!(e.labels["zone"], "eu-west-1a");
        assert_eq!(e.labels["api_token"], "[redacted]");
        let stored = serde_json::to_string(e).unwrap();
        assert!(!stored.contains("tok-123"), "{stored}");
    }
    assert_eq!(events[1].status, EventStatus::Failed);
}

#[track_history(event_type = "inner", recorder = rec, skip(rec))]
async fn inner(rec: &Recorder) {
    tokio::task::yield_now().await;
    current_call::set_label("level", "inner");
}

#[track_history(event_type = "outer", recorder = rec, skip(rec))]
async fn outer(rec: Recorder, n: u32) -> u32 {
    tokio::task::yield_now().await;
    current_call::set_user_id(n);
    inner(&rec).await;
    tokio::task::yield_now().await;
    current_call::set_label("step", "after-await");
    // Another thread, through a snapshot of the call's context.
    let snapshot = history::context::snapshot();
    let set = std::thread::spawn(move || {
        snapshot.in_scope(|| current_call::set_organization_id("org-9"))
    })
    .join()
    .unwrap();
    assert!(set);
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fields_survive_await_nesting_and_threads() {
    let mem = Mem::new();
    let handles: Vec<_> = (1..=8u32)
        .map(|n| tokio::spawn(outer(mem.recorder.clone(), n)))
        .collect();
    for h in handles {
        h.await.unwrap();
    }
    let events = mem.events();
    let outers: Vec<_> = events
        .iter()
        .filter(|e| e.event_type.as_str() == "outer")
        .collect();
    assert_eq!(outers.len(), 8);
    for e in outers {
        let n = e.parameters.to_value()["n"].as_u64().unwrap();
        assert_eq!(e.user_id, Some(n.into()));
        assert_eq!(e.organization_id, Some("org-9".into()));
        assert_eq!(e.labels["step"], "after-await");
        assert!(
            !e.labels.contains_key("level"),
            "the inner call's label stays there"
        );
    }
    for e in events.iter().filter(|e| e.event_type.as_str() == "inner") {
        assert_eq!(e.labels["level"], "inner");
        assert_eq!(e.user_id, None);
    }
}

#[track_history(event_type = "explode")]
fn explode() {
    current_call::set_vm_id(5);
    panic!("boom");
}

#[test]
fn a_panicking_call_keeps_its_fields() {
    let mem = Mem::new();
    assert!(mem.with(|| std::panic::catch_unwind(explode)).is_err());
    let e = mem.only();
    assert_eq!(e.status, EventStatus::Failed);
    assert_eq!(e.vm_id, Some(5.into()));
}

#[test]
fn outside_a_call_nothing_is_set_and_the_log_says_so() {
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        assert!(!current_call::set_vm_id(1));
        assert!(!current_call::set_label("k", "v"));
    });
    let text = logs.text();
    assert_eq!(
        text.matches("set outside any tracked call").count(),
        2,
        "{text}"
    );
}

#[track_history(event_type = "login", recorder = rec, skip(rec))]
fn login(rec: &Recorder, user: &str, password: &str) -> Result<(), String> {
    let _ = user;
    current_call::set_label("zone", "eu-west-1a");
    current_call::set_label("api_token", "tok-123");
    current_call::set_label(
        "note",
        format!("tried {password} via postgres://app:pw9@db/x"),
    );
    current_call::set_correlation_id(format!("req-{password}"));
    Ok(())
}

/// Labels set inside a call are redacted by the recorder's own policy, not only by the
/// default names: a name the policy adds is redacted, a name it allows is kept, and the
/// call's redacted argument values and URL passwords never reach a label.
#[test]
fn labels_set_inside_the_call_follow_the_recorders_policy() {
    let store = std::sync::Arc::new(MemoryStore::new());
    let policy = history::redact::RedactionPolicy::new()
        .also("zone")
        .allow("api_token");
    let rec = Recorder::builder()
        .redaction(policy)
        .build_shared(store.clone())
        .unwrap();
    login(&rec, "ann", "hunter2-secret").unwrap();
    rec.flush().unwrap();
    let e = store.all().pop().unwrap();
    assert_eq!(e.labels["zone"], "[redacted]", "named secret by the policy");
    assert_eq!(e.labels["api_token"], "tok-123", "allowed by the policy");
    let stored = serde_json::to_string(&e).unwrap();
    assert!(!stored.contains("hunter2-secret"), "{stored}");
    assert!(!stored.contains("pw9"), "{stored}");
    assert!(!stored.contains("eu-west-1a"), "{stored}");
}
