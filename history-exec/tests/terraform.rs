//! TerraformExecutor against the stand-in `terraform` (tests/fixtures/terraform), which replays
//! message streams written in Terraform's documented machine-readable UI format. Real Terraform
//! is not exercised here: it cannot be downloaded on the machines this project is built on.

mod support;

use std::sync::Arc;
use std::time::Duration;

use history::{EventStatus, EventType, Recorder, TerraformStatus};
use history_exec::terraform::{ResourceStatus, TerraformCommand, TerraformExecutor};
use history_exec::{Ending, ExecError, StreamKind};
use support::*;

const PASSWORD: &str = "pw-Xy7!s3cret";

fn executor(db: &Db, scenario: &str) -> TerraformExecutor {
    TerraformExecutor::new(&db.recorder)
        .binary(standin())
        .working_dir(tf_scenario(scenario))
        .var("region", "eu-west-1")
        .sensitive_var("db_password", PASSWORD)
        .user_id(7)
        .vm_id(42)
}

#[tokio::test]
async fn a_successful_plan_and_apply_are_parsed_recorded_and_keep_secrets_out() {
    let db = Db::new();
    let log = db.dir.path().join("standin.log");
    let ex = executor(&db, "success").env("TF_STANDIN_LOG", path_str(&log));

    let plan = ex.execute(TerraformCommand::Plan).await.unwrap();
    assert!(plan.success, "{plan:#?}");
    let summary = plan.change_summary.clone().unwrap();
    assert_eq!((summary.add, summary.change, summary.remove), (2, 0, 0));
    assert_eq!(summary.operation, "plan");
    assert_eq!(
        plan.outputs["db_password"].action.as_deref(),
        Some("create")
    );
    assert!(plan
        .resources
        .iter()
        .all(|r| r.status == ResourceStatus::Planned));

    let apply = ex.execute(TerraformCommand::Apply).await.unwrap();
    assert!(apply.success && apply.exit_code == Some(0));
    assert_eq!(apply.terraform_status, TerraformStatus::Completed);
    assert_eq!(apply.terraform_version.as_deref(), Some("1.9.8"));
    assert_eq!(apply.change_summary.as_ref().unwrap().operation, "apply");
    assert_eq!(
        apply.outputs["vm_name"].value,
        Some(serde_json::json!("smart-lizard"))
    );
    let pw = &apply.outputs["db_password"];
    assert!(pw.sensitive && pw.value.is_none(), "{pw:?}");
    let addrs: Vec<_> = apply.resources.iter().map(|r| r.address.as_str()).collect();
    assert_eq!(addrs, ["random_pet.vm_name", "null_resource.vm"]);
    let vm = &apply.resources[1];
    assert_eq!(vm.status, ResourceStatus::Complete);
    assert_eq!(
        (vm.action.as_str(), vm.id.as_deref(), vm.elapsed_seconds),
        ("create", Some("4127309961"), Some(1))
    );

    let e = db.get(apply.event_id);
    assert_eq!(e.event_type, EventType::TerraformApply);
    assert_eq!(e.operation, "terraform apply");
    assert_eq!(e.status, EventStatus::Success);
    assert_eq!(e.terraform_status, Some(TerraformStatus::Completed));
    assert_eq!(
        (e.user_id.clone(), e.vm_id.clone()),
        (Some(7.into()), Some(42.into()))
    );
    let params = e.parameters.to_value();
    assert_eq!(params["variables"]["region"], "eu-west-1");
    assert_eq!(params["variables"]["db_password"], "[redacted]");
    let result = e.result.as_ref().unwrap().to_value();
    assert_eq!(result["change_summary"]["add"], 2);
    assert_eq!(result["outputs"]["vm_name"]["value"], "smart-lizard");
    let x = execution(&e);
    assert_eq!(x["exit_code"], 0);
    assert_eq!(x["resources"][1]["id"], "4127309961");
    let cmd = x["command_line"].as_array().unwrap();
    for flag in [
        "apply",
        "-json",
        "-input=false",
        "-no-color",
        "-auto-approve",
        "region=eu-west-1",
    ] {
        assert!(cmd.iter().any(|a| a == flag), "{flag} missing from {cmd:?}");
    }
    let lines = kept_lines(&e);
    assert_eq!(lines.len(), 10, "{lines:#?}");
    assert_eq!(lines[0], "Terraform 1.9.8");
    assert!(
        lines.contains(&"Apply complete! Resources: 2 added, 0 changed, 0 destroyed.".to_owned())
    );
    assert_eq!(e.duration.is_some(), e.finished_at.is_some());

    // The stand-in got the password through the environment, never on its command line.
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(
        log.contains("TF_VAR_db_password") && !log.contains(PASSWORD),
        "{log}"
    );
    assert!(log.contains("-var region=eu-west-1"), "{log}");
    // ... and it is nowhere in the database, though the outputs message carried it.
    db.assert_absent(PASSWORD);
    assert!(
        contains(&db.bytes(), b"smart-lizard"),
        "the scan reads the stored events"
    );
}

