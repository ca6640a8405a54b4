//! kill -9 (issue 6, item 7): a child process records events and prints how many it has
//! flushed; the test kills it with SIGKILL at random moments, several rounds on one file, then
//! reopens the database: every acknowledged event is there and the file is intact.

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use history::{Event, EventId, EventStatus, HistoryStore, Query};
use history_sqlite::SqliteStore;

/// Every event matching `query`, page by page.
fn all(store: &SqliteStore, query: Query) -> Vec<Event> {
    let mut out = Vec::new();
    let mut q = query.limit(10_000);
    loop {
        let page = store.query(&q).unwrap();
        out.extend(page.items);
        match page.next_cursor {
            Some(c) => q = q.after(c),
            None => return out,
        }
    }
}

fn integrity_check(db: &Path) -> String {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.query_row("PRAGMA integrity_check", [], |r| r.get::<_, String>(0))
        .unwrap()
}

/// A small xorshift, seeded from the clock (printed, so a failing run can be repeated).
struct Rng(u64);
impl Rng {
    fn next(&mut self, below: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % below
    }
}

struct Round {
    acked: u64,
    long: Option<EventId>,
}

/// Runs one child until a random moment, kills it with SIGKILL, and returns what it
/// acknowledged.
fn run_and_kill(db: &Path, round: i64, after: Duration) -> Round {
    let mut child = Command::new(env!("CARGO_BIN_EXE_history_test_child"))
        .args(["crash", db.to_str().unwrap(), &round.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut round = Round {
            acked: 0,
            long: None,
        };
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(n) = line.strip_prefix("ACK ") {
                round.acked = n.parse().unwrap();
            } else if let Some(id) = line.strip_prefix("LONG ") {
                round.long = Some(id.parse().unwrap());
            }
        }
        round
    });
    std::thread::sleep(after);
    child.kill().unwrap(); // SIGKILL on Unix
    let status = child.wait().unwrap();
    assert!(!status.success(), "the child should have been killed");
    reader.join().unwrap()
}

#[test]
fn kill_9_at_random_moments_loses_no_acknowledged_event() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("history.db");
    drop(SqliteStore::open(&db).unwrap());
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    eprintln!("seed {seed}");
    let mut rng = Rng(seed);
    let started = Instant::now();
    let mut rounds = Vec::new();
    for round in 1..=5i64 {
        let after = Duration::from_millis(50 + rng.next(400));
        let r = run_and_kill(&db, round, after);
        eprintln!(
            "round {round}: killed after {after:?}, {} calls acknowledged",
            r.acked
        );
        rounds.push((round, r));
    }
    assert!(
        rounds.iter().any(|(_, r)| r.acked > 0),
        "no round got as far as a flush in {:?}",
        started.elapsed()
    );

    assert_eq!(integrity_check(&db), "ok");
    let store = SqliteStore::open(&db).unwrap();
    assert_eq!(integrity_check(&db), "ok");
    // Each round's never-finished call is orphaned: recovery marks it interrupted.
    let orphans = rounds.iter().filter(|(_, r)| r.long.is_some()).count() as u64;
    assert!(store.recover_interrupted().unwrap() >= orphans);
    for (round, r) in &rounds {
        let events = all(&store, Query::new().organization_id(*round));
        let present: HashSet<i64> = events
            .iter()
            .filter_map(|e| e.user_id.as_ref().and_then(|u| u.as_int()))
            .collect();
        let missing: Vec<u64> = (0..r.acked)
            .filter(|n| !present.contains(&(*n as i64)))
            .collect();
        assert!(
            missing.is_empty(),
            "round {round}: {} of {} acknowledged calls missing (first {:?})",
            missing.len(),
            r.acked,
            missing.first()
        );
        // Acknowledged calls were recorded finished.
        for e in &events {
            let n = e.user_id.as_ref().and_then(|u| u.as_int()).unwrap();
            if (n as u64) < r.acked {
                assert_eq!(e.status, EventStatus::Success, "round {round} call {n}");
            }
        }
        if let Some(long) = r.long {
            assert!(
                store.get(long).unwrap().is_some(),
                "round {round}: LONG lost"
            );
        }
    }
}
