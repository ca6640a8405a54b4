//! `#[track_history]` and `#[track_terraform]` on the function shapes users write that are
//! easy to get wrong in a macro: bodies that never return, names from `macro_rules!`, a body
//! that shadows its own return type, `#[async_trait]` methods with pattern arguments, and a
//! Terraform command known only at run time.

mod common;

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::mpsc;

use common::Mem;
use history::{track_history, track_terraform, EventStatus, EventType, Recorder};
use serde_json::json;

#[track_history(event_type = "stub")]
fn stub() {
    todo!()
}

#[test]
fn a_body_that_only_diverges_records_its_panic() {
    let mem = Mem::new();
    let caught = mem.with(|| catch_unwind(stub));
    assert!(caught.is_err());
    let e = mem.only();
    assert_eq!(e.status, EventStatus::Failed);
    assert_eq!(e.error.unwrap().kind.as_deref(), Some("panic"));
}

#[track_history(event_type = "fatal", recorder = rec, skip(rec))]
fn fatal(rec: &Recorder, why: &str) -> ! {
    let _ = rec;
    panic!("fatal: {why}")
}

#[test]
fn a_never_returning_fn_records_its_start_and_its_panic() {
    let mem = Mem::new();
    let caught = catch_unwind(AssertUnwindSafe(|| fatal(&mem.recorder, "disk gone")));
    assert!(caught.is_err());
    let e = mem.only();
    assert_eq!(e.status, EventStatus::Failed);
    assert_eq!(e.parameters, json!({"why": "disk gone"}));
    assert_eq!(e.error.unwrap().message, "fatal: disk gone");
}

#[track_history(event_type = "serve", recorder = rec)]
fn serve(rec: Recorder, started: mpsc::Sender<()>) -> ! {
    let _ = rec;
    let _ = started.send(());
    loop {
        std::thread::park();
    }
}

#[track_history(event_type = "serve_unit", recorder = rec)]
fn serve_unit(rec: Recorder, started: mpsc::Sender<()>) {
    let _ = rec;
    let _ = started.send(());
    loop {
        std::thread::park();
    }
}

#[test]
fn a_loop_that_never_ends_records_its_start() {
    let mem = Mem::new();
    let (tx, rx) = mpsc::channel();
    let (rec, tx2) = (mem.recorder.clone(), tx.clone());
    std::thread::spawn(move || serve(rec, tx2));
    let rec = mem.recorder.clone();
    std::thread::spawn(move || serve_unit(rec, tx));
    rx.recv().unwrap();
    rx.recv().unwrap();
    let events = mem.events();
    let mut types: Vec<String> = events
        .iter()
        .map(|e| {
            assert_eq!(e.status, EventStatus::InProgress);
            e.event_type.as_str().to_owned()
        })
        .collect();
    types.sort();
    assert_eq!(types, ["serve", "serve_unit"]);
}

macro_rules! tracked_lookup {
    ($name:ident, $user:ident, $label:expr) => {
        #[track_history(event_type = "lookup", user_id = $user, labels(source = $label))]
        fn $name($user: u64) -> u64 {
            $user * 2
        }
    };
}

tracked_lookup!(lookup_by_macro, account, "macro");

#[test]
fn a_fn_generated_by_macro_rules_takes_its_arguments_from_the_macro() {
    let mem = Mem::new();
    assert_eq!(mem.with(|| lookup_by_macro(21)), 42);
    let e = mem.only();
    assert_eq!(e.user_id, Some(21.into()));
    assert_eq!(e.labels.get("source").map(String::as_str), Some("macro"));
    assert_eq!(e.result.unwrap(), json!(42));
}

mod shadow {
    #[derive(Debug, PartialEq, serde::Serialize)]
    pub struct Foo(pub u8);

    pub mod bar {
        #[allow(dead_code)]
        pub enum Bar {
            Foo,
            Other,
        }
    }

    #[history::track_history(event_type = "shadow")]
    pub fn make() -> Foo {
        #[allow(unused_imports)]
        use bar::Bar::*;
        let _ = Other;
        super::shadow::Foo(7)
    }

