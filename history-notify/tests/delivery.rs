//! Delivery with real parts: a SQLite store written by a real recorder, the notifier following
//! its change feed, and a real HTTP receiver that refuses, goes down and comes back.

mod support;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use history::{ErrorInfo, Event, EventStatus, EventType, Filter, Recorder};
use history_notify::{
    Callback, Notification, NotificationKind, Notifier, Rule, Slack, StartFrom, Webhook,
};
use history_sqlite::SqliteStore;
use support::Receiver;

const SECRET: &str = "test shared secret";

fn failed_apply(n: u64) -> Event {
    Event::builder(EventType::TerraformApply, "infra::apply")
        .status(EventStatus::Failed)
        .user_id(n)
        .label("api_token", "tok-must-not-leave")
        .error(ErrorInfo::new(format!("apply {n} failed")))
        .build()
        .unwrap()
}

fn succeeded_apply(n: u64) -> Event {
    Event::builder(EventType::TerraformApply, "infra::apply")
        .status(EventStatus::Success)
        .user_id(n)
        .build()
        .unwrap()
}

fn failed_applies() -> Filter {
    Filter::new()
        .event_type(EventType::TerraformApply)
        .status(EventStatus::Failed)
}

fn open() -> (tempfile::TempDir, Arc<SqliteStore>, Recorder) {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path().join("history.db")).unwrap());
    let recorder = Recorder::new(store.clone()).unwrap();
    (dir, store, recorder)
}

