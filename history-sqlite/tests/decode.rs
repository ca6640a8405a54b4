//! Rows back to events: every column reads back as written (awkward JSON, custom types, text
//! subjects, external ids), and a damaged row is a `Corrupt` error naming its column, never a
//! wrong event.

use std::time::Duration;

use history::{
    ErrorInfo, Event, EventId, EventStatus, EventType, HistoryStore, Json, Query, StoreError,
    SubjectId, TerraformStatus, W3cSpanId, W3cTraceId,
};
use history_sqlite::SqliteStore;

/// An event using every column, with JSON documents that exercise the reader's check.
fn full_event() -> Event {
    let mut e = Event::new(EventType::Custom("backup_run".into()), "svc::backup");
    e.status = EventStatus::Failed;
    e.finished_at = Some(e.started_at + chrono::Duration::milliseconds(1500));
    e.duration = Some(Duration::from_millis(1500));
    e.user_id = Some(SubjectId::Text("alice@example.com".into()));
    e.vm_id = Some(SubjectId::Int(-7));
    e.credential_id = Some(SubjectId::Int(i64::MAX));
    e.organization_id = Some(SubjectId::Text("org é".into()));
    e.labels.insert("team".into(), "infra \"core\"".into());
    e.labels.insert("zone".into(), "eu-west-1a".into());
    e.host = Some("host-1".into());
    e.service = Some("backup".into());
    e.parameters = Json::parse(
        r#" { "name" : "vm-1", "tags": ["a\"b", "\\", "\u00e9\n", "é ✓ 😀"], "n": -0.5e-3,
            "big": 12345678901234567890123, "nested": [[[{"x": null}]], {}, []], "ok": true } "#,
    )
    .expect("valid JSON");
    e.result = Some(Json::parse("\"\\ud83d\\ude00\"").expect("a string"));
    let mut info = ErrorInfo::new("quota exceeded");
    info.kind = Some("provider".into());
    info.sources = vec!["HTTP 429".into(), "rate limit".into()];
    e.error = Some(Box::new(info));
    e.parent_id = Some(EventId::new());
    e.trace_id = e.parent_id;
    e.correlation_id = Some("req-42".into());
    e.external_trace_id = W3cTraceId::from_bytes([7; 16]);
    e.external_span_id = W3cSpanId::from_bytes([9; 8]);
    e.terraform_status = Some(TerraformStatus::Failed);
    e.execution = Some(Json::parse("[1,2.5,\"x\"]").expect("valid JSON"));
    e
}

#[test]
fn every_column_reads_back_as_written() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(dir.path().join("h.db")).expect("open");
    let e = full_event();
    let mut short = Event::new(EventType::VmCreate, "svc::create");
    short.parameters = Json::parse("1").expect("a number");
    store
        .write_batch(&[e.clone(), short.clone()])
        .expect("write");

    assert_eq!(store.get(e.id).expect("get"), Some(e.clone()));
    assert_eq!(store.get(short.id).expect("get"), Some(short.clone()));
    let page = store.query(&Query::new().limit(10)).expect("query");
    assert_eq!(page.len(), 2);
    assert!(page.items.contains(&e) && page.items.contains(&short));
    assert_eq!(page.next_cursor, None);
}

#[test]
fn a_full_page_says_whether_another_follows() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(dir.path().join("h.db")).expect("open");
    let events: Vec<Event> = (0..3)
        .map(|_| Event::new(EventType::VmStart, "svc::start"))
        .collect();
    store.write_batch(&events).expect("write");
    let first = store.query(&Query::new().limit(2)).expect("query");
    assert_eq!(first.len(), 2);
    let cursor = first.next_cursor.expect("a third event follows");
    assert_eq!(cursor, history::Cursor::after(&first.items[1]));
    let second = store
        .query(&Query::new().limit(2).after(cursor))
        .expect("query");
    assert_eq!(second.len(), 1);
    assert_eq!(second.next_cursor, None);
    let exact = store.query(&Query::new().limit(3)).expect("query");
    assert_eq!((exact.len(), exact.next_cursor), (3, None));
}

/// Writes `e`, then overwrites one column of its row with `value` through a plain connection.
fn damaged(column: &str, value: rusqlite::types::Value) -> Result<Option<Event>, StoreError> {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("h.db");
    let store = SqliteStore::open(&path).expect("open");
    let e = full_event();
    store.write_batch(std::slice::from_ref(&e)).expect("write");
    let conn = rusqlite::Connection::open(&path).expect("plain connection");
    conn.execute(
        &format!("UPDATE events SET {column} = ?1 WHERE id = ?2"),
        rusqlite::params![value, &e.id.as_bytes()[..]],
    )
    .expect("damage the row");
    drop(conn);
    let got = store.get(e.id);
    // A page reading the row fails the same way.
    assert_eq!(
        got.as_ref().map(|_| ()).map_err(ToString::to_string),
        store
            .query(&Query::new())
            .map(|_| ())
            .map_err(|e| e.to_string())
    );
    got
}

#[test]
fn a_damaged_row_is_corrupt_and_names_its_column() {
    use rusqlite::types::Value;
    let cases = [
        ("parameters", Value::Text("{\"name\":".into())),
        ("parameters", Value::Text("{} {}".into())),
        ("parameters", Value::Blob(b"{}".to_vec())),
        ("result", Value::Text("[1,]".into())),
        ("execution", Value::Text("nul".into())),
        ("labels", Value::Text("[\"not\", \"a map\"]".into())),
        ("error", Value::Text("{\"kind\": \"no message\"}".into())),
        ("status", Value::Text("finished".into())),
        ("event_type", Value::Text("Not A Type".into())),
        ("terraform_status", Value::Text("melted".into())),
        ("user_id", Value::Blob(vec![1, 2])),
        ("duration_us", Value::Integer(-1)),
        ("duration_us", Value::Text("five".into())),
        ("parent_id", Value::Blob(vec![0; 15])),
        ("external_span_id", Value::Blob(vec![0; 8])),
        ("operation", Value::Blob(vec![0xff])),
    ];
    for (column, value) in cases {
        match damaged(column, value.clone()) {
            Err(StoreError::Corrupt(msg)) => {
                assert!(msg.contains(&format!("`{column}`")), "{column}: {msg}")
            }
            other => panic!("{column} = {value:?}: {other:?}"),
        }
    }
}

#[test]
fn documents_deeper_than_the_limit_read_back_capped() {
    // A row written by another program may nest deeper than `Json` keeps: it reads back with
    // the deep part replaced, as `Json::parse` gives it.
    let deep = format!("{}1{}", "[".repeat(150), "]".repeat(150));
    let got = damaged("parameters", rusqlite::types::Value::Text(deep.clone()))
        .expect("readable")
        .expect("stored");
    assert_eq!(got.parameters, Json::parse(deep).expect("capped"));
    assert!(got.parameters.as_str().contains("[depth limit]"));
}