    #[history::track_history(event_type = "shadow_async")]
    pub async fn make_async() -> Foo {
        #[allow(unused_imports)]
        use bar::Bar::*;
        super::shadow::Foo(8)
    }
}

#[test]
fn a_body_that_shadows_the_return_type_compiles_and_records() {
    let mem = Mem::new();
    assert_eq!(mem.with(shadow::make), shadow::Foo(7));
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let v = history::with_default(&mem.recorder, || rt.block_on(shadow::make_async()));
    assert_eq!(v, shadow::Foo(8));
    let events = mem.events();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].result.as_ref().unwrap(), &json!(7));
    assert_eq!(events[1].result.as_ref().unwrap(), &json!(8));
}

#[async_trait::async_trait]
trait Login {
    async fn login(&self, creds: (&str, &str)) -> Result<u32, String>;
}

struct Service {
    rec: Recorder,
}

#[async_trait::async_trait]
impl Login for Service {
    #[track_history(event_type = "login", user_id = user, recorder = self.rec)]
    async fn login(&self, (user, password): (&str, &str)) -> Result<u32, String> {
        if password.is_empty() {
            return Err(format!("no password for {user}"));
        }
        Ok(user.len() as u32)
    }
}

#[tokio::test]
async fn async_trait_pattern_arguments_are_captured_by_their_names() {
    let mem = Mem::new();
    let svc = Service {
        rec: mem.recorder.clone(),
    };
    assert_eq!(svc.login(("alice", "hunter2")).await, Ok(5));
    let e = mem.only();
    assert_eq!(
        e.parameters,
        json!({"user": "alice", "password": "[redacted]"})
    );
    assert_eq!(e.user_id, Some("alice".into()));
    let stored = serde_json::to_string(&e).unwrap();
    assert!(!stored.contains("hunter2"), "{stored}");
    assert!(!stored.contains("__arg"), "{stored}");
}

#[derive(Debug)]
struct TfError(String);
impl std::fmt::Display for TfError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for TfError {}

#[track_terraform(command = command, working_dir = working_dir, variables = variables)]
async fn execute(
    command: history_exec::terraform::TerraformCommand,
    working_dir: &Path,
    variables: &BTreeMap<String, String>,
) -> Result<u32, TfError> {
    let _ = (working_dir, variables);
    tokio::task::yield_now().await;
    Ok(0)
}

#[track_terraform(command = name, skip(name))]
fn execute_named(name: &str) -> Result<(), TfError> {
    let _ = name;
    Ok(())
}

#[tokio::test]
async fn the_terraform_command_can_be_a_run_time_value() {
    use history_exec::terraform::TerraformCommand;
    let mem = Mem::new();
    let vars = BTreeMap::from([
        ("region".to_owned(), "eu".to_owned()),
        ("db_password".to_owned(), "hunter2".to_owned()),
    ]);
    let dir = Path::new("/srv/stack");
    let guard = history::set_default(&mem.recorder);
    for command in [TerraformCommand::Plan, TerraformCommand::Destroy] {
        execute(command, dir, &vars).await.unwrap();
    }
    execute_named("apply").unwrap();
    execute_named("upgrade").unwrap();
    drop(guard);
    let events = mem.events();
    let types: Vec<&EventType> = events.iter().map(|e| &e.event_type).collect();
    assert_eq!(
        types,
        [
            &EventType::TerraformPlan,
            &EventType::TerraformDestroy,
            &EventType::TerraformApply,
            &EventType::custom("terraform").unwrap(),
        ]
    );
    assert_eq!(
        events[0].parameters,
        json!({"command": "plan", "working_dir": "/srv/stack",
               "variables": {"db_password": "[redacted]", "region": "eu"}})
    );
    assert_eq!(events[3].parameters, json!({"command": "upgrade"}));
    assert_eq!(
        events[3]
            .labels
            .get("terraform_command_error")
            .map(String::as_str),
        Some("unknown Terraform command \"upgrade\"; expected init, plan, apply or destroy")
    );
}
