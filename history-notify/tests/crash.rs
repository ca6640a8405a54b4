//! kill -9 between an event's commit and its notification's delivery: a real child process
//! (this test binary, run again as `child`) records a failed event into SQLite while its
//! notifier cannot deliver, and is killed with SIGKILL; a new process on the same database
//! and state file delivers it, under the same idempotency key.

mod support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use history::{ErrorInfo, Event, EventStatus, EventType, Filter, Recorder};
use history_notify::{Notification, Notifier, Rule, Webhook};
use history_sqlite::SqliteStore;
use support::Receiver;

const SECRET: &str = "crash test secret";
const CHILD_ENV: &str = "HISTORY_NOTIFY_CRASH_CHILD";

/// A child process, killed (SIGKILL) if the test ends without having dealt with it.
struct ChildGuard(Option<Child>);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Runs this binary's `child` test in a new process with `args`, and a channel of the lines
/// it prints.
fn spawn_child(args: &[&str]) -> (ChildGuard, mpsc::Receiver<String>) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["child", "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, args.join("\u{1f}"))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (ChildGuard(Some(child)), rx)
}

/// What follows `prefix` on the first line holding it (the test harness may print its own
/// text before it on the same line).
fn expect_line(lines: &mpsc::Receiver<String>, prefix: &str) -> String {
    loop {
        match lines.recv_timeout(Duration::from_secs(60)) {
            Ok(line) => {
                if let Some(at) = line.find(prefix) {
                    return line[at + prefix.len()..].trim().to_owned();
                }
            }
            Err(e) => panic!("no {prefix:?} line from the child: {e}"),
        }
    }
}

fn kill_9(mut guard: ChildGuard) {
    let mut child = guard.0.take().unwrap();
    child.kill().unwrap(); // SIGKILL on Unix
    assert!(!child.wait().unwrap().success());
}

fn notifier(store: std::sync::Arc<SqliteStore>, state: &Path, url: &str) -> Notifier {
    Notifier::builder()
        .rule(
            Rule::each(
                "failed-health",
                Filter::new()
                    .event_type(EventType::custom("health_check").unwrap())
                    .status(EventStatus::Failed),
            )
            .group_for(Duration::ZERO)
            .to(Webhook::new(url).unwrap().secret(SECRET)),
        )
        .state_file(state)
        .backoff(Duration::from_millis(20), Duration::from_millis(100))
        .poll_interval(Duration::from_millis(10))
        .start(store)
        .unwrap()
}

/// The child: `record <db> <state> <url>` starts a notifier, commits one failed health check,
/// prints `COMMITTED <id>` and waits to be killed; `drain <db> <state> <url>` starts a
/// notifier, waits until it is idle and prints `IDLE <delivered>`.
#[test]
fn child() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return; // run as a test of its own: nothing to do
    };
    let args: Vec<&str> = spec.split('\u{1f}').collect();
    let [mode, db, state, url] = args[..] else {
        panic!("bad child args {args:?}");
    };
    let store = std::sync::Arc::new(SqliteStore::open(db).unwrap());
    let notifier = notifier(store.clone(), Path::new(state), url);
    match mode {
        "record" => {
            let recorder = Recorder::new(store).unwrap();
            let event = Event::builder(EventType::custom("health_check").unwrap(), "probe::http")
                .status(EventStatus::Failed)
                .error(ErrorInfo::new("GET /healthz: 503"))
                .build()
                .unwrap();
            let id = event.id;
            recorder.record_sync(event).unwrap();
            println!("COMMITTED {id}");
            loop {
                std::thread::sleep(Duration::from_secs(1));
            }
        }
        "drain" => {
            notifier.wait_idle(Duration::from_secs(60)).unwrap();
            println!("IDLE {}", notifier.stats().delivered());
        }
        other => panic!("unknown child mode {other}"),
    }
}

#[test]
fn a_notification_committed_before_kill_9_is_delivered_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("history.db");
    let state = dir.path().join("notify.json");
    drop(SqliteStore::open(&db).unwrap());
    let receiver = Receiver::start(SECRET);
    receiver.refuse_next(u64::MAX); // nothing gets through while the children run
    let url = receiver.url();
    let args = |mode| {
        [
            mode,
            db.to_str().unwrap(),
            state.to_str().unwrap(),
            url.as_str(),
        ]
        .map(str::to_owned)
    };

    // 1. Killed right after the commit: the notifier may not have read the change yet.
    let a = args("record");
    let (child, lines) = spawn_child(&a.each_ref().map(String::as_str));
    let first: history::EventId = expect_line(&lines, "COMMITTED ").parse().unwrap();
    kill_9(child);

    // 2. Killed after the notifier has read the change, saved it and tried to deliver it.
    let (child, lines) = spawn_child(&a.each_ref().map(String::as_str));
    let second: history::EventId = expect_line(&lines, "COMMITTED ").parse().unwrap();
    let second_key = Notification::key_for("failed-health", second);
    receiver.wait_for(Duration::from_secs(60), "an attempt of the second", |s| {
        s.attempt_keys.contains(&second_key)
    });
    kill_9(child);
    assert!(receiver.seen.lock().unwrap().accepted.is_empty());

    // 3. The receiver works again; a new process on the same files delivers both.
    receiver.refuse_next(0);
    let d = args("drain");
    let (mut guard, lines) = spawn_child(&d.each_ref().map(String::as_str));
    expect_line(&lines, "IDLE ");
    let mut child = guard.0.take().unwrap();
    assert!(child.wait().unwrap().success());

    let seen = receiver.seen.lock().unwrap();
    let keys: Vec<&String> = seen.accepted.keys().collect();
    let mut expected = [
        Notification::key_for("failed-health", first),
        second_key.clone(),
    ];
    expected.sort();
    assert_eq!(keys, expected.iter().collect::<Vec<_>>(), "{seen:?}");
    assert_eq!(seen.bad_signatures, 0);
}
