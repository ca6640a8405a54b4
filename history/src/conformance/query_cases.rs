//! Cases on writing, reading and querying events.

use std::collections::HashSet;
use std::time::Duration;

use super::data::{base_time, sample_events, unknown_id, Rng};
use super::{collect_pages, expected};
use crate::event::{Event, EventStatus, EventType, SubjectId, W3cSpanId, W3cTraceId};
use crate::store::{HistoryStore, Order, Query};

const N: usize = 400;

fn loaded(store: &dyn HistoryStore, n: usize, seed: u64) -> Vec<Event> {
    let data = sample_events(n, seed);
    for chunk in data.chunks(97) {
        store.write_batch(chunk).expect("write_batch");
    }
    data
}

fn ids(events: &[Event]) -> Vec<String> {
    events.iter().map(|e| e.id.to_string()).collect()
}

/// Writing the same batch twice stores it once; a rewritten id replaces the old record; when
/// one id appears twice in a batch, the last wins.
pub fn upsert_is_idempotent(store: &dyn HistoryStore) {
    let data = sample_events(50, 1);
    store.write_batch(&data).expect("first write");
    store.write_batch(&data).expect("second write");
    assert_eq!(store.count(&Query::new()).expect("count"), 50);

    let mut changed = data[3].clone();
    changed.status = EventStatus::Success;
    changed.result = Some(crate::Json::from(serde_json::json!({"second": true})));
    changed.error = None;
    store.write_batch(&[changed.clone()]).expect("rewrite");
    assert_eq!(store.count(&Query::new()).expect("count"), 50);
    assert_eq!(store.get(changed.id).expect("get"), Some(changed.clone()));

    let mut first = data[4].clone();
    first.status = EventStatus::InProgress;
    let mut last = data[4].clone();
    last.status = EventStatus::Cancelled;
    last.operation = "svc::last".into();
    store
        .write_batch(&[first, last.clone()])
        .expect("same id twice");
    assert_eq!(store.get(last.id).expect("get"), Some(last));
    assert_eq!(store.count(&Query::new()).expect("count"), 50);

    store.write_batch(&[]).expect("an empty batch is fine");
}

/// Every field reads back as written; an unknown id gives `None`.
pub fn get_returns_what_was_written(store: &dyn HistoryStore) {
    let data = loaded(store, 120, 2);
    for e in &data {
        assert_eq!(store.get(e.id).expect("get").as_ref(), Some(e));
    }
    assert_eq!(store.get(unknown_id()).expect("get unknown"), None);
}

/// The external trace id the sample data gives traces `1..=3`.
fn external_trace(n: u128) -> W3cTraceId {
    W3cTraceId::from_bytes(n.to_be_bytes()).expect("not zero")
}

/// An external span id some sample event has.
fn external_span(data: &[Event]) -> W3cSpanId {
    data.iter()
        .find_map(|e| e.external_span_id)
        .expect("sample events carry external span ids")
}

