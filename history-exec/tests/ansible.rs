//! AnsibleExecutor running real playbooks (ansible-core pinned by scripts/install-ansible.sh)
//! against localhost with a local connection, and one host that cannot be reached.

mod support;

use history::{EventStatus, EventType};
use history_exec::ansible::{AnsibleExecutor, HostStats, TaskStatus};
use support::*;

const TOKEN: &str = "tok-Zq9!API-4242";
const DB_PASSWORD: &str = "pg-Secr3t-77";

fn executor(db: &Db) -> AnsibleExecutor {
    let fixtures = ansible_fixtures();
    AnsibleExecutor::new(&db.recorder)
        .bin_dir(ansible_bin_dir())
        .working_dir(&fixtures)
        .inventory(path_str(&fixtures.join("inventory.ini")))
        .env(
            "ANSIBLE_LOCAL_TEMP",
            path_str(&db.dir.path().join("ansible-tmp")),
        )
        .user_id(7)
}

fn stats(
    ok: u64,
    changed: u64,
    unreachable: u64,
    failed: u64,
    skipped: u64,
    rescued: u64,
    ignored: u64,
) -> HostStats {
    HostStats {
        ok,
        changed,
        unreachable,
        failed,
        skipped: Some(skipped),
        rescued: Some(rescued),
        ignored: Some(ignored),
    }
}

