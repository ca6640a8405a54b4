//! The server cuts the store's connections (`pg_terminate_backend`, as a restart or a
//! failover does) again and again during ingest through the recorder: nothing is lost and
//! nothing is written twice.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use history::{Event, EventStatus, EventType, HistoryStore, Query, Recorder};

const THREADS: usize = 4;
const PER_THREAD: usize = 5_000;

#[test]
fn terminating_the_stores_backends_during_ingest_loses_nothing() {
    if !common::server("server_cuts") {
        return;
    }
    let app = common::unique_schema("cut");
    let url = format!("{}?application_name={app}", common::url());
    let schema = common::unique_schema("cuts");
    let _drop = common::DropSchema(schema.clone());
    let spill = tempfile::tempdir().expect("temp dir");
    let store = history_postgres::PostgresStore::options()
        .schema(&schema)
        .spill_path(spill.path().join("spill"))
        .open(&url)
        .expect("open");
    let store = Arc::new(store);
    let recorder = Recorder::builder()
        .batch_size(256)
        .retry_backoff(Duration::from_millis(5), Duration::from_millis(200))
        .build_shared(store.clone())
        .expect("recorder");

    let stop = Arc::new(AtomicBool::new(false));
    let killer = {
        let stop = stop.clone();
        let app = app.clone();
        std::thread::spawn(move || {
            let mut admin = postgres::Client::connect(&common::url(), postgres::NoTls)
                .expect("admin connection");
            let mut cuts = 0u64;
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(250));
                let rows = admin
                    .query(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                         WHERE application_name = $1 AND pid <> pg_backend_pid()",
                        &[&app],
                    )
                    .expect("terminate");
                cuts += rows.len() as u64;
            }
            cuts
        })
    };
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let recorder = recorder.clone();
            s.spawn(move || {
                for i in 0..PER_THREAD {
                    let mut e = Event::new(EventType::ApiRequest, "api::get");
                    e.user_id = Some(((t * PER_THREAD + i) as i64 % 50).into());
                    recorder.record(e.clone()).expect("record");
                    e.finish(EventStatus::Success);
                    recorder.record(e).expect("record final");
                }
            });
        }
    });
    recorder.flush().expect("flush: nothing lost");
    stop.store(true, Ordering::Relaxed);
    let cuts = killer.join().expect("killer");
    assert!(cuts > 0, "the test cut no connection");
    // What went to the spill file while the cuts kept coming is replayed now.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while recorder.stats().spill_pending > 0 && std::time::Instant::now() < deadline {
        recorder.flush().expect("flush");
        std::thread::sleep(Duration::from_millis(100));
    }
    let n = (THREADS * PER_THREAD) as u64;
    assert_eq!(store.count(&Query::new()).unwrap(), n);
    assert_eq!(
        store
            .count(&Query::new().status(EventStatus::Success))
            .unwrap(),
        n,
        "every call's final record won"
    );
    let stats = recorder.stats();
    assert_eq!(stats.lost, 0, "{stats:?}");
    eprintln!("{cuts} connections cut; recorder: {stats:?}");
}
