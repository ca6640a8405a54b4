//! A child process for the reliability tests (`tests/reliability_*.rs`): records events into
//! a SQLite file the way a service would, so the tests can kill it or run several at once.
//!
//! - `crash <db> <round>`: records calls (an in-progress and a final record each) tagged with
//!   `organization_id = round`, flushing every 100 calls and printing `ACK <calls>` once they
//!   are durable; first it starts one call that never finishes (printed as `LONG <id>`). Runs
//!   until killed.
//! - `load <db> <tag> <count>`: records `count` finished events tagged with
//!   `organization_id = tag`, flushes, and prints `OK <stats>` (exit code 1 on any error).
//! - `calls <db> <tag> <count>`: like `load`, but each call is recorded as it runs: an
//!   in-progress record, then its final one (`user_id` = the call's number).

use std::io::Write;
use std::process::ExitCode;

use history::{Event, EventStatus, EventType, Recorder};
use history_sqlite::SqliteStore;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["crash", db, round] => crash(db, round),
        ["load", db, tag, count] => load(db, tag, count, false),
        ["calls", db, tag, count] => load(db, tag, count, true),
        _ => Err(
            "usage: history_test_child crash <db> <round> | load|calls <db> <tag> <count>".into(),
        ),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("history_test_child: {e}");
            ExitCode::FAILURE
        }
    }
}

type Res = Result<(), Box<dyn std::error::Error>>;

fn tagged(tag: i64, n: u64) -> Event {
    let mut e = Event::new(EventType::VmStart, "history_test_child::op");
    e.organization_id = Some(tag.into());
    e.user_id = Some(n.into());
    e
}

fn crash(db: &str, round: &str) -> Res {
    let round: i64 = round.parse()?;
    let recorder = Recorder::builder()
        .flush_interval(std::time::Duration::from_millis(5))
        .build(SqliteStore::open(db)?)?;
    let mut out = std::io::stdout().lock();
    let long = tagged(round, u64::MAX / 2);
    recorder.record(long.clone())?;
    recorder.flush()?;
    writeln!(out, "LONG {}", long.id)?;
    out.flush()?;
    let mut n = 0u64;
    loop {
        let mut e = tagged(round, n);
        recorder.record(e.clone())?;
        e.finish(EventStatus::Success);
        recorder.record(e)?;
        n += 1;
        if n.is_multiple_of(100) {
            recorder.flush()?;
            writeln!(out, "ACK {n}")?;
            out.flush()?;
        }
    }
}

fn load(db: &str, tag: &str, count: &str, in_progress_first: bool) -> Res {
    let tag: i64 = tag.parse()?;
    let count: u64 = count.parse()?;
    let recorder = Recorder::new(SqliteStore::open(db)?)?;
    for n in 0..count {
        let mut e = tagged(tag, n);
        if in_progress_first {
            recorder.record(e.clone())?;
        }
        e.finish(EventStatus::Success);
        recorder.record(e)?;
    }
    recorder.flush()?;
    let stats = recorder.stats();
    // An in-progress record still queued when its final one came is merged with it.
    let written_ok = if in_progress_first {
        stats.written >= count
    } else {
        stats.written == count
    };
    if stats.lost > 0 || !written_ok {
        return Err(format!("not everything was written: {stats:?}").into());
    }
    println!("OK {stats:?}");
    Ok(())
}