#[tokio::test]
async fn the_run_walks_initiated_provisioning_completed() {
    let store = Arc::new(LoggingStore::default());
    let recorder = Recorder::builder()
        .sync_event_types([EventType::TerraformApply])
        .no_spill()
        .build_shared(store.clone())
        .unwrap();
    let run = TerraformExecutor::new(&recorder)
        .binary(standin())
        .working_dir(tf_scenario("success"))
        .var("region", "eu-west-1")
        .execute(TerraformCommand::Apply)
        .await
        .unwrap();
    recorder.flush().unwrap();
    let walk = store.walk(run.event_id);
    assert_eq!(
        walk,
        [
            (EventStatus::InProgress, Some(TerraformStatus::Initiated)),
            (EventStatus::InProgress, Some(TerraformStatus::Provisioning)),
            (EventStatus::Success, Some(TerraformStatus::Completed)),
        ]
    );
}

#[tokio::test]
async fn an_apply_that_errors_records_the_diagnostic() {
    let db = Db::new();
    let run = executor(&db, "errored")
        .execute(TerraformCommand::Apply)
        .await
        .unwrap();
    assert!(!run.success);
    assert_eq!(run.exit_code, Some(1));
    assert_eq!(run.terraform_status, TerraformStatus::Failed);
    let d = run.first_error().unwrap();
    assert_eq!(d.summary, "creating VM: quota exceeded");
    assert_eq!(d.address.as_deref(), Some("null_resource.vm"));
    assert_eq!(
        d.range
            .as_ref()
            .map(|r| (r.filename.as_str(), r.start.line)),
        Some(("main.tf", 8))
    );
    // The stand-in put the password into the detail: it is scrubbed.
    let detail = d.detail.as_deref().unwrap();
    assert!(
        detail.contains("Region eu-west-1") && detail.contains("password [redacted]"),
        "{detail}"
    );
    assert_eq!(run.resources[0].status, ResourceStatus::Errored);
    assert_eq!(run.resources[0].elapsed_seconds, Some(2));

    let e = db.get(run.event_id);
    assert_eq!(e.status, EventStatus::Failed);
    assert_eq!(e.terraform_status, Some(TerraformStatus::Failed));
    let err = e.error.clone().unwrap();
    assert_eq!(err.kind.as_deref(), Some("terraform_error"));
    assert!(
        err.message.contains("exit code 1") && err.message.contains("creating VM: quota exceeded"),
        "{}",
        err.message
    );
    assert_eq!(execution(&e)["diagnostics"][0]["severity"], "error");
    assert!(kept_lines(&e).contains(&"Error: creating VM: quota exceeded".to_owned()));
    db.assert_absent(PASSWORD);
}

