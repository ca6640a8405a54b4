//! The process-run core under stress: timeouts and cancellation kill the whole process group
//! and are recorded as `cancelled`; a late subscriber sees every line exactly once; output is
//! kept head + tail.

mod support;

use std::time::Duration;

use history::{EventStatus, TerraformStatus};
use history_exec::terraform::{TerraformCommand, TerraformExecutor};
use history_exec::{Ending, ExecError, ProcessCommand, StreamKind};
use support::*;

fn slow(db: &Db) -> TerraformExecutor {
    TerraformExecutor::new(&db.recorder)
        .binary(standin())
        .working_dir(tf_scenario("slow"))
        .var("region", "eu-west-1")
        .kill_grace(Duration::from_secs(2))
}

/// Waits until the run has printed at least `n` lines.
async fn lines_seen(output: impl Fn() -> u64, n: u64) {
    let start = std::time::Instant::now();
    while output() < n {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the run printed fewer than {n} lines"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn a_timeout_kills_the_process_group_and_records_cancelled() {
    let db = Db::new();
    let run = slow(&db)
        .timeout(Duration::from_millis(400))
        .execute(TerraformCommand::Apply)
        .await
        .unwrap();
    assert!(!run.success);
    assert!(
        matches!(run.ending, Ending::TimedOut { .. }),
        "{:?}",
        run.ending
    );
    assert!(run.output.total() < 18, "the run was cut short");
    let e = db.get(run.event_id);
    assert_eq!(e.status, EventStatus::Cancelled);
    assert_eq!(e.terraform_status, Some(TerraformStatus::Failed));
    let err = e.error.clone().unwrap();
    assert_eq!(err.kind.as_deref(), Some("timeout"));
    assert!(
        err.message.contains("timed out after 0.4s"),
        "{}",
        err.message
    );
    let pid = execution(&e)["pid"].as_u64().unwrap() as u32;
    assert_gone(pid);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_a_run_kills_it_and_records_cancelled() {
    let db = Db::new();
    let execution = slow(&db).start(TerraformCommand::Apply).unwrap();
    let (id, pid) = (execution.event_id(), execution.pid().unwrap());
    lines_seen(|| execution.output().total(), 4).await;
    assert!(alive(pid));
    drop(execution);
    let e = db.wait_terminal(id);
    assert_eq!(e.status, EventStatus::Cancelled);
    assert_eq!(e.error.as_ref().unwrap().kind.as_deref(), Some("cancelled"));
    assert_eq!(execution_of(&e)["ending"]["kind"], "cancelled");
    assert_gone(pid);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_future_that_waits_kills_the_run() {
    let db = Db::new();
    let ex = slow(&db);
    let done = tokio::time::timeout(
        Duration::from_millis(300),
        ex.execute(TerraformCommand::Apply),
    )
    .await;
    assert!(done.is_err(), "the slow apply cannot finish in 300 ms");
    let e = db
        .all()
        .into_iter()
        .next()
        .map(|e| db.wait_terminal(e.id))
        .expect("the run was recorded");
    assert_eq!(e.status, EventStatus::Cancelled);
    assert_gone(execution_of(&e)["pid"].as_u64().unwrap() as u32);
}

#[tokio::test]
async fn cancel_stops_the_run_and_wait_reports_it() {
    let db = Db::new();
    let execution = slow(&db).start(TerraformCommand::Apply).unwrap();
    let pid = execution.pid().unwrap();
    lines_seen(|| execution.output().total(), 3).await;
    execution.cancel();
    let run = execution.wait().await.unwrap();
    assert_eq!(run.ending, Ending::Cancelled);
    assert_eq!(run.status, EventStatus::Cancelled);
    assert_eq!(db.get(run.event_id).status, EventStatus::Cancelled);
    assert_gone(pid);
}

#[tokio::test]
async fn a_late_subscriber_sees_every_line_exactly_once() {
    let db = Db::new();
    let execution = slow(&db).start(TerraformCommand::Apply).unwrap();
    lines_seen(|| execution.output().total(), 5).await;
    let mut sub = execution.subscribe();
    let reader = tokio::spawn(async move {
        let mut seen = Vec::new();
        while let Some(line) = sub.next().await {
            seen.push(line);
        }
        (seen, sub.missed())
    });
    let run = execution.wait().await.unwrap();
    let (seen, missed) = reader.await.unwrap();
    assert!(run.success);
    assert_eq!(missed, 0);
    let seqs: Vec<u64> = seen.iter().map(|l| l.seq).collect();
    assert_eq!(
        seqs,
        (0..18).collect::<Vec<_>>(),
        "every line once, in order"
    );
    let kept: Vec<_> = run.output.lines().cloned().collect();
    assert_eq!(seen, kept);
}

#[tokio::test]
async fn the_runtime_shutting_down_still_kills_and_records_the_run() {
    let db = Db::new();
    let recorder = db.recorder.clone();
    let (id, pid) = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let (id, pid) = rt.block_on(async {
            let execution = TerraformExecutor::new(&recorder)
                .binary(standin())
                .working_dir(tf_scenario("slow"))
                .start(TerraformCommand::Apply)
                .unwrap();
            let ids = (execution.event_id(), execution.pid().unwrap());
            // Keep the run alive past the end of the runtime.
            std::mem::forget(execution);
            tokio::time::sleep(Duration::from_millis(200)).await;
            ids
        });
        drop(rt);
        (id, pid)
    })
    .join()
    .unwrap();
    let e = db.wait_terminal(id);
    assert_eq!(e.status, EventStatus::Cancelled);
    assert_gone(pid);
}

#[tokio::test]
async fn output_is_kept_head_and_tail_with_the_count_left_out() {
    let out = ProcessCommand::new("sh")
        .arg("-c")
        .arg("echo oops >&2; sleep 0.2; i=0; while [ $i -lt 2000 ]; do echo line $i; i=$((i+1)); done; exit 3")
        .run()
        .await
        .unwrap();
    assert_eq!(out.exit_code, Some(3));
    assert!(!out.success());
    assert_eq!(out.output.head.len(), 500);
    assert_eq!(out.output.tail.len(), 500);
    assert_eq!(out.output.omitted, 1001);
    assert_eq!(out.output.head[0].text, "oops");
    assert_eq!(out.output.head[1].text, "line 0");
    assert_eq!(out.output.tail[499].text, "line 1999");
    assert_eq!(out.output.last_line_of(StreamKind::Stderr), Some("oops"));
    assert_eq!(out.output.total(), 2001);
}

#[tokio::test]
async fn long_lines_bad_utf8_env_dir_and_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let out = ProcessCommand::new("sh")
        .arg("-c")
        .arg("printf 'x%.0s' $(seq 1 10000); echo; printf '\\377ok\\r\\n'; echo \"$GREETING from $(pwd)\"; printf 'tail'")
        .env("GREETING", "hello hunter2")
        .working_dir(dir.path())
        .max_line_chars(100)
        .secret("hunter2")
        .run()
        .await
        .unwrap();
    let lines: Vec<&str> = out.output.lines().map(|l| l.text.as_str()).collect();
    assert_eq!(lines.len(), 4, "{lines:?}");
    assert_eq!(lines[0].chars().count(), 100);
    assert!(lines[0].contains("more"), "{}", lines[0]);
    assert_eq!(lines[1], "\u{fffd}ok");
    let cwd = std::fs::canonicalize(dir.path()).unwrap();
    assert_eq!(lines[2], format!("hello [redacted] from {}", cwd.display()));
    assert_eq!(lines[3], "tail");
}

#[tokio::test]
async fn starting_fails_clearly_without_running_anything() {
    let err = ProcessCommand::new("/no/such/program")
        .run()
        .await
        .unwrap_err();
    assert!(matches!(err, ExecError::ProgramNotFound { .. }), "{err}");
    let err = ProcessCommand::new("true")
        .working_dir("/no/such/dir")
        .run()
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "working directory `/no/such/dir` does not exist"
    );
    let file = tempfile::NamedTempFile::new().unwrap();
    let err = ProcessCommand::new("true")
        .working_dir(file.path())
        .run()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("is not a directory"), "{err}");
    let err = ProcessCommand::new("true")
        .tee("/no/such/dir/out.log")
        .run()
        .await
        .unwrap_err();
    assert!(matches!(err, ExecError::Tee { .. }), "{err}");
}

fn execution_of(e: &history::Event) -> serde_json::Value {
    execution(e)
}
