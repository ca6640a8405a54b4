//! The event model on the wire: the JSON shape the system was specified with, round trips, and
//! validation of hand-built events.

use std::time::Duration;

use chrono::{TimeZone, Utc};
use history::{ErrorInfo, Event, EventId, EventStatus, EventType, Json, SubjectId};
use serde_json::json;

fn seed_event() -> Event {
    Event::builder(EventType::VmCreate, "vm_service::create")
        .id("0188a1d2-3b4c-7d5e-8f60-718293a4b5c6".parse().unwrap())
        .status(EventStatus::Success)
        .started_at(Utc.with_ymd_and_hms(2023, 6, 1, 12, 0, 0).unwrap())
        .duration(Duration::from_millis(5_670))
        .user_id(1)
        .vm_id(2)
        .credential_id(3)
        .parameters(&json!({"name": "my-vm", "provider": "aws", "instance_type": "t2.micro", "region": "us-east-1"}))
        .unwrap()
        .result(&json!({"instance_id": "i-1234567890abcdef0", "public_ip": "1.2.3.4", "private_ip": "10.0.0.1"}))
        .unwrap()
        .build()
        .unwrap()
}

#[test]
fn serializes_to_the_seed_shape() {
    let value = serde_json::to_value(seed_event()).unwrap();
    assert_eq!(
        value,
        json!({
            "id": "0188a1d2-3b4c-7d5e-8f60-718293a4b5c6",
            "event_type": "vm_create",
            "status": "success",
            "timestamp": "2023-06-01T12:00:00Z",
            "operation": "vm_service::create",
            "user_id": 1, "vm_id": 2, "credential_id": 3,
            "parameters": {"name": "my-vm", "provider": "aws", "instance_type": "t2.micro", "region": "us-east-1"},
            "result": {"instance_id": "i-1234567890abcdef0", "public_ip": "1.2.3.4", "private_ip": "10.0.0.1"},
            "duration": 5.67
        })
    );
}

#[test]
fn reads_the_seed_json_and_round_trips() {
    let seed = r#"{"id": "0188a1d2-3b4c-7d5e-8f60-718293a4b5c6", "event_type": "vm_create", "status": "success",
        "timestamp": "2023-06-01T12:00:00Z", "user_id": 1, "vm_id": 2, "credential_id": 3,
        "operation": "vm_service::create",
        "parameters": {"name": "my-vm", "provider": "aws", "instance_type": "t2.micro", "region": "us-east-1"},
        "result": {"instance_id": "i-1234567890abcdef0", "public_ip": "1.2.3.4", "private_ip": "10.0.0.1"},
        "duration": 5.67}"#;
    let event: Event = serde_json::from_str(seed).unwrap();
    assert_eq!(event, seed_event());
    assert_eq!(event.duration, Some(Duration::from_millis(5_670)));
    assert_eq!(event.parameters.to_value()["provider"], "aws");

    let mut full = seed_event();
    full.finished_at = Some(full.started_at + chrono::Duration::milliseconds(5_670));
    full.labels.insert("region".into(), "us-east-1".into());
    full.organization_id = Some(SubjectId::from("org-9"));
    full.error = Some(Box::new(ErrorInfo {
        message: "quota exceeded".into(),
        kind: Some("QuotaError".into()),
        sources: vec!["limit 10 reached".into()],
        debug: Some("QuotaError { limit: 10 }".into()),
        backtrace: None,
    }));
    full.parent_id = Some(EventId::new());
    full.trace_id = Some(EventId::new());
    full.correlation_id = Some("req-1".into());
    full.event_type = EventType::custom("backup_run").unwrap();
    full.terraform_status = Some(history::TerraformStatus::Completed);
    full.execution = Some(Json::from(json!({"exit_code": 0})));
    let text = serde_json::to_string(&full).unwrap();
    let back: Event = serde_json::from_str(&text).unwrap();
    assert_eq!(back, full);
}

#[test]
fn an_unknown_event_type_reads_back_as_custom() {
    let mut v = serde_json::to_value(seed_event()).unwrap();
    v["event_type"] = json!("db_migrate");
    let e: Event = serde_json::from_value(v).unwrap();
    assert_eq!(e.event_type, EventType::Custom("db_migrate".into()));
}

#[test]
fn invalid_hand_built_events_name_the_field_and_limit() {
    let cases: Vec<(history::EventBuilder, &str, &str)> = vec![
        (
            Event::builder(EventType::VmStart, ""),
            "operation",
            "1 to 100",
        ),
        (
            Event::builder(EventType::VmStart, "x".repeat(101)),
            "operation",
            "1 to 100",
        ),
        (
            Event::builder(EventType::VmStart, "op").user_id(""),
            "user_id",
            "1 to 256",
        ),
        (
            Event::builder(EventType::VmStart, "op").error(ErrorInfo::new("e".repeat(10_001))),
            "error.message",
            "at most 10000",
        ),
        (
            Event::builder(EventType::VmStart, "op").label("", "v"),
            "labels key",
            "1 to 100",
        ),
        (
            Event::builder(EventType::Custom("Bad Name".into()), "op"),
            "event_type",
            "a-z",
        ),
    ];
    for (builder, field, limit) in cases {
        let err = builder.build().unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, history::Error::Invalid { .. }), "{text}");
        assert!(
            text.contains(field) && text.contains(limit),
            "{text} should name {field} and {limit}"
        );
    }
}

#[test]
fn fitting_to_limits_keeps_the_event_instead_of_refusing_it() {
    let mut e = Event::new(EventType::VmStart, "x".repeat(500));
    e.error = Some(Box::new(ErrorInfo::new("y".repeat(50_000))));
    e.user_id = Some(SubjectId::from(""));
    assert!(e.validate().is_err());
    e.fit_to_limits();
    e.validate().unwrap();
    assert!(e.error.unwrap().message.ends_with("more characters]"));
    assert_eq!(e.user_id, None);
}

#[test]
fn a_negative_duration_is_refused_on_read() {
    let mut v = serde_json::to_value(seed_event()).unwrap();
    v["duration"] = json!(-1.0);
    let err = serde_json::from_value::<Event>(v).unwrap_err().to_string();
    assert!(err.contains("duration"), "{err}");
}