/// The PLAY RECAP line Ansible printed for `host`.
fn printed_recap(e: &history::Event, host: &str) -> String {
    kept_lines(e)
        .into_iter()
        .find(|l| l.starts_with(host) && l.contains(" : ok="))
        .unwrap_or_else(|| panic!("no recap line for {host}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_playbook_that_changes_files_then_changes_nothing() {
    let db = Db::new();
    let out = tempfile::tempdir().unwrap();
    let ex = executor(&db)
        .extra_var("out_dir", path_str(out.path()))
        .extra_var("app_version", "1.4.2")
        .secret_var("api_token", TOKEN)
        .skip_tag("staging");

    let first = ex.run_playbook("changes.yml").await.unwrap();
    assert!(first.success, "{:#?}", first.output.text());
    assert_eq!(
        std::fs::read_to_string(out.path().join("app.conf")).unwrap(),
        "version=1.4.2\n"
    );
    assert_eq!(
        std::fs::read_to_string(out.path().join("token")).unwrap(),
        format!("{TOKEN}\n")
    );
    assert!(first.changed && first.recap);
    assert_eq!(first.hosts["localhost"], stats(3, 2, 0, 0, 0, 0, 0));
    assert!(first.failed_hosts.is_empty() && first.unreachable_hosts.is_empty());
    let statuses: Vec<_> = first
        .tasks
        .iter()
        .map(|t| (t.task.as_deref().unwrap(), t.status))
        .collect();
    assert_eq!(
        statuses,
        [
            ("Write the config", TaskStatus::Changed),
            ("Write the tokens file", TaskStatus::Changed),
            ("Read the config back", TaskStatus::Ok),
        ]
    );

    let second = ex.run_playbook("changes.yml").await.unwrap();
    assert!(second.success && !second.changed);
    assert_eq!(second.hosts["localhost"], stats(3, 0, 0, 0, 0, 0, 0));

    let e = db.get(first.event_id);
    assert_eq!(e.event_type, EventType::PlaybookRun);
    assert_eq!(e.operation, "ansible-playbook");
    assert_eq!(e.status, EventStatus::Success);
    assert_eq!(e.user_id, Some(7.into()));
    let p = e.parameters.to_value();
    assert_eq!(p["playbook"], "changes.yml");
    assert_eq!(p["extra_vars"]["app_version"], "1.4.2");
    assert_eq!(p["extra_vars"]["api_token"], "[redacted]");
    assert_eq!(p["skip_tags"][0], "staging");
    let x = execution(&e);
    assert_eq!(x["hosts"]["localhost"]["changed"], 2);
    assert_eq!(x["changed"], true);
    assert_eq!(x["exit_code"], 0);
    let recap = printed_recap(&e, "localhost");
    assert!(
        recap.contains("ok=3") && recap.contains("changed=2") && recap.contains("ignored=0"),
        "{recap}"
    );
    let cmd = x["command_line"].to_string();
    assert!(cmd.contains("--skip-tags") && cmd.contains("-e"), "{cmd}");
    db.assert_absent(TOKEN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_task_fails_the_run_with_the_host_and_a_scrubbed_message() {
    let db = Db::new();
    let run = executor(&db)
        .secret_var("db_password", DB_PASSWORD)
        .run_playbook("failing.yml")
        .await
        .unwrap();
    assert!(!run.success);
    assert_eq!(run.exit_code, Some(2));
    assert_eq!(run.failed_hosts, ["localhost"]);
    assert_eq!(run.hosts["localhost"], stats(1, 0, 0, 1, 0, 0, 0));
    let failed = run
        .tasks
        .iter()
        .find(|t| t.status == TaskStatus::Failed)
        .unwrap();
    assert_eq!(failed.task.as_deref(), Some("Migrate the database"));
    assert_eq!(
        failed.message.as_deref(),
        Some("migration failed for user admin with password [redacted]")
    );
    assert!(!run
        .tasks
        .iter()
        .any(|t| t.task.as_deref() == Some("Never reached")));

    let e = db.get(run.event_id);
    assert_eq!(e.status, EventStatus::Failed);
    let err = e.error.clone().unwrap();
    assert_eq!(err.kind.as_deref(), Some("ansible_error"));
    assert!(
        err.message.contains("exit code 2") && err.message.contains("failed hosts: localhost"),
        "{}",
        err.message
    );
    assert_eq!(execution(&e)["failed_hosts"][0], "localhost");
    assert!(printed_recap(&e, "localhost").contains("failed=1"));
    db.assert_absent(DB_PASSWORD);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ignored_and_rescued_failures_do_not_fail_the_run() {
    let db = Db::new();
    let run = executor(&db).run_playbook("rescue.yml").await.unwrap();
    assert!(run.success, "{}", run.output.text());
    let s = run.hosts["localhost"];
    assert_eq!(
        (s.failed, s.rescued, s.ignored, s.skipped),
        (0, Some(1), Some(1), Some(1))
    );
    assert_eq!(s, stats(2, 1, 0, 0, 1, 1, 1));
    assert!(run.failed_hosts.is_empty());
    let ignored = run
        .tasks
        .iter()
        .find(|t| t.status == TaskStatus::Ignored)
        .unwrap();
    assert_eq!(ignored.task.as_deref(), Some("Optional cache warm-up"));
    let e = db.get(run.event_id);
    assert_eq!(e.status, EventStatus::Success);
    let recap = printed_recap(&e, "localhost");
    assert!(
        recap.contains("rescued=1") && recap.contains("ignored=1") && recap.contains("skipped=1"),
        "{recap}"
    );
    assert_eq!(execution(&e)["hosts"]["localhost"]["rescued"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_host_is_reported_as_such() {
    let db = Db::new();
    let run = executor(&db).run_playbook("unreachable.yml").await.unwrap();
    assert!(!run.success);
    assert_eq!(run.exit_code, Some(4));
    assert_eq!(run.unreachable_hosts, ["offline"]);
    assert!(run.failed_hosts.is_empty());
    assert_eq!(run.hosts["offline"], stats(0, 0, 1, 0, 0, 0, 0));
    assert_eq!(run.hosts["localhost"], stats(1, 0, 0, 0, 0, 0, 0));
    let t = run.tasks.iter().find(|t| t.host == "offline").unwrap();
    assert_eq!(t.status, TaskStatus::Unreachable);
    assert!(
        t.message
            .as_deref()
            .unwrap_or_default()
            .contains("Connection refused"),
        "{t:?}"
    );
    let e = db.get(run.event_id);
    assert_eq!(e.status, EventStatus::Failed);
    assert!(e
        .error
        .unwrap()
        .message
        .contains("unreachable hosts: offline"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_adhoc_command_is_recorded_per_host() {
    let db = Db::new();
    let run = executor(&db)
        .limit("localhost")
        .run_adhoc(
            "all",
            "ansible.builtin.command",
            Some("echo hello from adhoc"),
        )
        .await
        .unwrap();
    assert!(run.success, "{}", run.output.text());
    assert!(run.changed);
    assert_eq!(
        (run.hosts["localhost"].ok, run.hosts["localhost"].changed),
        (1, 1)
    );
    assert_eq!(run.hosts["localhost"].rescued, None);
    let e = db.get(run.event_id);
    assert_eq!(e.event_type, EventType::AdhocRun);
    assert_eq!(e.operation, "ansible");
    let p = e.parameters.to_value();
    assert_eq!(
        (p["pattern"].as_str(), p["module"].as_str()),
        (Some("all"), Some("ansible.builtin.command"))
    );
    assert!(kept_lines(&e).contains(&"hello from adhoc".to_owned()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_a_clear_error_and_a_failed_event() {
    let db = Db::new();
    let cases: Vec<(AnsibleExecutor, &str, &str)> = vec![
        (
            executor(&db).bin_dir("/no/such/dir"),
            "program_not_found",
            "ansible-playbook",
        ),
        (
            executor(&db).working_dir("/no/such/dir"),
            "invalid_input",
            "playbook",
        ),
        (
            executor(&db).extra_var("bad-name", 1),
            "invalid_input",
            "extra_vars",
        ),
        (
            executor(&db).secret_var("9lives", DB_PASSWORD),
            "invalid_input",
            "extra_vars",
        ),
        (executor(&db).tag(""), "invalid_input", "tags"),
    ];
    for (ex, kind, text) in cases {
        let err = ex.run_playbook("changes.yml").await.unwrap_err();
        assert_eq!(err.kind(), kind, "{err}");
        assert!(err.to_string().contains(text), "{err}");
    }
    let err = executor(&db)
        .run_adhoc("-all", "ping", None)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("pattern"), "{err}");
    let events = db.all();
    assert_eq!(events.len(), 6);
    assert!(events
        .iter()
        .all(|e| e.status == EventStatus::Failed && e.error.is_some()));
    db.assert_absent(DB_PASSWORD);
}
