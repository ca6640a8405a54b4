//! TerraformExecutor against the stand-in `terraform` (tests/fixtures/terraform), which replays
//! message streams written in Terraform's documented machine-readable UI format — only for what
//! a real binary run offline cannot produce: a UI version from the future, message types no
//! release has, a crash, a long apply with progress messages. Everything else runs against the
//! real Terraform (tests/terraform.rs, tests/terraform_failures.rs).

mod support;

use history::{EventStatus, TerraformStatus};
use history_exec::terraform::{ParseStatus, ResourceStatus, TerraformCommand, TerraformExecutor};
use history_exec::{Ending, StreamKind};
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
async fn an_unknown_major_ui_version_is_read_as_far_as_possible_and_marked_degraded() {
    // A stream from a future Terraform: UI version 2.0, one message in the old shape, one
    // whose shape changed, one of a new type. The run is not stopped: what could be read is
    // kept, and the parse is marked degraded.
    let db = Db::new();
    let run = executor(&db, "future-ui")
        .execute(TerraformCommand::Plan)
        .await
        .unwrap();
    assert!(run.success, "{run:#?}");
    assert_eq!((run.exit_code, &run.ending), (Some(0), &Ending::Exited));
    assert_eq!(run.ui_version.as_deref(), Some("2.0"));
    assert_eq!(run.change_summary.as_ref().map(|c| c.add), Some(2));
    let addrs: Vec<_> = run.resources.iter().map(|r| r.address.as_str()).collect();
    assert_eq!(addrs, ["null_resource.vm"]);
    assert_eq!(run.unknown_messages[0].message_type, "stack_evaluation");
    assert_eq!(run.parse, ParseStatus::Degraded);
    assert!(
        run.parse_notes[0].contains("\"2.0\"") && run.parse_notes[1].contains("planned_change"),
        "{:?}",
        run.parse_notes
    );

    let e = db.get(run.event_id);
    assert_eq!(
        (e.status, e.terraform_status),
        (EventStatus::Success, Some(TerraformStatus::Completed))
    );
    let x = execution(&e);
    assert_eq!(x["parse"], "degraded");
    assert_eq!(x["parse_notes"].as_array().map(Vec::len), Some(2));
    assert_eq!(x["change_summary"]["add"], 2);
    assert!(kept_lines(&e).contains(&"Plan: 2 to add, 0 to change, 0 to destroy.".to_owned()));
}
