//! Capture never breaks the call and never stores what cannot be read back: a panicking
//! `Serialize` or `Debug` becomes a marker, a cyclic or endless error chain is cut, a value
//! nested deeper than serde_json parses is capped with a marker and survives the store and
//! export, and values over the size caps are replaced by a marker that keeps their size.

mod common;

use std::error::Error as StdError;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::Mem;
use history::track_history;
use serde::{Serialize, Serializer};

struct PanicsInSerialize;

impl Serialize for PanicsInSerialize {
    fn serialize<S: Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        panic!("serialize exploded")
    }
}

struct PanicsInDebug;

impl fmt::Debug for PanicsInDebug {
    fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
        panic!("debug exploded")
    }
}

static BODY_RAN: AtomicUsize = AtomicUsize::new(0);

#[track_history(event_type = "panicky_args")]
fn panicky_args(a: PanicsInSerialize, b: PanicsInDebug, c: u32) -> u32 {
    let _ = (a, b);
    BODY_RAN.fetch_add(1, Ordering::SeqCst);
    c + 1
}

#[track_history(event_type = "panicky_result")]
fn panicky_result() -> PanicsInSerialize {
    PanicsInSerialize
}

#[test]
fn panics_in_serialize_or_debug_are_markers() {
    let mem = Mem::new();
    let (n, _) = mem.with(|| {
        (
            panicky_args(PanicsInSerialize, PanicsInDebug, 41),
            panicky_result(),
        )
    });
    assert_eq!(n, 42, "the caller gets its own value");
    assert_eq!(BODY_RAN.load(Ordering::SeqCst), 1, "the body ran");
    let events = mem.events();
    assert_eq!(events.len(), 2);
    let p = events[0].parameters.to_value();
    let a = p["a"].as_str().unwrap();
    assert!(
        a.starts_with("[panicked while capturing") && a.contains("serialize exploded"),
        "{a}"
    );
    let b = p["b"].as_str().unwrap();
    assert!(b.contains("debug exploded"), "{b}");
    assert_eq!(p["c"], 41);
    assert_eq!(events[0].status, history::EventStatus::Success);
    assert_eq!(events[1].status, history::EventStatus::Success);
    let r = events[1].result.as_ref().unwrap().to_value();
    assert!(r.as_str().unwrap().contains("serialize exploded"), "{r}");
}

/// An error whose source is itself.
#[derive(Debug)]
struct Loop;

impl fmt::Display for Loop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("loops")
    }
}

impl StdError for Loop {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(&Loop)
    }
}

/// An error with `n` more errors under it.
#[derive(Debug)]
struct Deep(usize);

impl fmt::Display for Deep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "level {}", self.0)
    }
}

static LEVELS: [Deep; 100] = {
    let mut all = [const { Deep(0) }; 100];
    let mut i = 0;
    while i < 100 {
        all[i] = Deep(i);
        i += 1;
    }
    all
};

impl StdError for Deep {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        LEVELS
            .get(self.0 + 1)
            .map(|d| d as &(dyn StdError + 'static))
    }
}

#[track_history(event_type = "looping")]
fn looping() -> Result<(), Loop> {
    Err(Loop)
}

#[track_history(event_type = "deep_chain")]
fn deep_chain() -> Result<(), Deep> {
    Err(Deep(0))
}

#[test]
fn cyclic_and_long_error_chains_are_cut() {
    let mem = Mem::new();
    mem.with(|| {
        looping().unwrap_err();
        deep_chain().unwrap_err();
    });
    let events = mem.events();
    let looped = &events[0].error.as_ref().unwrap().sources;
    assert!(looped.len() <= 2, "{looped:?}");
    assert!(looped.last().unwrap().contains("cut"), "{looped:?}");
    let deep = &events[1].error.as_ref().unwrap().sources;
    assert_eq!(deep.len(), history::event::MAX_SOURCES + 1);
    assert_eq!(deep[0], "level 1");
    assert!(deep.last().unwrap().contains("cut after 32"), "{deep:?}");
    // The same rule for errors captured by hand.
    let info = history::ErrorInfo::from_error(&Loop);
    assert!(info.sources.last().unwrap().contains("cut"));
}

fn nested(levels: usize) -> serde_json::Value {
    let mut v = serde_json::json!("bottom");
    for _ in 0..levels {
        v = serde_json::json!({ "down": [v] });
    }
    v
}

#[track_history(event_type = "deep_json")]
fn deep_json(doc: &serde_json::Value) -> serde_json::Value {
    doc.clone()
}

fn depth_of(v: &serde_json::Value) -> usize {
    match v {
        serde_json::Value::Array(a) => 1 + a.iter().map(depth_of).max().unwrap_or(0),
        serde_json::Value::Object(o) => 1 + o.values().map(depth_of).max().unwrap_or(0),
        _ => 0,
    }
}

fn has_marker(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::String(s) => s == "[depth limit]",
        serde_json::Value::Array(a) => a.iter().any(has_marker),
        serde_json::Value::Object(o) => o.values().any(has_marker),
        _ => false,
    }
}

