//! The exporter against a real OTLP/HTTP receiver on 127.0.0.1 that decodes what it gets with
//! the official protobuf definitions.

mod support;

use std::time::Duration;

use history::redact::RedactionPolicy;
use history::{ErrorInfo, Event, EventStatus, EventType, Filter, MemoryStore, Recorder};
use history_otlp::{OtlpError, OtlpExporter};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::logs::v1::SeverityNumber;
use support::{free_port, wait_until, Mode, Receiver};

fn recorder() -> Recorder {
    Recorder::builder()
        .service("billing-api")
        .host("web-1")
        .build(MemoryStore::new())
        .expect("recorder")
}

fn finished(t: EventType, op: &str, status: EventStatus) -> Event {
    let mut e = Event::new(t, op);
    e.finish(status);
    e
}

/// Quick retries, so the tests do not wait for the default backoff.
fn quick(endpoint: String) -> history_otlp::OtlpExporterBuilder {
    OtlpExporter::builder(endpoint)
        .max_delay(Duration::from_millis(20))
        .backoff(Duration::from_millis(10), Duration::from_millis(50))
}

#[test]
fn every_final_record_arrives_with_its_name_severity_attributes_and_resource() {
    let receiver = Receiver::start();
    let recorder = recorder();
    let exporter = quick(receiver.endpoint()).start(&recorder).expect("start");

    let mut created = Event::builder(EventType::VmCreate, "vm::create")
        .user_id(7)
        .vm_id("vm-42")
        .label("region", "eu-west-1")
        .parameters(&serde_json::json!({"name": "web", "size": 2}))
        .expect("parameters")
        .build()
        .expect("event");
    // Its in-progress record first: only the final one is exported.
    recorder.record(created.clone()).expect("record");
    recorder.flush().expect("flush");
    created.result = Some(history::Json::parse(r#"{"instance":"i-1"}"#).expect("json"));
    created.finish(EventStatus::Success);
    recorder.record(created.clone()).expect("record");

    let (trace, span) = history::event::parse_traceparent(
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    )
    .expect("a traceparent");
    let mut failed = finished(EventType::VmDelete, "vm::delete", EventStatus::Failed);
    failed.external_trace_id = Some(trace);
    failed.external_span_id = Some(span);
    failed.error = Some(Box::new(ErrorInfo::new("disk busy").with_kind("io")));
    recorder.record(failed.clone()).expect("record");
    let cancelled = finished(EventType::VmStart, "vm::start", EventStatus::Cancelled);
    recorder.record(cancelled.clone()).expect("record");
    let mut elsewhere = finished(EventType::VmStop, "vm::stop", EventStatus::Success);
    elsewhere.service = Some("worker".into());
    elsewhere.host = Some("batch-3".into());
    recorder.record(elsewhere.clone()).expect("record");
    recorder.flush().expect("flush");

    let got = receiver.wait_for(4);
    assert_eq!(got.len(), 4, "{got:#?}");
    assert!(receiver
        .content_types()
        .iter()
        .all(|c| c == "application/x-protobuf"));
    let by_id = |e: &Event| {
        got.iter()
            .find(|r| r.attr_str("history.event_id") == Some(e.id.to_string().as_str()))
            .unwrap_or_else(|| panic!("{} arrived", e.operation))
    };

    let c = by_id(&created);
    assert_eq!(c.record.event_name, "vm_create");
    assert_eq!(c.record.severity_number, SeverityNumber::Info as i32);
    assert_eq!(c.record.severity_text, "INFO");
    assert_eq!(c.scope_name, "history");
    assert_eq!(c.resource_str("service.name"), Some("billing-api"));
    assert_eq!(c.resource_str("host.name"), Some("web-1"));
    assert_eq!(c.attr_str("history.operation"), Some("vm::create"));
    assert_eq!(c.attr_str("history.status"), Some("success"));
    assert_eq!(c.attr("history.user_id"), Some(&Value::IntValue(7)));
    assert_eq!(c.attr_str("history.vm_id"), Some("vm-42"));
    assert_eq!(c.attr_str("history.labels.region"), Some("eu-west-1"));
    let params: serde_json::Value =
        serde_json::from_str(c.attr_str("history.parameters").expect("parameters")).expect("json");
    assert_eq!(params, serde_json::json!({"name": "web", "size": 2}));
    assert_eq!(c.attr_str("history.result"), Some(r#"{"instance":"i-1"}"#));
    assert!(matches!(c.attr("history.duration_seconds"), Some(Value::DoubleValue(d)) if *d >= 0.0));
    let finished_at = created.finished_at.expect("finished");
    assert_eq!(
        c.record.time_unix_nano,
        finished_at.timestamp_micros() as u64 * 1_000
    );
    assert!(c.record.observed_time_unix_nano >= c.record.time_unix_nano);
    assert_eq!(
        c.record.body.as_ref().and_then(|b| b.value.clone()),
        Some(Value::StringValue("vm::create success".into()))
    );

    let f = by_id(&failed);
    assert_eq!(f.record.event_name, "vm_delete");
    assert_eq!(f.record.severity_number, SeverityNumber::Error as i32);
    assert_eq!(f.record.severity_text, "ERROR");
    assert_eq!(f.attr_str("exception.message"), Some("disk busy"));
    assert_eq!(f.attr_str("error.type"), Some("io"));
    assert_eq!(f.record.trace_id, trace.as_bytes().to_vec());
    assert_eq!(f.record.span_id, span.as_bytes().to_vec());
    assert!(
        c.record.trace_id.is_empty() && c.record.span_id.is_empty(),
        "no external ids: none sent"
    );

    let k = by_id(&cancelled);
    assert_eq!(k.record.severity_number, SeverityNumber::Warn as i32);
    assert_eq!(k.record.severity_text, "WARN");

    let w = by_id(&elsewhere);
    assert_eq!(w.resource_str("service.name"), Some("worker"));
    assert_eq!(w.resource_str("host.name"), Some("batch-3"));

    recorder.shutdown().expect("shutdown");
    assert!(
        wait_until(|| exporter.is_finished()),
        "stops with the recorder"
    );
    let stats = exporter.stats();
    assert_eq!((stats.exported, stats.lost()), (4, 0), "{stats:?}");
    assert_eq!(recorder.stats().sink_lost, 0);
}

#[test]
fn records_sent_while_the_receiver_is_down_arrive_once_it_is_back() {
    let addr = free_port();
    let recorder = recorder();
    let exporter = quick(format!("http://{addr}"))
        .retry_for(Duration::from_secs(60))
        .start(&recorder)
        .expect("start");
    for i in 0..50 {
        recorder
            .record(finished(
                EventType::VmStart,
                &format!("op{i}"),
                EventStatus::Success,
            ))
            .expect("record");
    }
    recorder
        .flush()
        .expect("the recorder does not wait for the exporter");
    assert!(
        wait_until(|| exporter.stats().failed_attempts >= 3),
        "it keeps trying"
    );
    assert_eq!(exporter.stats().exported, 0);

    let receiver = Receiver::start_on(addr);
    let got = receiver.wait_for(50);
    assert_eq!(got.len(), 50);
    let mut ops: Vec<&str> = got
        .iter()
        .filter_map(|r| r.attr_str("history.operation"))
        .collect();
    ops.sort_unstable();
    ops.dedup();
    assert_eq!(ops.len(), 50, "each record once");
    assert!(wait_until(|| exporter.stats().exported == 50));
    assert_eq!(exporter.stats().lost(), 0);
    assert_eq!(recorder.stats().sink_lost, 0);
}

#[test]
fn a_full_buffer_loses_the_oldest_records_counts_them_and_never_blocks_the_recorder() {
    let addr = free_port();
    let recorder = recorder();
    let exporter = quick(format!("http://{addr}"))
        .buffer(16)
        .max_batch(8)
        .retry_for(Duration::from_secs(60))
        .start(&recorder)
        .expect("start");
    let total = 1_000u64;
    for i in 0..total {
        recorder
            .record(finished(
                EventType::VmStart,
                &format!("op{i}"),
                EventStatus::Success,
            ))
            .expect("record");
        if i % 100 == 99 {
            recorder.flush().expect("flush");
        }
    }
    recorder.flush().expect("flush");
    let stats = recorder.stats();
    assert_eq!(stats.written, total, "every record is in the store");
    assert!(
        wait_until(|| exporter.stats().lagged > 0),
        "{:?}",
        exporter.stats()
    );

    let receiver = Receiver::start_on(addr);
    assert!(wait_until(|| {
        let s = exporter.stats();
        s.exported + s.lost() == total && s.buffered == 0
    }));
    let s = exporter.stats();
    assert_eq!(receiver.records().len() as u64, s.exported);
    assert!(s.lagged >= total - 16 - 8, "{s:?}");
    assert_eq!(
        recorder.stats().sink_lost,
        s.lost(),
        "reported to the recorder"
    );
}

#[test]
fn secrets_never_reach_the_receiver() {
    let receiver = Receiver::start();
    // The recorder keeps `card_pin`; the exporter's policy redacts it on the way out.
    let recorder = recorder();
    let exporter = quick(receiver.endpoint())
        .redaction(RedactionPolicy::default().also("pin"))
        .start(&recorder)
        .expect("start");
    let mut e = finished(EventType::ApiRequest, "api::login", EventStatus::Failed);
    e.parameters = history::Json::parse(
        r#"{"user":"ann","password":"hunter2","card_pin":"4242","db":"postgres://app:s3cr3t@db/main"}"#,
    )
    .expect("json");
    e.error = Some(Box::new(ErrorInfo::new(
        "cannot reach postgres://app:s3cr3t@db/main",
    )));
    e.labels.insert("api_token".into(), "tok-123".into());
    recorder.record(e.clone()).expect("record");
    recorder.flush().expect("flush");
    let stored = recorder.store().get(e.id).expect("read").expect("stored");
    assert!(
        stored.parameters.as_str().contains("4242"),
        "the store keeps it"
    );

    let got = receiver.wait_for(1);
    assert_eq!(got.len(), 1);
    let raw = receiver.raw();
    for secret in ["hunter2", "4242", "s3cr3t", "tok-123"] {
        assert!(
            !raw.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "{secret} was sent"
        );
    }
    assert!(raw.windows(3).any(|w| w == b"ann"), "the rest is sent");
    drop(exporter);
}

#[test]
fn refused_requests_are_dropped_at_once_and_partial_rejections_counted() {
    let receiver = Receiver::start();
    receiver.set_mode(Mode::BadRequest);
    let recorder = recorder();
    let exporter = quick(receiver.endpoint())
        .retry_for(Duration::from_secs(60))
        .start(&recorder)
        .expect("start");
    recorder
        .record(finished(EventType::VmStart, "a", EventStatus::Success))
        .expect("record");
    recorder.flush().expect("flush");
    assert!(wait_until(|| exporter.stats().dropped == 1));
    assert_eq!(exporter.stats().failed_attempts, 1, "no retry of a 400");

    receiver.set_mode(Mode::RejectOne);
    for op in ["b", "c"] {
        recorder
            .record(finished(EventType::VmStart, op, EventStatus::Success))
            .expect("record");
    }
    recorder.flush().expect("flush");
    assert!(wait_until(|| {
        let s = exporter.stats();
        s.exported + s.rejected == 2
    }));
    let s = exporter.stats();
    assert!(s.rejected >= 1, "{s:?}");
    assert_eq!(recorder.stats().sink_lost, s.lost());
}

#[test]
fn shutdown_with_the_receiver_down_gives_up_within_its_deadline() {
    let addr = free_port();
    let recorder = recorder();
    let exporter = quick(format!("http://{addr}"))
        .retry_for(Duration::from_secs(600))
        .start(&recorder)
        .expect("start");
    for i in 0..10 {
        recorder
            .record(finished(
                EventType::VmStart,
                &format!("op{i}"),
                EventStatus::Success,
            ))
            .expect("record");
    }
    recorder.flush().expect("flush");
    assert!(wait_until(|| exporter.stats().failed_attempts > 0));
    exporter
        .shutdown_timeout(Duration::from_millis(200))
        .expect("stops");
    let s = exporter.stats();
    assert_eq!(s.exported, 0);
    assert_eq!(s.dropped + s.lagged, 10, "{s:?}");
    assert_eq!(recorder.stats().sink_lost, 10);
    exporter.shutdown().expect("again: nothing to do");
}

#[test]
fn a_filter_chooses_what_is_exported_and_bad_settings_are_refused() {
    let receiver = Receiver::start();
    let recorder = recorder();
    let exporter = quick(receiver.endpoint())
        .filter(Filter::new().status(EventStatus::Failed))
        .start(&recorder)
        .expect("start");
    recorder
        .record(finished(EventType::VmStart, "ok", EventStatus::Success))
        .expect("record");
    recorder
        .record(finished(EventType::VmStart, "bad", EventStatus::Failed))
        .expect("record");
    recorder.flush().expect("flush");
    let got = receiver.wait_for(1);
    assert!(wait_until(|| exporter.stats().exported == 1));
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].attr_str("history.operation"), Some("bad"));

    let only_running = Filter::new().status(EventStatus::InProgress);
    assert!(matches!(
        OtlpExporter::builder(receiver.endpoint())
            .filter(only_running)
            .start(&recorder),
        Err(OtlpError::InvalidSetting { .. })
    ));
    assert!(matches!(
        OtlpExporter::builder("localhost:4318").start(&recorder),
        Err(OtlpError::InvalidEndpoint(_))
    ));
}