#[tokio::test]
async fn a_slow_apply_keeps_progress_head_tail_and_tees_everything() {
    let db = Db::new();
    let tee = db.dir.path().join("apply.log");
    let run = executor(&db, "slow")
        .keep_lines(3, 3)
        .tee(&tee)
        .execute(TerraformCommand::Apply)
        .await
        .unwrap();
    assert!(run.success, "{run:#?}");
    let vm = &run.resources[0];
    assert_eq!(
        (vm.status, vm.elapsed_seconds, vm.id.as_deref()),
        (ResourceStatus::Complete, Some(123), Some("918273645"))
    );
    assert_eq!(run.output.total(), 18);
    assert_eq!(run.output.omitted, 12);

    let e = db.get(run.event_id);
    let x = execution(&e);
    assert_eq!(x["output"]["omitted"], 12);
    let lines = kept_lines(&e);
    assert_eq!(
        lines,
        [
            "Terraform 1.9.8",
            "null_resource.vm: Plan to create",
            "null_resource.vm: Creating...",
            "null_resource.vm: Creation complete after 2m3s [id=918273645]",
            "Apply complete! Resources: 1 added, 0 changed, 0 destroyed.",
            "Outputs: 0",
        ]
    );
    let teed = std::fs::read_to_string(&tee).unwrap();
    assert_eq!(teed.lines().count(), 18);
    assert!(teed.contains("Still creating... [60s elapsed]"));
}

#[tokio::test]
async fn an_unknown_message_type_is_kept_by_its_message() {
    let db = Db::new();
    let run = executor(&db, "unknown")
        .execute(TerraformCommand::Plan)
        .await
        .unwrap();
    assert!(run.success);
    assert_eq!(run.unknown_messages.len(), 1);
    let u = &run.unknown_messages[0];
    assert_eq!(u.message_type, "policy_evaluation");
    assert_eq!(u.message, "Checking policy set 'vm-guardrails' (3 rules)");
    let e = db.get(run.event_id);
    assert_eq!(
        execution(&e)["unknown_messages"][0]["type"],
        "policy_evaluation"
    );
    assert!(kept_lines(&e).contains(&u.message));
    assert_eq!(e.terraform_status, Some(TerraformStatus::Completed));
}

#[tokio::test]
async fn a_crash_with_plain_stderr_fails_with_the_panic_line() {
    let db = Db::new();
    let run = executor(&db, "crash")
        .execute(TerraformCommand::Apply)
        .await
        .unwrap();
    assert!(!run.success);
    assert_eq!((run.exit_code, &run.ending), (Some(1), &Ending::Exited));
    let stderr: Vec<_> = run
        .output
        .lines()
        .filter(|l| l.stream == StreamKind::Stderr)
        .collect();
    assert_eq!(stderr.len(), 9);
    let e = db.get(run.event_id);
    assert_eq!(
        (e.status, e.terraform_status),
        (EventStatus::Failed, Some(TerraformStatus::Failed))
    );
    let msg = e.error.clone().unwrap().message;
    assert!(
        msg.contains("panic: runtime error: invalid memory address"),
        "{msg}"
    );
    assert!(kept_lines(&e).iter().any(|l| l.starts_with("goroutine 1")));
}

#[tokio::test]
async fn an_unknown_major_ui_version_is_refused_and_the_run_stopped() {
    let db = Db::new();
    let started = std::time::Instant::now();
    let run = executor(&db, "future-ui")
        .kill_grace(Duration::from_secs(2))
        .execute(TerraformCommand::Plan)
        .await
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "the stream sleeps 30 s: the run was not stopped"
    );
    assert!(!run.success);
    assert!(
        matches!(&run.ending, Ending::Stopped { reason } if reason.contains("\"2.0\"")),
        "{:?}",
        run.ending
    );
    assert!(run.change_summary.is_none());
    let e = db.get(run.event_id);
    assert_eq!(e.status, EventStatus::Failed);
    assert_eq!(
        e.error.clone().unwrap().kind.as_deref(),
        Some("unsupported_ui_version")
    );
    assert_gone(execution(&e)["pid"].as_u64().unwrap() as u32);
}

