//! Several processes with different host names write one history through their recorders at
//! once; one is killed with SIGKILL while calls are in progress. Every record of the others
//! is there exactly once, and the killed one's unfinished calls are marked `interrupted` —
//! exactly once, even with two stores recovering at the same moment.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use history::{Event, EventStatus, EventType, HistoryStore, Query, Recorder};
use history_postgres::PostgresStore;

const FINISHED: usize = 2_000;
const HANGING: usize = 25;

/// Run in a child process (see `writers_on_many_hosts_…`): records `FINISHED` calls (an
/// in-progress record, then the final one) as host `$HISTORY_TEST_HOST`; with
/// `$HISTORY_TEST_HANG`, then starts `HANGING` calls that never finish, says `READY` and
/// waits to be killed.
#[test]
fn child_writer() {
    let Ok(schema) = std::env::var("HISTORY_TEST_SCHEMA") else {
        return; // only as a child
    };
    let host = std::env::var("HISTORY_TEST_HOST").expect("host");
    let store = PostgresStore::options()
        .schema(&schema)
        .heartbeat(Duration::from_millis(200), Duration::from_millis(1_500))
        .open(&common::url())
        .expect("open");
    let recorder = Recorder::builder()
        .host(&host)
        .service("many-hosts-test")
        .build(store)
        .expect("recorder");
    for i in 0..FINISHED {
        let mut e = Event::new(EventType::VmCreate, "vm::create");
        e.user_id = Some((i as i64 % 17).into());
        recorder.record(e.clone()).expect("record");
        e.finish(if i % 10 == 0 {
            EventStatus::Failed
        } else {
            EventStatus::Success
        });
        recorder.record(e).expect("record final");
    }
    recorder.flush().expect("flush");
    if std::env::var("HISTORY_TEST_HANG").is_ok() {
        for _ in 0..HANGING {
            recorder
                .record(Event::new(EventType::TerraformApply, "tf::apply"))
                .expect("record");
        }
        recorder.flush().expect("flush");
        println!("READY");
        std::thread::sleep(Duration::from_secs(600));
    }
    recorder.shutdown().expect("shutdown");
    println!("DONE");
}

fn spawn(schema: &str, host: &str, hang: bool) -> std::process::Child {
    let mut cmd = Command::new(std::env::current_exe().expect("test binary"));
    cmd.args(["--exact", "child_writer", "--nocapture", "--test-threads=1"])
        .env("HISTORY_TEST_SCHEMA", schema)
        .env("HISTORY_TEST_HOST", host)
        .stdout(Stdio::piped());
    if hang {
        cmd.env("HISTORY_TEST_HANG", "1");
    }
    cmd.spawn().expect("spawn a writer")
}

fn wait_for_line(child: &mut std::process::Child, want: &str) {
    let out = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(out).lines();
    loop {
        match lines.next() {
            // With --nocapture, the test harness may print its own words before ours.
            Some(Ok(line)) if line.trim().ends_with(want) => return,
            Some(Ok(_)) => {}
            other => panic!("the child ended before saying {want}: {other:?}"),
        }
    }
}

#[test]
fn writers_on_many_hosts_exact_counts_and_the_killed_ones_calls_interrupted_once() {
    let Some(fixture) = common::store_with("many_hosts", |o| {
        o.heartbeat(Duration::from_millis(200), Duration::from_millis(1_500))
            .recover_on_open(false)
    }) else {
        return;
    };
    let store = &fixture.store;
    let schema = store.schema().to_owned();
    let hosts = ["host-a", "host-b", "host-c"];
    let mut done: Vec<_> = hosts[..2]
        .iter()
        .map(|h| spawn(&schema, h, false))
        .collect();
    let mut doomed = spawn(&schema, hosts[2], true);
    wait_for_line(&mut doomed, "READY");
    doomed.kill().expect("SIGKILL");
    let _ = doomed.wait();
    for child in &mut done {
        let status = child.wait().expect("wait");
        assert!(status.success(), "a writer failed: {status}");
    }

    for host in hosts {
        let finished = Query::new()
            .host(host)
            .status(EventStatus::Success)
            .status(EventStatus::Failed);
        assert_eq!(store.count(&finished).unwrap(), FINISHED as u64, "{host}");
        assert_eq!(
            store
                .count(&Query::new().host(host).status(EventStatus::Failed))
                .unwrap(),
            (FINISHED / 10) as u64
        );
    }
    let unfinished = Query::new().host(hosts[2]).status(EventStatus::InProgress);
    assert_eq!(store.count(&unfinished).unwrap(), HANGING as u64);

    // Two stores notice at once; together they mark each orphan once.
    let other = PostgresStore::options()
        .schema(&schema)
        .heartbeat(Duration::from_millis(200), Duration::from_millis(1_500))
        .recover_on_open(false)
        .open(&common::url())
        .expect("second store");
    std::thread::sleep(Duration::from_millis(1_700));
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| store.recover_interrupted().expect("recover"));
        let b = s.spawn(|| other.recover_interrupted().expect("recover"));
        (a.join().expect("a"), b.join().expect("b"))
    });
    // The background threads (at every heartbeat) may have marked some first.
    assert!(a + b <= HANGING as u64, "marked more than once: {a} + {b}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while store.count(&unfinished).unwrap() > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(store.count(&unfinished).unwrap(), 0);
    assert_eq!(
        store
            .count(&Query::new().host(hosts[2]).status(EventStatus::Interrupted))
            .unwrap(),
        HANGING as u64
    );
    assert_eq!(
        store
            .count(&Query::new().status(EventStatus::Interrupted))
            .unwrap(),
        HANGING as u64,
        "only the killed writer's calls"
    );
    // Each interrupted call says why, and its change is in the feed once.
    let page = store
        .query(&Query::new().host(hosts[2]).status(EventStatus::Interrupted))
        .unwrap();
    assert!(page.items.iter().all(|e| e.error.is_some()));
    assert_eq!(
        store.count(&Query::new()).unwrap(),
        (3 * FINISHED + HANGING) as u64
    );
}