#[test]
fn every_notification_arrives_through_refusals_and_an_outage_each_key_once() {
    let (dir, store, recorder) = open();
    let mut receiver = Receiver::start(SECRET);
    receiver.refuse_next(5);
    let notifier = Notifier::builder()
        .rule(
            Rule::each("failed-apply", failed_applies())
                .group_for(Duration::ZERO)
                .to(Webhook::new(&receiver.url()).unwrap().secret(SECRET)),
        )
        .state_file(dir.path().join("notify.json"))
        .backoff(Duration::from_millis(20), Duration::from_millis(200))
        .poll_interval(Duration::from_millis(20))
        .start(store.clone())
        .unwrap();

    let mut expected = BTreeSet::new();
    for n in 0..20 {
        let e = failed_apply(n);
        expected.insert(Notification::key_for("failed-apply", e.id));
        recorder.record(e).unwrap();
        recorder.record(succeeded_apply(n)).unwrap();
    }
    recorder.flush().unwrap();
    receiver.wait_for(Duration::from_secs(30), "the first deliveries", |s| {
        s.refused == 5 && !s.accepted.is_empty()
    });

    // The receiver goes down while more failures are committed, and comes back later.
    receiver.down();
    for n in 20..40 {
        let e = failed_apply(n);
        expected.insert(Notification::key_for("failed-apply", e.id));
        recorder.record(e).unwrap();
    }
    recorder.flush().unwrap();
    let retried_before = notifier.stats().rules["failed-apply"].retried;
    // Attempts against the closed port are counted as retries while the deliveries wait.
    // Polled, not slept for: on a loaded machine the first retry can take a while.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let stats = notifier.stats();
        if stats.pending() > 0 && stats.rules["failed-apply"].retried > retried_before {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no retry against the closed port within 30 s: {stats:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    receiver.up();
    notifier.wait_idle(Duration::from_secs(30)).unwrap();

    let seen = receiver.seen.lock().unwrap();
    let accepted: BTreeSet<String> = seen.accepted.keys().cloned().collect();
    assert_eq!(accepted, expected, "every notification, each key once");
    assert_eq!(seen.bad_signatures, 0);
    for body in seen.accepted.values() {
        assert_eq!(body["count"], 1);
        assert_eq!(body["event"]["status"], "failed");
        assert!(!body.to_string().contains("tok-must-not-leave"), "{body}");
    }
    let stats = notifier.shutdown().unwrap();
    let rule = &stats.rules["failed-apply"];
    assert_eq!(
        rule.delivered as usize,
        expected.len() + seen.duplicates as usize
    );
    assert_eq!(
        (rule.pending, rule.failed, rule.consecutive_failures),
        (0, 0, 0)
    );
    assert!(rule.retried >= 5, "{rule:?}");
}

#[test]
fn a_storm_is_grouped_into_one_message_per_interval_with_a_count() {
    let (_dir, store, recorder) = open();
    let got = Arc::new(Mutex::new(Vec::<Notification>::new()));
    let sink = got.clone();
    let notifier = Notifier::builder()
        .rule(
            Rule::each("failed-apply", failed_applies())
                .group_for(Duration::from_millis(400))
                .to(Callback::new(move |n| {
                    sink.lock().unwrap().push(n.clone());
                    Ok(())
                })),
        )
        .poll_interval(Duration::from_millis(10))
        .start(store.clone())
        .unwrap();
    for n in 0..50 {
        recorder.record(failed_apply(n)).unwrap();
    }
    recorder.flush().unwrap();
    notifier.wait_idle(Duration::from_secs(30)).unwrap();
    let got = got.lock().unwrap();
    let total: u64 = got.iter().map(|n| n.count).sum();
    assert_eq!(total, 50, "{got:#?}");
    assert!(
        got.len() <= 3,
        "a storm of 50 in one interval: {} messages",
        got.len()
    );
    let grouped = got.iter().find(|n| n.count > 1).unwrap();
    assert_eq!(grouped.grouped_ids.len() as u64, grouped.count - 1);
    assert!(grouped.summary.ends_with("more)"), "{}", grouped.summary);
    let stats = notifier.stats();
    assert_eq!(stats.rules["failed-apply"].matched, 50);
}

#[test]
fn window_rules_fire_once_when_they_cross_their_threshold() {
    let (_dir, store, recorder) = open();
    let got = Arc::new(Mutex::new(Vec::<Notification>::new()));
    let sink = got.clone();
    let channel = Callback::new(move |n| {
        sink.lock().unwrap().push(n.clone());
        Ok(())
    });
    let creates = Filter::new().event_type(EventType::VmCreate);
    let notifier = Notifier::builder()
        .rule(
            Rule::failure_rate(
                "flaky-creates",
                creates.clone(),
                0.3,
                Duration::from_secs(300),
            )
            .min_events(10)
            .to(channel.clone()),
        )
        .rule(
            Rule::p95_duration(
                "slow-creates",
                creates,
                Duration::from_secs(2),
                Duration::from_secs(300),
            )
            .min_events(10)
            .to(channel),
        )
        .poll_interval(Duration::from_millis(10))
        .start(store.clone())
        .unwrap();
    let create = |status, secs| {
        Event::builder(EventType::VmCreate, "vm::create")
            .status(status)
            .started_at(history::now() - chrono::Duration::seconds(secs as i64))
            .finished_at(history::now())
            .build()
            .unwrap()
    };
    // 10 quick successes: neither rule fires.
    for _ in 0..10 {
        recorder.record(create(EventStatus::Success, 1)).unwrap();
    }
    recorder.flush().unwrap();
    notifier.wait_idle(Duration::from_secs(30)).unwrap();
    assert!(got.lock().unwrap().is_empty());
    // 6 slow failures: 6/16 failed (above 30 %), and the p95 is one of the slow ones.
    for _ in 0..6 {
        recorder.record(create(EventStatus::Failed, 5)).unwrap();
    }
    recorder.flush().unwrap();
    notifier.wait_idle(Duration::from_secs(30)).unwrap();
    let got = got.lock().unwrap();
    let kinds: Vec<_> = got.iter().map(|n| (n.rule.as_str(), n.kind)).collect();
    assert_eq!(
        kinds.iter().filter(|(r, _)| *r == "flaky-creates").count(),
        1,
        "{kinds:?}"
    );
    let rate = got
        .iter()
        .find(|n| n.kind == NotificationKind::FailureRate)
        .unwrap();
    let w = rate.window.unwrap();
    assert!(w.observed > 0.3 && w.events >= 10, "{w:?}");
    let slow = got
        .iter()
        .find(|n| n.kind == NotificationKind::P95Duration)
        .unwrap();
    assert!(slow.window.unwrap().observed >= 5.0, "{slow:?}");
    assert_eq!(got.len(), 2, "{kinds:?}");
}

#[test]
fn a_rule_that_keeps_failing_is_visible_and_kept_until_retried() {
    let (_dir, store, recorder) = open();
    let healthy = Arc::new(Mutex::new(false));
    let h = healthy.clone();
    let notifier = Notifier::builder()
        .rule(
            Rule::each("failed-apply", failed_applies()).to(Callback::new(move |_| {
                if *h.lock().unwrap() {
                    Ok(())
                } else {
                    Err("pager is down".into())
                }
            })),
        )
        .backoff(Duration::from_millis(5), Duration::from_millis(20))
        .max_attempts(3)
        .poll_interval(Duration::from_millis(10))
        .start(store.clone())
        .unwrap();
    recorder.record(failed_apply(1)).unwrap();
    recorder.flush().unwrap();
    notifier.wait_idle(Duration::from_secs(30)).unwrap();
    let rule = notifier.stats().rules["failed-apply"].clone();
    assert_eq!(
        (rule.failed, rule.delivered, rule.pending),
        (1, 0, 0),
        "{rule:?}"
    );
    assert_eq!(rule.consecutive_failures, 3);
    assert_eq!(
        rule.last_error.as_deref(),
        Some("callback failed: pager is down")
    );

    *healthy.lock().unwrap() = true;
    notifier.retry_failed();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while notifier.stats().rules["failed-apply"].delivered == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "{:?}",
            notifier.stats()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let rule = notifier.stats().rules["failed-apply"].clone();
    assert_eq!(
        (rule.failed, rule.pending, rule.consecutive_failures),
        (0, 0, 0)
    );
}

#[test]
fn slack_channel_posts_escaped_text() {
    use axum::routing::post;
    let (_dir, store, recorder) = open();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let bodies = Arc::new(Mutex::new(Vec::<serde_json::Value>::new()));
    let b = bodies.clone();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().route(
        "/services/T0/B0/secret",
        post(
            move |axum::Json(v): axum::Json<serde_json::Value>| async move {
                b.lock().unwrap().push(v);
                "ok"
            },
        ),
    );
    rt.spawn(async move { axum::serve(listener, app).await.unwrap() });
    let notifier = Notifier::builder()
        .rule(
            Rule::each("failed-apply", failed_applies())
                .to(Slack::new(&format!("http://{addr}/services/T0/B0/secret")).unwrap()),
        )
        .start_from(StartFrom::Beginning)
        .poll_interval(Duration::from_millis(10))
        .start(store.clone())
        .unwrap();
    let mut e = failed_apply(1);
    e.error = Some(Box::new(ErrorInfo::new("<!channel> state lock & retry")));
    recorder.record(e).unwrap();
    recorder.flush().unwrap();
    notifier.wait_idle(Duration::from_secs(30)).unwrap();
    let bodies = bodies.lock().unwrap();
    let text = bodies[0]["text"].as_str().unwrap();
    assert!(
        text.contains("&lt;!channel&gt; state lock &amp; retry"),
        "{text}"
    );
    assert_eq!(bodies[0]["blocks"][0]["type"], "section");
}

#[test]
fn a_restart_resumes_where_the_last_run_stopped_without_repeats() {
    let (dir, store, recorder) = open();
    // Committed before any notifier ran: not notified (a notifier starts from now).
    recorder.record(failed_apply(100)).unwrap();
    recorder.flush().unwrap();
    let got = Arc::new(Mutex::new(Vec::<String>::new()));
    let start = || {
        let sink = got.clone();
        Notifier::builder()
            .rule(
                Rule::each("failed-apply", failed_applies())
                    .group_for(Duration::ZERO)
                    .to(Callback::new(move |n| {
                        sink.lock().unwrap().push(n.key.clone());
                        Ok(())
                    })),
            )
            .state_file(dir.path().join("notify.json"))
            .poll_interval(Duration::from_millis(10))
            .start(store.clone())
            .unwrap()
    };
    let mut expected = Vec::new();
    let notifier = start();
    for n in 0..3 {
        let e = failed_apply(n);
        expected.push(Notification::key_for("failed-apply", e.id));
        recorder.record(e).unwrap();
    }
    recorder.flush().unwrap();
    notifier.wait_idle(Duration::from_secs(30)).unwrap();
    notifier.shutdown().unwrap();
    // Committed while no notifier runs: notified by the next one.
    for n in 3..5 {
        let e = failed_apply(n);
        expected.push(Notification::key_for("failed-apply", e.id));
        recorder.record(e).unwrap();
    }
    recorder.flush().unwrap();
    let notifier = start();
    notifier.wait_idle(Duration::from_secs(30)).unwrap();
    assert_eq!(*got.lock().unwrap(), expected);
    assert_eq!(notifier.stats().delivered(), 2);
}

#[test]
fn a_receiver_that_never_answers_times_out_and_is_retried() {
    let (_dir, store, recorder) = open();
    // Accepts connections and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap();
    let held = std::thread::spawn(move || {
        let mut conns = Vec::new();
        for c in silent.incoming().take(2) {
            conns.push(c);
        }
        std::thread::sleep(Duration::from_secs(2));
    });
    let notifier = Notifier::builder()
        .rule(
            Rule::each("failed-apply", failed_applies()).to(Webhook::new(&format!(
                "http://{addr}/hook"
            ))
            .unwrap()
            .timeout(Duration::from_millis(200))
            .unwrap()),
        )
        .backoff(Duration::from_millis(10), Duration::from_millis(10))
        .poll_interval(Duration::from_millis(10))
        .start(store.clone())
        .unwrap();
    recorder.record(failed_apply(1)).unwrap();
    recorder.flush().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let rule = notifier.stats().rules["failed-apply"].clone();
        if rule.retried >= 2 {
            assert_eq!((rule.delivered, rule.pending), (0, 1));
            let error = rule.last_error.unwrap();
            assert!(
                error.contains("timed out") || error.contains("Timeout"),
                "{error}"
            );
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{rule:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(notifier);
    held.join().unwrap();
}

#[test]
fn wake_on_reads_the_feed_at_commit_instead_of_at_the_next_poll() {
    let (_dir, store, recorder) = open();
    let got = Arc::new(Mutex::new(0u64));
    let sink = got.clone();
    let notifier = Notifier::builder()
        .rule(
            Rule::each("failed-apply", failed_applies())
                .group_for(Duration::ZERO)
                .to(Callback::new(move |_| {
                    *sink.lock().unwrap() += 1;
                    Ok(())
                })),
        )
        .poll_interval(Duration::from_secs(3600))
        .wake_on(&recorder)
        .start(store.clone())
        .unwrap();
    for round in 0..3 {
        recorder.record(failed_apply(round)).unwrap();
        recorder.flush().unwrap();
        notifier.wait_idle(Duration::from_secs(20)).unwrap();
        assert_eq!(*got.lock().unwrap(), round + 1);
    }
    notifier.shutdown().unwrap();
}
