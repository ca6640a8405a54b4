//! `#[track_history]` on every function shape: each call is recorded and the function's own
//! behaviour is unchanged.

mod common;

use common::Mem;
use history::{track_history, EventStatus, EventType, Recorder};
use serde_json::json;

#[derive(Debug)]
struct QuotaError {
    source: std::io::Error,
}
impl std::fmt::Display for QuotaError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("quota exceeded")
    }
}
impl std::error::Error for QuotaError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

#[track_history(event_type = EventType::VmCreate, user_id = user_id, vm_id = vm_id)]
fn create_vm(user_id: u64, vm_id: u32, name: &str) -> Result<String, QuotaError> {
    if name == "big" {
        return Err(QuotaError {
            source: std::io::Error::other("limit is 5 vms"),
        });
    }
    Ok(format!("i-{name}"))
}

#[test]
fn sync_fn_success_and_failure() {
    let mem = Mem::new();
    mem.with(|| {
        assert_eq!(create_vm(1, 2, "web").unwrap(), "i-web");
        assert!(create_vm(1, 3, "big").is_err());
    });
    let events = mem.events();
    assert_eq!(events.len(), 2);
    let ok = &events[0];
    assert_eq!(ok.event_type, EventType::VmCreate);
    assert_eq!(ok.status, EventStatus::Success);
    assert_eq!(ok.user_id, Some(1.into()));
    assert_eq!(ok.vm_id, Some(2.into()));
    assert_eq!(
        ok.parameters,
        json!({"user_id": 1, "vm_id": 2, "name": "web"})
    );
    assert_eq!(ok.result.as_ref().unwrap(), &json!("i-web"));
    assert!(ok.duration.is_some() && ok.finished_at.is_some());
    assert_eq!(ok.operation, "macro_shapes::create_vm");

    let failed = &events[1];
    assert_eq!(failed.status, EventStatus::Failed);
    let error = failed.error.as_ref().unwrap();
    assert_eq!(error.message, "quota exceeded");
    assert_eq!(error.sources, vec!["limit is 5 vms".to_owned()]);
    assert!(failed.result.is_none());
}

struct VmService {
    history: Recorder,
    region: String,
}

impl VmService {
    #[track_history(event_type = EventType::VmStart, vm_id = id, recorder = self.history, labels(region = self.region))]
    async fn start(&self, id: u64) -> Result<(), QuotaError> {
        tokio::task::yield_now().await;
        Ok(())
    }

    #[track_history(event_type = "vm_rename", recorder = self.history)]
    fn rename(&mut self, name: String) -> &str {
        self.region = name;
        &self.region
    }
}

#[tokio::test]
async fn async_method_with_explicit_recorder() {
    let mem = Mem::new();
    let mut svc = VmService {
        history: mem.recorder.clone(),
        region: "eu-west-1".into(),
    };
    svc.start(7).await.unwrap();
    assert_eq!(svc.rename("us-east-1".into()), "us-east-1");
    let events = mem.events();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].event_type, EventType::VmStart);
    assert_eq!(events[0].status, EventStatus::Success);
    assert_eq!(events[0].vm_id, Some(7.into()));
    assert_eq!(events[0].labels["region"], "eu-west-1");
    assert_eq!(events[0].operation, "macro_shapes::VmService::start");
    assert_eq!(events[0].result.as_ref().unwrap(), &json!(null));
    assert_eq!(events[1].event_type.as_str(), "vm_rename");
    assert_eq!(events[1].result.as_ref().unwrap(), &json!("us-east-1"));
}