#[test]
fn deep_json_survives_the_store_and_export() {
    let dir = tempfile::tempdir().unwrap();
    let store = history_sqlite::SqliteStore::open(dir.path().join("deep.db")).unwrap();
    let recorder = history::Recorder::new(store).unwrap();
    // 200 objects, each holding an array: 400 levels.
    let doc = nested(200);
    history::with_default(&recorder, || deep_json(&doc));
    recorder.flush().unwrap();
    let page = recorder.store().query(&history::Query::new()).unwrap();
    assert_eq!(page.items.len(), 1);
    let e = &page.items[0];
    let params = e.parameters.to_value();
    let result = e.result.as_ref().unwrap().to_value();
    for v in [&params, &result] {
        assert!(!v.is_null());
        assert!(has_marker(v), "the cut is marked");
        assert!(depth_of(v) <= 70, "depth {}", depth_of(v));
    }
    let mut out = Vec::new();
    history::export::jsonl(recorder.store(), &history::Query::new(), &mut out).unwrap();
    let line: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert!(has_marker(&line["parameters"]) && has_marker(&line["result"]));
    let back: Vec<_> = history::export::read_jsonl(&out[..]).collect();
    assert!(back[0].is_ok());
    recorder.shutdown().unwrap();
}

#[track_history(event_type = "big")]
fn big(blob: &str, small: u8) -> Result<String, String> {
    if small == 0 {
        return Err(blob.to_owned());
    }
    Ok(blob.to_owned())
}

#[test]
fn size_caps_keep_the_original_size() {
    let store = std::sync::Arc::new(history::MemoryStore::new());
    let recorder = history::Recorder::builder()
        .max_value_bytes(1_000)
        .max_error_bytes(200)
        .build_shared(store.clone())
        .unwrap();
    let blob = "x".repeat(5_000);
    history::with_default(&recorder, || {
        big(&blob, 1).unwrap();
        big(&blob, 0).unwrap_err();
    });
    recorder.flush().unwrap();
    let events = store.all();
    let p = events[0].parameters.to_value();
    assert_eq!(p["blob"], "[too large: 5002 bytes, over the limit of 1000]");
    assert_eq!(p["small"], 1);
    assert_eq!(
        events[0].result.as_ref().unwrap().to_value(),
        "[too large: 5002 bytes, over the limit of 1000]"
    );
    let message = &events[1].error.as_ref().unwrap().message;
    assert!(message.len() <= 200, "{}", message.len());
    assert!(message.ends_with("[cut: 5000 bytes in all]"), "{message}");

    // Hand-recorded events (executors, `Recorder::record`) get the same caps.
    let mut e = history::Event::builder(history::EventType::VmCreate, "hand")
        .build()
        .unwrap();
    e.execution = Some(history::Json::string(&blob));
    recorder.record(e).unwrap();
    recorder.flush().unwrap();
    let hand = store
        .all()
        .into_iter()
        .find(|e| e.operation == "hand")
        .unwrap();
    assert_eq!(
        hand.execution.unwrap().to_value(),
        "[too large: 5002 bytes, over the limit of 1000]"
    );
    assert!(history::Recorder::builder()
        .max_value_bytes(10)
        .build(history::MemoryStore::new())
        .is_err());
}
