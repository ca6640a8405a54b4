//! What only the PostgreSQL store has: its own schema (versioned, refusing what is not its
//! own), time partitions dropped by retention, and a URL whose password never shows.

mod common;

use std::time::Duration;

use chrono::TimeZone;
use history::retention::Retention;
use history::{Event, EventStatus, EventType, Filter, HistoryStore, Query};
use history_postgres::{PostgresError, PostgresStore};

fn admin() -> postgres::Client {
    postgres::Client::connect(&common::url(), postgres::NoTls).expect("admin connection")
}

#[test]
fn a_schema_written_by_a_newer_version_is_refused_and_left_alone() {
    let Some(fixture) = common::store("newer") else {
        return;
    };
    let schema = fixture.store.schema().to_owned();
    let future = history_postgres::schema::SCHEMA_VERSION + 1;
    admin()
        .execute(
            &format!(
                "INSERT INTO \"{schema}\".schema_migrations (version, description) \
                 VALUES ($1, 'from the future')"
            ),
            &[&future],
        )
        .expect("pretend a newer version wrote it");
    let err = PostgresStore::options()
        .schema(&schema)
        .open(&common::url())
        .expect_err("a newer schema is refused");
    assert!(
        matches!(err, PostgresError::NewerSchema { found, .. } if found == future),
        "{err}"
    );
    assert!(err.to_string().contains("newer"), "{err}");
}

#[test]
fn a_schema_holding_another_applications_tables_is_refused() {
    if !common::server("foreign") {
        return;
    }
    let schema = common::unique_schema("foreign");
    let _drop = common::DropSchema(schema.clone());
    admin()
        .batch_execute(&format!(
            "CREATE SCHEMA \"{schema}\"; CREATE TABLE \"{schema}\".invoices (id int)"
        ))
        .expect("another application's schema");
    let err = PostgresStore::options()
        .schema(&schema)
        .open(&common::url())
        .expect_err("refused");
    assert!(err.to_string().contains("invoices"), "{err}");
    let tables: i64 = admin()
        .query_one(
            "SELECT count(*) FROM pg_tables WHERE schemaname = $1",
            &[&schema],
        )
        .expect("count")
        .get(0);
    assert_eq!(tables, 1, "nothing was added");
}

#[test]
fn the_password_of_the_url_never_shows_in_errors() {
    let url = "postgres://history:s3cr3t-pw@127.0.0.1:1/nowhere?connect_timeout=1";
    let err = PostgresStore::open(url).expect_err("nothing listens on port 1");
    let text = format!("{err} {err:?}");
    assert!(!text.contains("s3cr3t-pw"), "{text}");
    assert!(
        err.is_transient(),
        "an unreachable server is worth retrying"
    );
    let bad = PostgresStore::open("postgres://history:s3cr3t-pw@[::1").expect_err("bad url");
    assert!(!format!("{bad} {bad:?}").contains("s3cr3t-pw"));
    let schema = PostgresStore::options().schema("Robert'); DROP TABLE x;--");
    assert!(schema.open(url).is_err());
}

fn day(d: u32) -> chrono::DateTime<chrono::Utc> {
    chrono::Utc
        .with_ymd_and_hms(2025, 3, d, 12, 0, 0)
        .single()
        .expect("a date")
}

#[test]
fn retention_drops_whole_partitions_and_deletes_the_boundary_rows() {
    let Some(fixture) = common::store("retention_partitions") else {
        return;
    };
    let store = &fixture.store;
    // Ten days, twenty events each, daily partitions.
    let events: Vec<Event> = (1..=10u32)
        .flat_map(|d| {
            (0..20i64).map(move |i| {
                let mut e = Event::new(EventType::VmStart, "vm::start");
                e.started_at = day(d) + chrono::Duration::minutes(i);
                e.status = EventStatus::Success;
                e
            })
        })
        .collect();
    store.write_batch(&events).unwrap();
    let partitions = |store: &PostgresStore| -> i64 {
        admin()
            .query_one(
                "SELECT count(*) FROM pg_tables WHERE schemaname = $1 \
                 AND tablename LIKE 'events_p2025%'",
                &[&store.schema()],
            )
            .unwrap()
            .get(0)
    };
    assert_eq!(partitions(store), 10);
    // Up to day 5, 12:10: days 1-4 whole, ten rows of day 5.
    let cut = day(5) + chrono::Duration::minutes(10);
    let dry = store.purge(&Retention::before(cut).dry_run()).unwrap();
    assert_eq!((dry.deleted, dry.dry_run), (90, true));
    assert_eq!(partitions(store), 10, "a dry run drops nothing");
    let report = store.purge(&Retention::before(cut)).unwrap();
    assert_eq!(report.deleted, 90);
    assert_eq!(report.oldest, Some(day(1)));
    assert_eq!(report.newest, Some(day(5) + chrono::Duration::minutes(9)));
    assert_eq!(partitions(store), 6, "days 1 to 4 dropped whole");
    assert_eq!(store.count(&Filter::new()).unwrap(), 110);
    assert_eq!(store.count(&Filter::new().until(cut)).unwrap(), 0);
    // A policy with more than time deletes rows, partitions stay.
    let more = Retention::matching(Filter::new().until(day(7)).event_type(EventType::VmStart));
    assert_eq!(store.purge(&more).unwrap().deleted, 30);
    assert_eq!(partitions(store), 6);
    // Writing into a dropped day again recreates its partition.
    let mut back = Event::new(EventType::VmStart, "vm::start");
    back.started_at = day(2);
    store.write_batch(&[back]).unwrap();
    assert_eq!(store.count(&Filter::new().until(cut)).unwrap(), 1);
}

