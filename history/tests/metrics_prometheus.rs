//! The recorder's metrics through a real Prometheus exporter: its HTTP listener on a free
//! local port, scraped over HTTP, the exposition text parsed.
#![cfg(feature = "metrics")]

use std::collections::BTreeMap;
use std::time::Duration;

use history::{Event, EventStatus, EventType, MemoryStore, Recorder};
use metrics_exporter_prometheus::PrometheusBuilder;

/// One sample of the exposition text: its name, labels and value.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// Parses the Prometheus text format (the subset the exporter writes: no escapes inside label
/// values are needed here, no timestamps).
fn parse(text: &str) -> Vec<Sample> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect("`series value`");
        let value: f64 = value.parse().expect("a number");
        let (name, labels) = match series.split_once('{') {
            None => (series.to_owned(), BTreeMap::new()),
            Some((name, rest)) => {
                let body = rest.strip_suffix('}').expect("closing brace");
                let labels = body
                    .split(',')
                    .filter(|p| !p.is_empty())
                    .map(|pair| {
                        let (k, v) = pair.split_once('=').expect("label=value");
                        (k.to_owned(), v.trim_matches('"').to_owned())
                    })
                    .collect();
                (name.to_owned(), labels)
            }
        };
        out.push(Sample {
            name,
            labels,
            value,
        });
    }
    out
}

fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples
        .iter()
        .find(|s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|s| s.value)
}

fn finished(t: EventType, status: EventStatus, millis: u64) -> Event {
    let mut e = Event::new(t, "metrics::op");
    e.status = status;
    e.finished_at = Some(e.started_at + chrono::Duration::milliseconds(millis as i64));
    e.duration = Some(Duration::from_millis(millis));
    e
}

#[test]
fn a_scrape_of_the_real_endpoint_shows_events_and_recorder_health() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    PrometheusBuilder::new()
        .with_http_listener(addr)
        .install()
        .expect("install the exporter");

    let recorder = Recorder::builder()
        .flush_interval(Duration::from_secs(5))
        .build(MemoryStore::new())
        .expect("recorder");
    for ms in [10, 20, 30] {
        recorder
            .record(finished(EventType::VmCreate, EventStatus::Success, ms))
            .expect("record");
    }
    let failed = finished(EventType::ApiRequest, EventStatus::Failed, 5);
    recorder.record(failed.clone()).expect("record");
    recorder
        .record(failed.clone())
        .expect("the same record again");
    // Another vm_create after the api_request in the same batch: counted with the others.
    recorder
        .record(finished(EventType::VmCreate, EventStatus::Failed, 40))
        .expect("record");
    recorder.flush().expect("flush");
    // A sink on the change feed that could not deliver two records says so.
    recorder.sink_loss_counter().add(2);
    let running = Event::new(EventType::TerraformApply, "metrics::long");
    recorder.record(running.clone()).expect("record");
    recorder.flush().expect("flush");

    let url = format!("http://{addr}/metrics");
    let mut text = String::new();
    // The listener starts on its own thread: give it a moment.
    for _ in 0..100 {
        match ureq::get(&url).call() {
            Ok(mut response) => {
                text = response.body_mut().read_to_string().expect("body");
                break;
            }
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
    assert!(!text.is_empty(), "the endpoint answered");
    let samples = parse(&text);

    let total = |t: &str, s: &str| {
        value(
            &samples,
            "history_events_total",
            &[("event_type", t), ("status", s)],
        )
    };
    assert_eq!(total("vm_create", "success"), Some(3.0), "{text}");
    assert_eq!(total("vm_create", "failed"), Some(1.0), "{text}");
    assert_eq!(total("api_request", "failed"), Some(1.0), "{text}");
    assert_eq!(total("terraform_apply", "in_progress"), Some(1.0), "{text}");
    let count = value(
        &samples,
        "history_event_duration_seconds_count",
        &[("event_type", "vm_create")],
    );
    assert_eq!(count, Some(4.0), "{text}");
    let sum = value(
        &samples,
        "history_event_duration_seconds_sum",
        &[("event_type", "vm_create")],
    )
    .expect("a sum");
    assert!((sum - 0.1).abs() < 1e-9, "10 + 20 + 30 + 40 ms: {sum}");

    let health = |name: &str| value(&samples, name, &[]);
    assert_eq!(health("history_recorder_events_written_total"), Some(6.0));
    assert_eq!(health("history_recorder_events_duplicate_total"), Some(1.0));
    assert_eq!(health("history_recorder_events_dropped_total"), Some(0.0));
    assert_eq!(health("history_recorder_events_lost_total"), Some(0.0));
    assert_eq!(health("history_recorder_events_spilled_total"), Some(0.0));
    assert_eq!(health("history_recorder_events_replayed_total"), Some(0.0));
    assert_eq!(health("history_recorder_store_errors_total"), Some(0.0));
    assert_eq!(health("history_recorder_sink_lost_total"), Some(2.0));
    assert_eq!(
        health("history_recorder_queue_depth"),
        Some(1.0),
        "last batch: 1"
    );
    assert!(health("history_recorder_commit_seconds_count").is_some_and(|n| n >= 2.0));

    // No ids as labels: only the two label names, and no id anywhere in the text.
    for s in &samples {
        for k in s.labels.keys() {
            assert!(
                ["event_type", "status", "quantile", "le"].contains(&k.as_str()),
                "label {k} on {}",
                s.name
            );
        }
    }
    for id in [failed.id, running.id] {
        assert!(!text.contains(&id.to_string()));
    }
    assert_eq!(recorder.stats().duplicates, 1);
}
