//! TerraformExecutor against a real `terraform`, offline, when things go wrong: a broken
//! configuration, a failing resource, exit codes, cancellation, bad input. Parts that need the
//! built-in `terraform_data` resource (Terraform 1.4+) are skipped with an older binary, saying
//! why.

mod support;

use history::{EventStatus, TerraformStatus};
use history_exec::terraform::{ResourceStatus, TerraformCommand, TerraformExecutor};
use history_exec::{Ending, ExecError};
use support::*;

const PASSWORD: &str = "pw-Xy7!s3cret";

#[tokio::test]
async fn a_broken_configuration_fails_with_its_diagnostics_and_exit_code() {
    let db = Db::new();
    let tf = TfDir::new(
        "variable \"region\" {\n  type = string\n}\n\noutput \"oops\" {\n  value = var.nope\n}\n",
    );
    let run = tf
        .executor(&db.recorder)
        .var("region", "eu-west-1")
        .execute(TerraformCommand::Plan)
        .await
        .unwrap();
    assert!(!run.success);
    assert_eq!(
        (run.exit_code, &run.ending, run.terraform_status),
        (Some(1), &Ending::Exited, TerraformStatus::Failed)
    );
    let d = run.first_error().unwrap();
    assert_eq!(d.summary, "Reference to undeclared input variable");
    assert_eq!(
        d.range
            .as_ref()
            .map(|r| (r.filename.as_str(), r.start.line)),
        Some(("main.tf", 6))
    );
    let e = db.get(run.event_id);
    assert_eq!(
        (e.status, e.terraform_status),
        (EventStatus::Failed, Some(TerraformStatus::Failed))
    );
    let err = e.error.clone().unwrap();
    assert_eq!(err.kind.as_deref(), Some("terraform_error"));
    assert!(
        err.message.contains("exit code 1")
            && err
                .message
                .contains("Reference to undeclared input variable"),
        "{}",
        err.message
    );
    let x = execution(&e);
    assert_eq!(
        (
            x["exit_code"].clone(),
            x["diagnostics"][0]["severity"].clone()
        ),
        (1.into(), "error".into())
    );
    assert!(kept_lines(&e).contains(&"Error: Reference to undeclared input variable".to_owned()));

    // A required variable left out: the same, with Terraform's own words.
    let run = tf
        .executor(&db.recorder)
        .execute(TerraformCommand::Plan)
        .await
        .unwrap();
    assert_eq!((run.success, run.exit_code), (false, Some(1)));
    assert_eq!(
        run.first_error().map(|d| d.summary.as_str()),
        Some("No value for required variable")
    );
}

#[tokio::test]
async fn an_apply_that_errors_records_the_resource_and_the_diagnostic() {
    let rt = real_terraform();
    if rt.skip_without_terraform_data("a failing resource") {
        return;
    }
    let db = Db::new();
    let tf = TfDir::new(
        "resource \"terraform_data\" \"vm\" {\n  provisioner \"local-exec\" {\n    \
         command = \"echo quota exceeded; exit 3\"\n  }\n}\n",
    );
    let run = tf
        .executor(&db.recorder)
        .execute(TerraformCommand::Apply)
        .await
        .unwrap();
    assert!(!run.success);
    assert_eq!(
        (run.exit_code, run.terraform_status),
        (Some(1), TerraformStatus::Failed)
    );
    let vm = &run.resources[0];
    assert_eq!(
        (vm.address.as_str(), vm.status),
        ("terraform_data.vm", ResourceStatus::Errored)
    );
    let d = run.first_error().unwrap();
    assert_eq!(d.summary, "local-exec provisioner error");
    assert_eq!(d.address.as_deref(), Some("terraform_data.vm"));
    assert!(
        d.detail
            .as_deref()
            .unwrap_or_default()
            .contains("exit status 3"),
        "{d:?}"
    );
    let e = db.get(run.event_id);
    assert_eq!(e.status, EventStatus::Failed);
    assert_eq!(execution(&e)["resources"][0]["status"], "errored");
    assert!(kept_lines(&e)
        .iter()
        .any(|l| l.ends_with("(local-exec): quota exceeded")));
}

