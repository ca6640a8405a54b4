//! Host and service: set once on the recorder, stamped on every event that has none.

use std::sync::Arc;

use history::{Event, EventType, HistoryStore, MemoryStore, Query, Recorder};

#[test]
fn the_recorder_stamps_host_and_service_unless_the_event_has_its_own() {
    let store = Arc::new(MemoryStore::new());
    let recorder = Recorder::builder()
        .host("node-7")
        .service("billing-api")
        .build_shared(store.clone())
        .unwrap();
    let plain = Event::new(EventType::VmCreate, "vm::create");
    let own = Event::builder(EventType::VmCreate, "vm::create")
        .host("elsewhere")
        .build()
        .unwrap();
    recorder.record(plain.clone()).unwrap();
    recorder.record(own.clone()).unwrap();
    recorder.flush().unwrap();

    let plain = store.get(plain.id).unwrap().unwrap();
    assert_eq!(plain.host.as_deref(), Some("node-7"));
    assert_eq!(plain.service.as_deref(), Some("billing-api"));
    let own = store.get(own.id).unwrap().unwrap();
    assert_eq!(own.host.as_deref(), Some("elsewhere"));
    assert_eq!(own.service.as_deref(), Some("billing-api"));
    assert_eq!(store.count(&Query::new().host("node-7")).unwrap(), 1);
    assert_eq!(
        store.count(&Query::new().service("billing-api")).unwrap(),
        2
    );
}

#[test]
fn by_default_host_and_service_name_this_machine_and_program() {
    let store = Arc::new(MemoryStore::new());
    let recorder = Recorder::builder().build_shared(store.clone()).unwrap();
    let e = Event::new(EventType::ApiRequest, "get");
    recorder.record(e.clone()).unwrap();
    recorder.flush().unwrap();
    let got = store.get(e.id).unwrap().unwrap();
    assert!(got.host.is_some_and(|h| !h.is_empty()));
    let service = got.service.unwrap();
    assert!(service.starts_with("origin"), "the test binary: {service}");
}

#[test]
fn an_empty_host_or_service_is_refused() {
    assert!(Recorder::builder()
        .host("")
        .build(MemoryStore::new())
        .is_err());
    assert!(Recorder::builder()
        .service("x".repeat(300))
        .build(MemoryStore::new())
        .is_err());
}

#[test]
fn host_and_service_serialize_by_name_and_are_left_out_when_unset() {
    let e = Event::builder(EventType::VmCreate, "op")
        .host("h")
        .service("s")
        .build()
        .unwrap();
    let json = serde_json::to_value(&e).unwrap();
    assert_eq!(json["host"], "h");
    assert_eq!(json["service"], "s");
    let bare = serde_json::to_value(Event::new(EventType::VmCreate, "op")).unwrap();
    assert!(bare.get("host").is_none() && bare.get("service").is_none());
    let back: Event = serde_json::from_value(json).unwrap();
    assert_eq!(back, e);
}
