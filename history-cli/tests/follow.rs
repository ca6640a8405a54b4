//! `tail` and `list --follow`: a running `historyctl` prints what another process commits,
//! in-progress and final records apart.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::*;
use history::{Event, EventStatus, EventType, HistoryStore};
use history_sqlite::SqliteStore;
use serde_json::Value;

/// A running `historyctl`, killed when dropped (also when a test fails).
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `historyctl args` and hands its stdout lines over a channel.
fn spawn(dir: &std::path::Path, args: &[&str]) -> (Running, mpsc::Receiver<String>) {
    let mut child = historyctl(dir)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn historyctl");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    (Running(child), rx)
}

fn next(rx: &mpsc::Receiver<String>) -> String {
    rx.recv_timeout(Duration::from_secs(20))
        .expect("historyctl printed nothing within 20 s")
}

fn stop(child: Running) {
    drop(child);
}

/// Writes probe events of type `vm_stop` until the follower prints one: from then on it is
/// surely following (a loaded machine may take a while to start it).
fn wait_until_following(writer: &SqliteStore, rx: &mpsc::Receiver<String>) {
    for _ in 0..100 {
        let probe = Event::builder(EventType::VmStop, "probe")
            .status(EventStatus::Success)
            .build()
            .unwrap();
        writer.write_batch(&[probe]).unwrap();
        if rx.recv_timeout(Duration::from_millis(300)).is_ok() {
            // Drain the other probes it may print.
            while rx.recv_timeout(Duration::from_millis(300)).is_ok() {}
            return;
        }
    }
    panic!("historyctl did not start following within 30 s");
}

#[test]
fn tail_prints_what_another_process_commits_in_progress_then_final() {
    let dir = tempfile::tempdir().unwrap();
    let db = fixture(dir.path());
    let (child, rx) = spawn(dir.path(), &["tail", "--poll", "20ms", "--type", "vm_stop"]);
    let writer = SqliteStore::open(&db).unwrap();
    wait_until_following(&writer, &rx);
    let mut e = Event::builder(EventType::VmStop, "vm::stop")
        .user_id(5)
        .build()
        .unwrap();
    writer.write_batch(std::slice::from_ref(&e)).unwrap();
    // Another type: filtered out.
    writer
        .write_batch(&[Event::new(EventType::VmStart, "vm::start")])
        .unwrap();
    // The in-progress record is shown once the follower has read it; a record replaced
    // before it is read is shown only in its newer state.
    let first: Value = serde_json::from_str(&next(&rx)).unwrap();
    e.finish(EventStatus::Success);
    writer.write_batch(std::slice::from_ref(&e)).unwrap();
    let second: Value = serde_json::from_str(&next(&rx)).unwrap();
    stop(child);
    assert_eq!(first["id"], e.id.to_string());
    assert_eq!(first["status"], "in_progress");
    assert_eq!(second["id"], e.id.to_string());
    assert_eq!(second["status"], "success");
}

#[test]
fn tail_as_a_table_marks_started_and_finished_and_from_start_replays() {
    let dir = tempfile::tempdir().unwrap();
    fixture(dir.path());
    let (child, rx) = spawn(dir.path(), &["tail", "--from-start", "-o", "table"]);
    let lines: Vec<String> = (0..5).map(|_| next(&rx)).collect();
    stop(child);
    let started = lines.iter().filter(|l| l.contains("▶ started")).count();
    let finished = lines.iter().filter(|l| l.contains("■ finished")).count();
    assert_eq!((started, finished), (1, 4), "{lines:#?}");
    for l in &lines {
        for s in SECRETS {
            assert!(!l.contains(s), "{l}");
        }
    }
}

#[test]
fn list_follow_prints_the_page_then_new_events() {
    let dir = tempfile::tempdir().unwrap();
    let db = fixture(dir.path());
    let (child, rx) = spawn(dir.path(), &["list", "--follow", "--status", "failed"]);
    let page: Value = serde_json::from_str(&next(&rx)).unwrap();
    assert_eq!(page["id"], CREATE_DB);
    let writer = SqliteStore::open(&db).unwrap();
    let failed = Event::builder(EventType::VmCreate, "vm::create")
        .status(EventStatus::Failed)
        .build()
        .unwrap();
    writer.write_batch(std::slice::from_ref(&failed)).unwrap();
    let new: Value = serde_json::from_str(&next(&rx)).unwrap();
    stop(child);
    assert_eq!(new["id"], failed.id.to_string());
}