#[tokio::test]
async fn bad_input_is_a_clear_error_and_a_failed_event() {
    let db = Db::new();
    let tf = TfDir::new("");
    let ex = || {
        tf.executor(&db.recorder)
            .sensitive_var("db_password", PASSWORD)
    };
    let cases: Vec<(TerraformExecutor, &str, &str)> = vec![
        (
            ex().binary("/no/such/terraform"),
            "program_not_found",
            "/no/such/terraform",
        ),
        (
            ex().working_dir("/no/such/dir"),
            "working_dir",
            "does not exist",
        ),
        (ex().var("1bad", "x"), "invalid_input", "variables"),
        (
            ex().sensitive_var("bad name", "x"),
            "invalid_input",
            "variables",
        ),
        (ex().label("", "x"), "invalid_input", "labels key"),
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
    let outside = ex();
    let err = std::thread::spawn(move || {
        outside
            .start(TerraformCommand::Plan)
            .map(|_| ())
            .unwrap_err()
    })
    .join()
    .unwrap();
    assert!(matches!(err, ExecError::NoRuntime), "{err}");
}

#[tokio::test]
async fn cancelling_a_real_apply_kills_terraform_and_what_it_started() {
    let rt = real_terraform();
    if rt.skip_without_terraform_data("a slow resource to cancel") {
        return;
    }
    let db = Db::new();
    let tf = TfDir::new(
        "resource \"terraform_data\" \"vm\" {\n  provisioner \"local-exec\" {\n    \
         command = \"for i in 1 2 3 4 5 6 7 8 9 10; do echo tick $i; sleep 1; done\"\n  }\n}\n",
    );
    let execution = tf
        .executor(&db.recorder)
        .kill_grace(std::time::Duration::from_secs(2))
        .start(TerraformCommand::Apply)
        .unwrap();
    let pid = execution.pid().unwrap();
    let mut live = execution.subscribe();
    while let Some(line) = live.next().await {
        if line.text.ends_with("(local-exec): tick 1") {
            break;
        }
    }
    assert!(
        group_members(pid).len() > 1,
        "terraform runs the provisioner's shell in its process group"
    );
    execution.cancel();
    let run = execution.wait().await.unwrap();
    assert_eq!(
        (&run.ending, run.status),
        (&Ending::Cancelled, EventStatus::Cancelled)
    );
    assert!(
        !run.output.lines().any(|l| l.text.contains("tick 10")),
        "the run was cut short"
    );
    let e = db.get(run.event_id);
    assert_eq!(
        (e.status, e.terraform_status),
        (EventStatus::Cancelled, Some(TerraformStatus::Failed))
    );
    assert_eq!(e.error.unwrap().kind.as_deref(), Some("cancelled"));
    assert_gone(pid);
}

#[tokio::test]
async fn a_detailed_exit_code_plan_with_changes_is_a_success_with_exit_code_2() {
    let db = Db::new();
    let tf = TfDir::new("output \"ok\" {\n  value = \"yes\"\n}\n");
    let ex = tf.executor(&db.recorder).arg("-detailed-exitcode");
    let plan = ex.execute(TerraformCommand::Plan).await.unwrap();
    assert_eq!(
        (plan.success, plan.exit_code),
        (true, Some(2)),
        "{}",
        plan.output.text()
    );
    let e = db.get(plan.event_id);
    assert_eq!(
        (e.status, execution(&e)["exit_code"].clone()),
        (EventStatus::Success, 2.into())
    );

    // Once applied there is nothing to change: exit code 0.
    let apply = tf
        .executor(&db.recorder)
        .execute(TerraformCommand::Apply)
        .await
        .unwrap();
    assert!(apply.success, "{}", apply.output.text());
    let plan = ex.execute(TerraformCommand::Plan).await.unwrap();
    assert_eq!((plan.success, plan.exit_code), (true, Some(0)));

    // A broken configuration is still exit code 1: a failure.
    let tf = TfDir::new("output \"ok\" {\n  value = var.nope\n}\n");
    let broken = tf
        .executor(&db.recorder)
        .arg("-detailed-exitcode")
        .execute(TerraformCommand::Plan)
        .await
        .unwrap();
    assert_eq!((broken.success, broken.exit_code), (false, Some(1)));
}
