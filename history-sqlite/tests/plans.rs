//! Query plans stay on the indexes after `ANALYZE` (the row-value keyset form does not).

use history::conformance::sample_events;
use history::{EventStatus, HistoryStore, Query};
use history_sqlite::SqliteStore;

fn analyzed_store(dir: &tempfile::TempDir) -> SqliteStore {
    let store = SqliteStore::open(dir.path().join("h.db")).unwrap();
    let data = sample_events(3000, 11);
    store.write_batch(&data).unwrap();
    store.analyze().unwrap();
    store
}

fn assert_index(store: &SqliteStore, q: &Query, index: &str) {
    let plan = store.explain(q).unwrap().join("\n");
    assert!(plan.contains(&format!("INDEX {index}")), "{q:?}:\n{plan}");
    // Sorting only the rows of one timestamp by id (the user index holds no id) is allowed;
    // sorting the result is not.
    let sorts = plan
        .lines()
        .filter(|l| {
            l.contains("TEMP B-TREE")
                && !l.contains("LAST TERM OF ORDER BY")
                && !l.contains("RIGHT PART OF ORDER BY")
        })
        .count();
    assert_eq!(sorts, 0, "sorts instead of walking the index:\n{plan}");
}

#[test]
fn cursor_pages_walk_the_time_index_after_analyze() {
    let dir = tempfile::tempdir().unwrap();
    let store = analyzed_store(&dir);
    let first = store.query(&Query::new().limit(50)).unwrap();
    let cursor = first.next_cursor.unwrap();
    for q in [
        Query::new().limit(50).after(cursor),
        Query::new().limit(50).after(cursor).oldest_first(),
        Query::new()
            .status(EventStatus::Failed)
            .limit(50)
            .after(cursor),
    ] {
        assert_index(&store, &q, "events_by_time");
    }
}

#[test]
fn a_users_events_use_the_user_index() {
    let dir = tempfile::tempdir().unwrap();
    let store = analyzed_store(&dir);
    let first = store.query(&Query::new().user_id(2).limit(5)).unwrap();
    let q = Query::new()
        .user_id(2)
        .limit(5)
        .after(first.next_cursor.unwrap());
    assert_index(&store, &q, "events_by_user");
}

#[test]
fn a_trace_is_its_root_by_primary_key_and_the_rest_by_the_trace_index() {
    let dir = tempfile::tempdir().unwrap();
    let store = analyzed_store(&dir);
    let data = sample_events(3000, 11);
    let child = data
        .iter()
        .find(|e| e.parent_id.is_some() && e.trace_id.is_some())
        .unwrap();
    let q = Query::new().trace_id(child.trace_id.unwrap()).limit(50);
    let plan = store.explain(&q).unwrap().join("\n");
    assert!(plan.contains("INDEX events_by_trace"), "{plan}");
    assert!(plan.contains("sqlite_autoindex_events_1"), "{plan}");
    assert!(!plan.contains("SCAN events"), "{plan}");
}

#[test]
fn external_trace_and_span_filters_use_their_indexes() {
    let dir = tempfile::tempdir().unwrap();
    let store = analyzed_store(&dir);
    let data = sample_events(3000, 11);
    let with_span = data.iter().find(|e| e.external_span_id.is_some()).unwrap();
    for (q, index) in [
        (
            Query::new().external_trace_id(with_span.external_trace_id.unwrap()),
            "events_by_external_trace",
        ),
        (
            Query::new().external_span_id(with_span.external_span_id.unwrap()),
            "events_by_external_span",
        ),
    ] {
        let plan = store.explain(&q).unwrap().join("\n");
        assert!(plan.contains(&format!("INDEX {index}")), "{q:?}:\n{plan}");
        assert!(!plan.contains("SCAN events"), "{plan}");
        let expected = data.iter().filter(|e| q.matches(e)).count() as u64;
        assert!(expected > 0);
        assert_eq!(store.count(&q).unwrap(), expected, "{q:?}");
    }
}
