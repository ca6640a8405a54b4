//! Crash recovery with real processes: events left unfinished by a process that died are
//! marked interrupted; events a live writer is still working on are left alone.

use std::process::{Command, Stdio};
use std::time::Duration;

use history::{Event, EventStatus, EventType, HistoryStore, Query};
use history_sqlite::SqliteStore;

const CHILD: &str = "HISTORY_TEST_RECOVERY_CHILD";

fn unfinished(op: &str) -> Event {
    Event::new(EventType::TerraformApply, op)
}

/// Not a test on its own: the body of the child process the tests below start. It writes
/// unfinished events and dies without closing its store.
#[test]
fn child_process_that_dies_mid_operation() {
    let Ok(path) = std::env::var(CHILD) else {
        return;
    };
    let store = SqliteStore::open(&path).unwrap();
    let mut done = Event::new(EventType::VmStart, "child::done");
    done.finish(EventStatus::Success);
    let batch = [unfinished("child::a"), unfinished("child::b"), done];
    store.write_batch(&batch).unwrap();
    std::process::abort();
}

fn run_dying_child(path: &std::path::Path) {
    let status = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_process_that_dies_mid_operation",
            "--test-threads=1",
        ])
        .env(CHILD, path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(!status.success(), "the child should have aborted");
}

fn statuses(store: &SqliteStore, op: &str) -> Vec<EventStatus> {
    let page = store.query(&Query::new().operation(op)).unwrap();
    page.items.iter().map(|e| e.status).collect()
}

#[test]
fn a_dead_processs_events_are_interrupted_a_live_ones_are_not() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.db");
    let live = SqliteStore::open(&path).unwrap();
    let mine = unfinished("parent::running");
    live.write_batch(std::slice::from_ref(&mine)).unwrap();

    run_dying_child(&path);
    assert_eq!(statuses(&live, "child::a"), [EventStatus::InProgress]);
    let before = live.latest_change().unwrap();

    assert_eq!(live.recover_interrupted().unwrap(), 2);
    // Marking them is a change of each: a follower of the feed sees them interrupted.
    let (changes, _) = history::conformance::follow(&live, before, 10);
    let mut ops: Vec<(&str, EventStatus)> = changes
        .iter()
        .map(|c| (&*c.event.operation, c.event.status))
        .collect();
    ops.sort();
    assert_eq!(
        ops,
        [
            ("child::a", EventStatus::Interrupted),
            ("child::b", EventStatus::Interrupted)
        ]
    );
    assert_eq!(statuses(&live, "child::a"), [EventStatus::Interrupted]);
    assert_eq!(statuses(&live, "child::b"), [EventStatus::Interrupted]);
    assert_eq!(statuses(&live, "child::done"), [EventStatus::Success]);
    assert_eq!(
        statuses(&live, "parent::running"),
        [EventStatus::InProgress]
    );
    let a = &live
        .query(&Query::new().operation("child::a"))
        .unwrap()
        .items[0];
    assert_eq!(
        a.error.as_ref().unwrap().kind.as_deref(),
        Some("interrupted")
    );

    // Another live process (a second store here) does not recover the parent's event.
    let other = SqliteStore::options()
        .recover_on_open(true)
        .open(&path)
        .unwrap();
    assert_eq!(other.recover_interrupted().unwrap(), 0);
    assert_eq!(
        statuses(&other, "parent::running"),
        [EventStatus::InProgress]
    );

    // Once the parent's store closes, its unfinished event is recoverable.
    drop(live);
    assert_eq!(other.recover_interrupted().unwrap(), 1);
    assert_eq!(
        statuses(&other, "parent::running"),
        [EventStatus::Interrupted]
    );
}

#[test]
fn a_writer_on_another_host_is_dead_only_once_its_heartbeat_is_stale() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.db");
    let store = SqliteStore::options()
        .stale_after(Duration::from_secs(60))
        .open(&path)
        .unwrap();
    let fresh = unfinished("remote::fresh");
    let stale = unfinished("remote::stale");
    store.write_batch(&[fresh.clone(), stale.clone()]).unwrap();
    let now = history::now().timestamp_micros();
    let conn = rusqlite::Connection::open(&path).unwrap();
    for (owner, heartbeat, event) in [(1u8, now, &fresh), (2u8, now - 120_000_000, &stale)] {
        let id = [owner; 16];
        conn.execute(
            "INSERT INTO owners (id, pid, host, opened_at, heartbeat_at) VALUES (?1, 1, 'elsewhere', ?2, ?2)",
            rusqlite::params![&id[..], heartbeat],
        )
        .unwrap();
        conn.execute(
            "UPDATE events SET owner = ?1 WHERE id = ?2",
            rusqlite::params![&id[..], &event.id.as_bytes()[..]],
        )
        .unwrap();
    }
    assert_eq!(store.recover_interrupted().unwrap(), 1);
    assert_eq!(
        statuses(&store, "remote::stale"),
        [EventStatus::Interrupted]
    );
    assert_eq!(statuses(&store, "remote::fresh"), [EventStatus::InProgress]);
}

#[test]
fn the_heartbeat_keeps_a_live_store_fresh() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.db");
    let store = SqliteStore::options()
        .heartbeat(Duration::from_millis(20))
        .open(&path)
        .unwrap();
    let read = || -> i64 {
        rusqlite::Connection::open(&path)
            .unwrap()
            .query_row("SELECT max(heartbeat_at) FROM owners", [], |r| r.get(0))
            .unwrap()
    };
    let first = read();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while read() == first {
        assert!(std::time::Instant::now() < deadline, "no heartbeat");
        std::thread::sleep(Duration::from_millis(10));
    }
    drop(store);
    let left: i64 = rusqlite::Connection::open(&path)
        .unwrap()
        .query_row("SELECT count(*) FROM owners", [], |r| r.get(0))
        .unwrap();
    assert_eq!(left, 0, "a closed store unregisters");
}
