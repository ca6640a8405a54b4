//! An Ansible playbook run against this machine, parsed and recorded into SQLite.
//!
//!     cargo run --example ansible
//!
//! Uses the ansible-core that scripts/install-ansible.sh installs (pinned, into
//! target/ansible-venv; the script is run first if needed), or the one in
//! `$HISTORY_ANSIBLE_BIN_DIR`. The playbook writes two files into a temporary directory.

use std::path::PathBuf;
use std::process::Command;

use history::{HistoryStore, Query, Recorder};
use history_exec::ansible::AnsibleExecutor;
use history_sqlite::SqliteStore;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let bin_dir = match std::env::var_os("HISTORY_ANSIBLE_BIN_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => {
            let out = Command::new("bash")
                .arg(root.join("scripts/install-ansible.sh"))
                .output()?;
            if !out.status.success() {
                return Err(format!(
                    "scripts/install-ansible.sh failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                )
                .into());
            }
            let stdout = String::from_utf8_lossy(&out.stdout);
            PathBuf::from(stdout.lines().last().unwrap_or_default().trim())
        }
    };
    let fixtures = root.join("history-exec/tests/fixtures/ansible");
    let work = tempfile::tempdir()?;

    let store = std::sync::Arc::new(SqliteStore::open(work.path().join("history.db"))?);
    let recorder = Recorder::new(store.clone())?;

    let run = AnsibleExecutor::new(&recorder)
        .bin_dir(&bin_dir)
        .working_dir(&fixtures)
        .inventory(fixtures.join("inventory.ini").to_string_lossy())
        .extra_var("out_dir", work.path().to_string_lossy())
        .extra_var("app_version", "1.4.2")
        .secret_var("api_token", "tok-not-for-the-history")
        .skip_tag("staging")
        .user_id(7)
        .run_playbook("changes.yml")
        .await?;

    println!("success: {}, changed: {}", run.success, run.changed);
    for (host, s) in &run.hosts {
        println!(
            "{host}: ok={} changed={} unreachable={} failed={} skipped={:?} rescued={:?} ignored={:?}",
            s.ok, s.changed, s.unreachable, s.failed, s.skipped, s.rescued, s.ignored
        );
    }
    for t in &run.tasks {
        println!(
            "  [{}] {:?} on {}",
            t.task.as_deref().unwrap_or("-"),
            t.status,
            t.host
        );
    }

    recorder.flush()?;
    let event = &store.query(&Query::new().user_id(7))?.items[0];
    println!("\nrecorded: {} {}", event.event_type, event.status);
    println!("parameters: {}", event.parameters);
    Ok(())
}