fn filter_queries(data: &[Event]) -> Vec<(&'static str, Query)> {
    let with_parent = data.iter().find(|e| e.parent_id.is_some());
    let parent = with_parent
        .and_then(|e| e.parent_id)
        .unwrap_or_else(unknown_id);
    let trace = with_parent
        .and_then(|e| e.trace_id)
        .unwrap_or_else(unknown_id);
    let t = |h: i64| base_time() + chrono::Duration::hours(h);
    vec![
        ("all", Query::new()),
        ("one type", Query::new().event_type(EventType::VmCreate)),
        (
            "two types incl. custom",
            Query::new()
                .event_type(EventType::TerraformApply)
                .event_type(EventType::Custom("backup_run".into())),
        ),
        ("one status", Query::new().status(EventStatus::Failed)),
        (
            "two statuses",
            Query::new()
                .status(EventStatus::Success)
                .status(EventStatus::Interrupted),
        ),
        ("int user", Query::new().user_id(1)),
        ("text user", Query::new().user_id("u-1")),
        (
            "text user that looks like a number",
            Query::new().user_id("1"),
        ),
        ("unknown user", Query::new().user_id(999)),
        ("vm", Query::new().vm_id(2)),
        ("credential", Query::new().credential_id("cred-1")),
        ("organization", Query::new().organization_id("org-0")),
        ("parent", Query::new().parent_id(parent)),
        ("trace", Query::new().trace_id(trace)),
        ("correlation", Query::new().correlation_id("req-2")),
        (
            "external trace",
            Query::new().external_trace_id(external_trace(2)),
        ),
        (
            "unknown external trace",
            Query::new().external_trace_id(external_trace(7)),
        ),
        (
            "external span",
            Query::new().external_span_id(external_span(data)),
        ),
        (
            "external trace and span",
            Query::new()
                .external_trace_id(external_trace(1))
                .external_span_id(external_span(data)),
        ),
        ("operation", Query::new().operation("svc::start")),
        (
            "operation prefix is not a match",
            Query::new().operation("svc"),
        ),
        ("host", Query::new().host("host-1")),
        ("service", Query::new().service("worker")),
        (
            "host and service",
            Query::new().host("host-2").service("api"),
        ),
        ("unknown host", Query::new().host("elsewhere")),
        ("label", Query::new().label("region", "eu")),
        (
            "two labels",
            Query::new().label("region", "us").label("tier", "gold"),
        ),
        ("odd label key", Query::new().label("k.\"x", "odd key")),
        ("since", Query::new().since(t(100))),
        ("until", Query::new().until(t(50))),
        ("since and until", Query::new().since(t(24)).until(t(48))),
        (
            "min duration",
            Query::new().min_duration(Duration::from_secs(60)),
        ),
        (
            "max duration",
            Query::new().max_duration(Duration::from_secs(10)),
        ),
        (
            "duration range",
            Query::new()
                .min_duration(Duration::from_secs(5))
                .max_duration(Duration::from_secs(30)),
        ),
        (
            "error message",
            Query::new().error_contains("quota exceeded"),
        ),
        ("error source", Query::new().error_contains("connection")),
        (
            "error is case-sensitive",
            Query::new().error_contains("QUOTA"),
        ),
        ("error with percent sign", Query::new().error_contains("%")),
        (
            "empty error text: any error",
            Query::new().error_contains(""),
        ),
        (
            "combined",
            Query::new()
                .event_type(EventType::VmCreate)
                .event_type(EventType::VmStart)
                .status(EventStatus::Failed)
                .user_id(2)
                .since(t(10))
                .label("region", "eu"),
        ),
    ]
}

/// Every filter, alone and combined, in both orders, gives exactly what [`Query::matches`]
/// selects.
pub fn every_filter_agrees_with_matches(store: &dyn HistoryStore) {
    let data = loaded(store, N, 3);
    let mut non_empty = 0;
    for (name, q) in filter_queries(&data) {
        for order in [Order::NewestFirst, Order::OldestFirst] {
            let q = q.clone().order(order).limit(37);
            let want = expected(&data, &q);
            let got = collect_pages(store, &q);
            assert_eq!(ids(&got), ids(&want), "filter {name:?}, {order:?}");
            assert_eq!(got, want, "filter {name:?}: events differ");
            non_empty += usize::from(!want.is_empty());
        }
    }
    assert!(non_empty > 40, "the data set exercises too few filters");
}

/// Newest first and oldest first are exact reverses, ties on the start time broken by id.
pub fn ordering_both_ways_with_ties(store: &dyn HistoryStore) {
    let data = loaded(store, N, 4);
    let newest = collect_pages(store, &Query::new().limit(1000));
    let mut oldest = collect_pages(store, &Query::new().oldest_first().limit(1000));
    assert_eq!(newest.len(), data.len());
    for w in newest.windows(2) {
        assert!(
            (w[0].started_at, w[0].id) > (w[1].started_at, w[1].id),
            "not newest first"
        );
    }
    let ties = newest
        .windows(2)
        .filter(|w| w[0].started_at == w[1].started_at)
        .count();
    assert!(ties > 10, "the data set has too few ties");
    oldest.reverse();
    assert_eq!(ids(&oldest), ids(&newest));
}

