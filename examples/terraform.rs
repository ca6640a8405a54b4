//! A Terraform apply, executed, streamed live, parsed and recorded into SQLite.
//!
//!     cargo run --example terraform
//!
//! Out of the box this runs against the stand-in `terraform` in tests/fixtures/terraform (a
//! script replaying a recorded machine-readable UI stream), because the real binary cannot be
//! downloaded where this project is built. To run real Terraform instead, point it at a
//! binary and a configuration:
//!
//!     TERRAFORM_BIN=/usr/local/bin/terraform TF_DIR=path/to/config cargo run --example terraform

use std::path::PathBuf;

use history::{HistoryStore, Query, Recorder};
use history_exec::terraform::{TerraformCommand, TerraformExecutor};
use history_sqlite::SqliteStore;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let real = std::env::var_os("TERRAFORM_BIN").is_some();
    let binary = std::env::var_os("TERRAFORM_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("history-exec/tests/fixtures/terraform/terraform"));
    let dir = std::env::var_os("TF_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("history-exec/tests/fixtures/terraform/success"));
    if !real {
        println!(
            "(running the stand-in terraform at {}: no real Terraform here)\n",
            binary.display()
        );
    }

    let db_dir = tempfile::tempdir()?;
    let store = std::sync::Arc::new(SqliteStore::open(db_dir.path().join("history.db"))?);
    let recorder = Recorder::new(store.clone())?;

    let executor = TerraformExecutor::new(&recorder)
        .binary(&binary)
        .working_dir(&dir)
        .var("region", "eu-west-1")
        .sensitive_var("db_password", "correct-horse-battery-staple")
        .user_id(7)
        .vm_id(42);

    // Start the apply, and print its lines as they come.
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

    recorder.flush()?;
    let stored = store.query(&Query::new().vm_id(42))?;
    let event = &stored.items[0];
    println!(
        "\nrecorded: {} {} terraform_status={:?}",
        event.event_type,
        event.status,
        event.terraform_status.map(|s| s.as_str())
    );
    println!("parameters: {}", event.parameters);
    Ok(())
}
