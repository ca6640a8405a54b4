//! `#[track_terraform]`: the `terraform_*` event type from `command` or the fn name,
//! working_dir and variables (sensitive values redacted) as parameters, the Terraform status
//! walked initiated → provisioning → completed / failed, the returned value as result.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::Mem;
use history::{track_terraform, EventStatus, EventType, MemoryStore, Recorder, TerraformStatus};
use serde_json::json;

#[derive(Debug, serde::Serialize)]
struct RunSummary {
    exit_code: i32,
    added: u32,
    changed: u32,
    destroyed: u32,
}

#[derive(Debug)]
struct TfError(String);
impl std::fmt::Display for TfError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "terraform failed: {}", self.0)
    }
}
impl std::error::Error for TfError {}

/// Checks, from inside the body, what the store holds while the command runs.
fn seen_while_running(
    rec: &Recorder,
    store: &MemoryStore,
) -> (EventStatus, Option<TerraformStatus>) {
    rec.flush().unwrap();
    let all = store.all();
    let e = all.last().unwrap();
    (e.status, e.terraform_status)
}

#[track_terraform(
    command = "apply",
    working_dir = dir,
    variables = vars,
    sensitive("admin_cidr"),
    user_id = 4,
    vm_id = 12
)]
fn run_stack(
    dir: &Path,
    vars: &BTreeMap<String, String>,
    rec: &Recorder,
    store: &MemoryStore,
) -> Result<RunSummary, TfError> {
    let during = seen_while_running(rec, store);
    assert_eq!(
        during,
        (EventStatus::InProgress, Some(TerraformStatus::Provisioning))
    );
    if vars.contains_key("fail") {
        return Err(TfError("Error: quota".into()));
    }
    Ok(RunSummary {
        exit_code: 0,
        added: 2,
        changed: 0,
        destroyed: 0,
    })
}

#[track_terraform(working_dir = root.join("envs/prod"), skip(root))]
async fn terraform_destroy(root: PathBuf) -> Result<(), TfError> {
    tokio::task::yield_now().await;
    Ok(())
}

#[track_terraform]
fn plan_network() -> Result<String, TfError> {
    Ok("Plan: 1 to add".into())
}

#[test]
fn apply_walks_the_status_and_redacts_variables() {
    let mem = Mem::new();
    let mut vars = BTreeMap::new();
    vars.insert("region".to_owned(), "eu-west-1".to_owned());
    vars.insert("db_password".to_owned(), "hunter2".to_owned());
    vars.insert("admin_cidr".to_owned(), "10.9.8.0/24".to_owned());
    mem.with(|| {
        let s = run_stack(Path::new("/srv/tf"), &vars, &mem.recorder, &mem.store).unwrap();
        assert_eq!(s.added, 2);
    });
    let e = mem.only();
    assert_eq!(e.event_type, EventType::TerraformApply);
    assert_eq!(e.status, EventStatus::Success);
    assert_eq!(e.terraform_status, Some(TerraformStatus::Completed));
    assert_eq!(
        (e.user_id.clone(), e.vm_id.clone()),
        (Some(4.into()), Some(12.into()))
    );
    let params = e.parameters.to_value();
    assert_eq!(params["command"], "apply");
    assert_eq!(params["working_dir"], "/srv/tf");
    assert_eq!(
        params["variables"],
        json!({"region": "eu-west-1", "db_password": "[redacted]", "admin_cidr": "[redacted]"})
    );
    // the variables argument itself is not captured again in the clear
    assert!(params.get("vars").is_none());
    assert!(!e.parameters.as_str().contains("hunter2"));
    assert_eq!(
        e.result.unwrap(),
        json!({"exit_code": 0, "added": 2, "changed": 0, "destroyed": 0})
    );
}

#[test]
fn a_failed_run_ends_failed() {
    let mem = Mem::new();
    let mut vars = BTreeMap::new();
    vars.insert("fail".to_owned(), "1".to_owned());
    mem.with(|| run_stack(Path::new("."), &vars, &mem.recorder, &mem.store).unwrap_err());
    let e = mem.only();
    assert_eq!(e.status, EventStatus::Failed);
    assert_eq!(e.terraform_status, Some(TerraformStatus::Failed));
    assert_eq!(e.error.unwrap().message, "terraform failed: Error: quota");
}

#[tokio::test]
async fn command_inferred_from_the_name() {
    let mem = Mem::new();
    let _g = history::set_default(&mem.recorder);
    terraform_destroy(PathBuf::from("/work")).await.unwrap();
    plan_network().unwrap();
    let e = mem.events();
    assert_eq!(e[0].event_type, EventType::TerraformDestroy);
    assert_eq!(e[0].parameters.to_value()["working_dir"], "/work/envs/prod");
    assert_eq!(e[0].terraform_status, Some(TerraformStatus::Completed));
    assert_eq!(e[1].event_type, EventType::TerraformPlan);
    assert_eq!(e[1].result.as_ref().unwrap(), &json!("Plan: 1 to add"));
}