/// A page never holds more than the limit, and holds exactly the limit while more remain.
pub fn limit_is_respected(store: &dyn HistoryStore) {
    let data = loaded(store, 60, 5);
    for limit in [1, 2, 7, 59, 60, 61, 1000] {
        let page = store.query(&Query::new().limit(limit)).expect("query");
        assert_eq!(page.items.len(), limit.min(data.len()), "limit {limit}");
        assert_eq!(
            page.next_cursor.is_some(),
            limit < data.len(),
            "limit {limit}"
        );
    }
}

/// Queries no store can answer are errors, not empty pages.
pub fn invalid_queries_are_rejected(store: &dyn HistoryStore) {
    loaded(store, 10, 6);
    assert!(store.query(&Query::new().limit(0)).is_err());
    assert!(store
        .query(&Query::new().limit(crate::store::MAX_LIMIT + 1))
        .is_err());
    let backwards = Query::new()
        .min_duration(Duration::from_secs(2))
        .max_duration(Duration::from_secs(1));
    assert!(store.query(&backwards).is_err());
}

/// Paging through every event by cursor, page sizes small and odd, sees each exactly once.
pub fn cursor_pages_without_duplicates_or_gaps(store: &dyn HistoryStore) {
    let data = loaded(store, N, 7);
    for order in [Order::NewestFirst, Order::OldestFirst] {
        for limit in [1, 3, 50] {
            let q = Query::new().order(order).limit(limit);
            let got = collect_pages(store, &q);
            assert_eq!(ids(&got), ids(&expected(&data, &q)), "{order:?} by {limit}");
        }
    }
}

/// Events inserted between pages (before and behind the cursor) cause no duplicate and no
/// gap among the events that were there when paging started.
pub fn cursor_pages_survive_concurrent_inserts(store: &dyn HistoryStore) {
    let data = loaded(store, 200, 8);
    let mut rng = Rng::new(99);
    for order in [Order::NewestFirst, Order::OldestFirst] {
        let mut q = Query::new().order(order).limit(9);
        let mut seen = Vec::new();
        let mut round = 0u64;
        loop {
            let page = store.query(&q).expect("query");
            seen.extend(page.items.iter().map(|e| e.id));
            // Insert a few events anywhere in time, including at the cursor's own time.
            let mut extra = sample_events(3, 1000 + round);
            round += 1;
            if let Some(last) = page.items.last() {
                extra[0].started_at = last.started_at;
            }
            for e in &mut extra[1..] {
                e.started_at =
                    super::data::base_time() + chrono::Duration::seconds(rng.below(864_000) as i64);
            }
            store.write_batch(&extra).expect("insert between pages");
            match page.next_cursor {
                Some(c) => q.cursor = Some(c),
                None => break,
            }
        }
        let unique: HashSet<_> = seen.iter().collect();
        assert_eq!(
            unique.len(),
            seen.len(),
            "{order:?}: a page repeated an event"
        );
        for e in &data {
            assert!(unique.contains(&e.id), "{order:?}: an event was skipped");
        }
    }
}

/// `count` agrees with [`Query::matches`] for every filter, ignoring limit and cursor.
pub fn count_agrees_with_matches(store: &dyn HistoryStore) {
    let data = loaded(store, N, 9);
    for (name, q) in filter_queries(&data) {
        let want = data.iter().filter(|e| q.matches(e)).count() as u64;
        assert_eq!(store.count(&q).expect("count"), want, "count {name:?}");
        let q = q.limit(1);
        assert_eq!(store.count(&q).expect("count"), want, "count ignores limit");
    }
    assert_eq!(store.count(&Query::new()).expect("count"), N as u64);
    let none = Query::new().user_id(SubjectId::Int(-5));
    assert_eq!(store.count(&none).expect("count"), 0);
}

/// A page's total counts every match, on every page, when asked; it is absent otherwise.
pub fn total_counts_every_match(store: &dyn HistoryStore) {
    let data = loaded(store, N, 10);
    let q = Query::new()
        .status(EventStatus::Success)
        .limit(5)
        .with_total();
    let want = data.iter().filter(|e| q.matches(e)).count() as u64;
    let first = store.query(&q).expect("query");
    assert_eq!(first.total, Some(want));
    let second = store
        .query(&q.clone().after(first.next_cursor.expect("more pages")))
        .expect("query");
    assert_eq!(second.total, Some(want));
    let without = store.query(&Query::new().limit(5)).expect("query");
    assert_eq!(without.total, None);
}
