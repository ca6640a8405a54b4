//! Argument capture: `Serialize` first, else `Debug`, else the type name; captured before the
//! body runs; `skip`, `skip_all`, `capture_self`.

mod common;

use common::Mem;
use history::track_history;
use serde_json::json;

#[derive(serde::Serialize)]
struct Spec {
    name: String,
    cpus: u8,
}

#[derive(Debug)]
struct DebugOnly {
    #[allow(dead_code)]
    id: u32,
}

struct Neither;

#[track_history(event_type = "capture")]
fn capture_all(spec: Spec, dbg: DebugOnly, neither: Neither, list: Vec<u8>) -> usize {
    let _ = (dbg, neither);
    // the arguments are moved and changed by the body: the record keeps them as passed
    let mut spec = spec;
    spec.name.clear();
    list.len() + spec.name.len()
}

#[test]
fn serialize_then_debug_then_type_name() {
    let mem = Mem::new();
    mem.with(|| {
        capture_all(
            Spec {
                name: "web".into(),
                cpus: 2,
            },
            DebugOnly { id: 7 },
            Neither,
            vec![1, 2],
        )
    });
    let e = mem.only();
    assert_eq!(
        e.parameters,
        json!({
            "spec": {"name": "web", "cpus": 2},
            "dbg": "DebugOnly { id: 7 }",
            "neither": "<macro_capture::Neither>",
            "list": [1, 2],
        })
    );
}

#[track_history(event_type = "skips", skip(big, other))]
fn skips(id: u32, big: Vec<u8>, other: String) -> u32 {
    id + big.len() as u32 + other.len() as u32
}

#[track_history(event_type = "skip_all", skip_all)]
fn skip_everything(id: u32, name: &str) -> usize {
    id as usize + name.len()
}

#[test]
fn skip_and_skip_all() {
    let mem = Mem::new();
    mem.with(|| {
        assert_eq!(skips(1, vec![0; 3], "ab".into()), 6);
        assert_eq!(skip_everything(1, "abc"), 4);
    });
    let e = mem.events();
    assert_eq!(e[0].parameters, json!({"id": 1}));
    assert_eq!(e[1].parameters, json!({}));
    assert_eq!(e[1].result.as_ref().unwrap(), &json!(4));
}

#[derive(Debug, serde::Serialize)]
struct Service {
    region: String,
}

impl Service {
    #[track_history(event_type = "no_self")]
    fn plain(&self, n: u8) -> u8 {
        n
    }

    #[track_history(event_type = "with_self", capture_self)]
    fn with_self(&self, n: u8) -> u8 {
        n
    }
}

#[test]
fn self_only_when_asked() {
    let mem = Mem::new();
    let svc = Service {
        region: "eu".into(),
    };
    mem.with(|| {
        svc.plain(1);
        svc.with_self(2);
    });
    let e = mem.events();
    assert_eq!(e[0].parameters, json!({"n": 1}));
    assert_eq!(e[1].parameters, json!({"self": {"region": "eu"}, "n": 2}));
}

#[track_history(event_type = "result_skip", result = skip)]
fn result_skipped(n: u8) -> Vec<u8> {
    vec![n; 3]
}

#[test]
fn result_can_be_skipped() {
    let mem = Mem::new();
    mem.with(|| result_skipped(1));
    let e = mem.only();
    assert_eq!(e.status, history::EventStatus::Success);
    assert!(e.result.is_none());
}

struct Request {
    id: Option<String>,
    region: Option<&'static str>,
    zone: Option<&'static str>,
}

#[track_history(
    event_type = "ids_from_options",
    correlation_id = req.id,
    labels(region = req.region, zone = req.zone, attempt = attempt),
    skip(req)
)]
fn ids_from_options(req: &Request, attempt: u8) -> u8 {
    attempt
}

#[test]
fn optional_correlation_id_and_labels() {
    let mem = Mem::new();
    let req = Request {
        id: Some("req-7".into()),
        region: Some("eu"),
        zone: None,
    };
    mem.with(|| ids_from_options(&req, 2));
    let e = mem.only();
    assert_eq!(e.correlation_id.as_deref(), Some("req-7"));
    assert_eq!(e.labels.get("region").map(String::as_str), Some("eu"));
    assert!(!e.labels.contains_key("zone"));
    assert_eq!(e.labels["attempt"], "2");
}