#[test]
fn host_filter_and_newest_page_use_indexes() {
    let Some(fixture) = common::store("plans") else {
        return;
    };
    let store = &fixture.store;
    let plan = store
        .explain(&Query::new().host("api-3").limit(50))
        .unwrap()
        .join("\n");
    assert!(
        plan.contains("events_by_host") || plan.contains("host"),
        "{plan}"
    );
    let plan = store.explain(&Query::new().limit(50)).unwrap().join("\n");
    assert!(plan.contains("Index"), "{plan}");
}

#[test]
fn a_follower_in_another_store_is_woken_by_a_commit() {
    let Some(fixture) = common::store("follow") else {
        return;
    };
    let writer = &fixture.store;
    let follower = PostgresStore::options()
        .schema(writer.schema())
        .open(&common::url())
        .expect("a second store");
    let from = follower.latest_change().unwrap();
    assert!(!follower
        .wait_for_change(from, Duration::from_millis(200))
        .unwrap());
    let e = Event::new(EventType::ApiRequest, "api::get");
    std::thread::scope(|s| {
        let waiting = s.spawn(|| follower.wait_for_change(from, Duration::from_secs(20)));
        std::thread::sleep(Duration::from_millis(300));
        writer.write_batch(std::slice::from_ref(&e)).unwrap();
        assert!(waiting.join().unwrap().unwrap(), "woken");
    });
    let page = follower.changes_after(from, 10).unwrap();
    assert_eq!(page.changes.len(), 1);
    assert_eq!(page.changes[0].event.id, e.id);
}

#[test]
fn concurrent_writers_number_changes_in_commit_order() {
    let Some(fixture) = common::store("commit_order") else {
        return;
    };
    let url = common::url();
    let stores: Vec<PostgresStore> = (0..3)
        .map(|_| {
            PostgresStore::options()
                .schema(fixture.store.schema())
                .open(&url)
                .expect("a writer")
        })
        .collect();
    let reader = &fixture.store;
    let stop = std::sync::atomic::AtomicBool::new(false);
    let seen = std::thread::scope(|s| {
        for (w, store) in stores.iter().enumerate() {
            let stop = &stop;
            s.spawn(move || {
                let mut n = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) && n < 60 {
                    let batch: Vec<Event> = (0..50)
                        .map(|_| {
                            let mut e = Event::new(EventType::ApiRequest, "api::get");
                            e.host = Some(format!("w{w}"));
                            e
                        })
                        .collect();
                    store.write_batch(&batch).expect("write");
                    n += 1;
                }
            });
        }
        // A follower reading while they write never sees a number below one it has seen:
        // every change it reads later has a larger token, and it misses none.
        let follower = s.spawn(|| {
            let mut after = history::ChangeToken::START;
            let mut seen = std::collections::HashSet::new();
            let deadline = std::time::Instant::now() + Duration::from_secs(60);
            while seen.len() < 3 * 60 * 50 && std::time::Instant::now() < deadline {
                let page = reader.changes_after(after, 500).expect("changes");
                for c in &page.changes {
                    assert!(c.token > after, "tokens rise");
                    assert!(seen.insert(c.event.id), "each event once");
                    after = c.token;
                }
                if page.changes.is_empty() {
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
            seen.len()
        });
        let n = follower.join().expect("follower");
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        n
    });
    assert_eq!(seen, 3 * 60 * 50, "the follower missed none");
}