#[tokio::test]
async fn the_seed_call_answers_success_and_result() {
    let db = Db::new();
    let ex = TerraformExecutor::new(&db.recorder).binary(standin());
    let (ok, result) = ex
        .run(
            TerraformCommand::Apply,
            tf_scenario("success"),
            [("region", "us-east-1")],
            EventType::VmCreate,
        )
        .await;
    assert!(ok, "{result}");
    assert_eq!(result["change_summary"]["add"], 2);
    let events = db.all();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].event_type, EventType::VmCreate);
    assert_eq!(events[0].terraform_status, Some(TerraformStatus::Completed));

    let (ok, result) = ex
        .run(
            TerraformCommand::Apply,
            "/no/such/dir",
            [("region", "x")],
            EventType::VmCreate,
        )
        .await;
    assert!(!ok);
    assert_eq!(result["kind"], "working_dir");
}

#[tokio::test]
async fn secret_looking_variable_names_are_treated_as_sensitive() {
    let db = Db::new();
    let run = TerraformExecutor::new(&db.recorder)
        .binary(standin())
        .working_dir(tf_scenario("errored"))
        .var("region", "eu-west-1")
        .var("db_password", PASSWORD)
        .execute(TerraformCommand::Apply)
        .await
        .unwrap();
    let e = db.get(run.event_id);
    assert_eq!(
        e.parameters.to_value()["variables"]["db_password"],
        "[redacted]"
    );
    assert!(!execution(&e)["command_line"].to_string().contains(PASSWORD));
    db.assert_absent(PASSWORD);
}

#[tokio::test]
async fn bad_input_is_a_clear_error_and_a_failed_event() {
    let db = Db::new();
    let cases: Vec<(TerraformExecutor, &str, &str)> = vec![
        (
            executor(&db, "success").binary("/no/such/terraform"),
            "program_not_found",
            "/no/such/terraform",
        ),
        (
            executor(&db, "success").working_dir("/no/such/dir"),
            "working_dir",
            "does not exist",
        ),
        (
            executor(&db, "success").var("1bad", "x"),
            "invalid_input",
            "variables",
        ),
        (
            executor(&db, "success").sensitive_var("bad name", "x"),
            "invalid_input",
            "variables",
        ),
        (
            executor(&db, "success").label("", "x"),
            "invalid_input",
            "labels key",
        ),
    ];
    for (ex, kind, text) in cases {
        let err = ex.execute(TerraformCommand::Apply).await.unwrap_err();
        assert_eq!(err.kind(), kind, "{err}");
        assert!(err.to_string().contains(text), "{err}");
    }
    let events = db.all();
    assert_eq!(events.len(), 5);
    for e in &events {
        assert_eq!(e.status, EventStatus::Failed);
        assert_eq!(e.terraform_status, Some(TerraformStatus::Failed));
        assert!(e.error.as_ref().and_then(|x| x.kind.as_deref()).is_some());
        assert_eq!(
            e.parameters.to_value()["variables"]["db_password"],
            "[redacted]"
        );
    }
    db.assert_absent(PASSWORD);
    // Outside a tokio runtime the executor says so instead of panicking.
    let err = std::thread::spawn(move || {
        executor(&db, "success")
            .start(TerraformCommand::Plan)
            .map(|_| ())
            .unwrap_err()
    })
    .join()
    .unwrap();
    assert!(matches!(err, ExecError::NoRuntime), "{err}");
}

#[tokio::test]
async fn init_runs_without_json_or_variables_and_keeps_plain_lines() {
    let db = Db::new();
    let run = executor(&db, "success")
        .execute(TerraformCommand::Init)
        .await
        .unwrap();
    assert!(run.success, "{}", run.output.text());
    assert!(run.change_summary.is_none() && run.terraform_version.is_none());
    let e = db.get(run.event_id);
    assert_eq!(e.event_type, EventType::TerraformInit);
    assert_eq!(e.terraform_status, Some(TerraformStatus::Completed));
    let cmd = execution(&e)["command_line"].to_string();
    assert!(
        !cmd.contains("-json") && !cmd.contains("-var") && cmd.contains("-input=false"),
        "{cmd}"
    );
    let lines = kept_lines(&e);
    assert_eq!(lines.len(), 6);
    assert_eq!(lines[5], "Terraform has been successfully initialized!");
}
