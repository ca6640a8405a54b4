//! The change feed of one SQLite file written by two processes at once, followed by a third
//! (this test): tokens rise strictly, every call reaches the follower in its final state, and
//! each process's calls arrive in the order they were recorded.

use std::collections::HashMap;
use std::process::{Command, Stdio};

use history::conformance::follow;
use history::{ChangeToken, EventStatus, HistoryStore, SubjectId};
use history_sqlite::SqliteStore;

const CALLS: u64 = 5_000;

#[test]
fn two_writer_processes_one_follower() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("history.db");
    let store = SqliteStore::open(&db).expect("open");
    let mut children: Vec<_> = [1, 2]
        .into_iter()
        .map(|tag| {
            Command::new(env!("CARGO_BIN_EXE_history_test_child"))
                .args(["calls", db.to_str().expect("utf-8 path")])
                .args([tag.to_string(), CALLS.to_string()])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn the child")
        })
        .collect();

    // Follow while they write, then once more after both have exited.
    let mut token = ChangeToken::START;
    let mut seen = Vec::new();
    let mut running = true;
    while running {
        running = children
            .iter_mut()
            .any(|c| c.try_wait().expect("try_wait").is_none());
        let (changes, next) = follow(&store, token, 97);
        if let (Some(last), Some(first)) = (seen.last(), changes.first()) {
            let last: &history::Change = last;
            assert!(first.token > last.token, "no repeats across polls");
        }
        token = next;
        seen.extend(changes);
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    for child in children {
        let out = child.wait_with_output().expect("wait");
        assert!(
            out.status.success(),
            "child failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let (rest, _) = follow(&store, token, 97);
    seen.extend(rest);

    // The last change of each call is its final record; each process's calls in order.
    let mut last = HashMap::new();
    for c in &seen {
        last.insert(c.event.id, c);
    }
    assert_eq!(
        last.len() as u64,
        2 * CALLS,
        "every call reached the follower"
    );
    let mut by_tag: HashMap<SubjectId, Vec<(u64, ChangeToken)>> = HashMap::new();
    for c in last.values() {
        assert_eq!(c.event.status, EventStatus::Success, "final state last");
        let n = match c.event.user_id {
            Some(SubjectId::Int(n)) => n as u64,
            ref other => panic!("unexpected user id {other:?}"),
        };
        let tag = c.event.organization_id.clone().expect("tagged");
        by_tag.entry(tag).or_default().push((n, c.token));
    }
    for (tag, mut calls) in by_tag {
        calls.sort();
        assert_eq!(calls.len() as u64, CALLS);
        assert!(
            calls.windows(2).all(|w| w[0].1 < w[1].1),
            "process {tag:?}: its calls reached the feed in the order it recorded them"
        );
    }
    assert_eq!(
        store.latest_change().expect("latest"),
        seen[seen.len() - 1].token
    );
}
