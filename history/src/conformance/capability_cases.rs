//! Cases on statistics, retention, export and diff.

use std::collections::HashSet;
use std::time::Duration;

use super::data::{base_time, sample_events};
use super::{collect_pages, expected};
use crate::diff::{diff, Change};
use crate::event::{Event, EventId, EventStatus, EventType};
use crate::retention::{Per, PurgeReport, Retention};
use crate::stats::{compute, Bucket, GroupBy, StatsQuery};
use crate::store::{Filter, HistoryStore, Query};

fn loaded(store: &dyn HistoryStore, n: usize, seed: u64) -> Vec<Event> {
    let data = sample_events(n, seed);
    for chunk in data.chunks(101) {
        store.write_batch(chunk).expect("write_batch");
    }
    data
}

/// Statistics, overall and grouped every way, equal a plain computation over the same data.
pub fn stats_agree_with_naive_computation(store: &dyn HistoryStore) {
    let data = loaded(store, 400, 21);
    let t = |h: i64| base_time() + chrono::Duration::hours(h);
    let filters = [
        Filter::new(),
        Filter::new().event_type(EventType::TerraformApply),
        Filter::new().since(t(30)).until(t(150)),
        Filter::new().user_id(1).status(EventStatus::Failed),
        Filter::new().user_id(-1),
    ];
    let groups = [
        None,
        Some(GroupBy::EventType),
        Some(GroupBy::User),
        Some(GroupBy::Vm),
        Some(GroupBy::Operation),
        Some(GroupBy::Time(Bucket::Minute)),
        Some(GroupBy::Time(Bucket::Hour)),
        Some(GroupBy::Time(Bucket::Day)),
    ];
    for f in &filters {
        for g in groups {
            let mut q = StatsQuery::new(f.clone());
            q.group_by = g;
            let want = compute(&q, &data);
            let got = store.stats(&q).expect("stats");
            assert_eq!(got, want, "stats of {f:?} grouped by {g:?}");
        }
    }
    let all = store.stats(&StatsQuery::new(Filter::new())).expect("stats");
    assert_eq!(all.summary.total, 400);
    assert!(all.summary.duration.is_some_and(|d| d.p95 >= d.p50));
}

/// Each retention rule: the dry run reports exactly what the purge then deletes, and only
/// that; an empty policy is refused.
pub fn retention_rules_with_dry_run(store: &dyn HistoryStore) {
    let data = loaded(store, 300, 22);
    let mut remaining = data.clone();
    assert!(store.purge(&Retention::default()).is_err(), "empty policy");
    assert!(store
        .purge(&Retention::before(base_time()).keep_last(Per::Vm, 0))
        .is_err());
    let policies = [
        Retention::before(base_time() + chrono::Duration::days(2)).status(EventStatus::Success),
        Retention::matching(Filter::new().event_type(EventType::ApiRequest)),
        Retention::before(base_time() + chrono::Duration::days(1)).event_type(EventType::VmStart),
        Retention::matching(Filter::new().status(EventStatus::Failed)).keep_last(Per::Vm, 3),
        Retention::default().keep_last(Per::User, 10),
        Retention::older_than(Duration::from_secs(1)).status(EventStatus::Cancelled),
    ];
    for policy in policies {
        let ids: HashSet<EventId> = policy.select(&remaining).into_iter().collect();
        let want = PurgeReport::of(remaining.iter().filter(|e| ids.contains(&e.id)), true);
        let dry = store.purge(&policy.clone().dry_run()).expect("dry run");
        assert_eq!(dry, want, "dry run of {policy:?}");
        assert_eq!(
            store.count(&Query::new()).expect("count"),
            remaining.len() as u64,
            "a dry run deletes nothing"
        );
        let done = store.purge(&policy).expect("purge");
        assert_eq!(done.deleted, want.deleted, "purge of {policy:?}");
        assert!(!done.dry_run);
        remaining.retain(|e| !ids.contains(&e.id));
        let left = collect_pages(store, &Query::new().limit(500));
        let want_left = expected(&remaining, &Query::new());
        assert_eq!(left.len(), want_left.len(), "after {policy:?}");
        assert_eq!(left, want_left, "after {policy:?}");
    }
    assert!(
        remaining.len() < data.len() / 2,
        "the policies deleted too little"
    );
}

/// JSON Lines export reads back to the same events in the query's order; CSV (feature
/// `export-csv`) has the header and one row per event.
pub fn export_round_trip(store: &dyn HistoryStore) {
    let data = loaded(store, 2500, 23);
    for q in [
        Query::new(),
        Query::new().status(EventStatus::Failed).oldest_first(),
    ] {
        let mut out = Vec::new();
        let n = crate::export::jsonl(store, &q, &mut out).expect("export");
        let back: Vec<Event> = crate::export::read_jsonl(&out[..])
            .collect::<Result<_, _>>()
            .expect("read back");
        let want = expected(&data, &q);
        assert_eq!(n as usize, want.len());
        assert_eq!(back, want, "JSON Lines round trip of {q:?}");

        #[cfg(feature = "export-csv")]
        {
            let mut out = Vec::new();
            let n = crate::export::csv(store, &q, &mut out).expect("csv export");
            assert_eq!(n as usize, want.len());
            let mut reader = csv::Reader::from_reader(&out[..]);
            let header: Vec<String> = reader
                .headers()
                .expect("header")
                .iter()
                .map(String::from)
                .collect();
            assert_eq!(header, crate::export::CSV_COLUMNS);
            let ids: Vec<String> = reader
                .records()
                .map(|r| r.expect("csv record")[0].to_string())
                .collect();
            let want_ids: Vec<String> = want.iter().map(|e| e.id.to_string()).collect();
            assert_eq!(ids, want_ids);
        }
    }
}

/// Two stored runs of one operation compare key by key.
pub fn diff_of_stored_events(store: &dyn HistoryStore) {
    let mut a = Event::new(EventType::TerraformApply, "tf::apply");
    a.parameters = crate::Json::from(
        serde_json::json!({"workspace": "prod", "vars": {"count": 2, "size": "s"}, "old": 1}),
    );
    a.result = Some(crate::Json::from(serde_json::json!({"added": 2})));
    a.finish(EventStatus::Success);
    let mut b = Event::new(EventType::TerraformApply, "tf::apply");
    b.parameters = crate::Json::from(
        serde_json::json!({"workspace": "prod", "vars": {"count": 3, "size": "s"}, "new": true}),
    );
    b.finish(EventStatus::Failed);
    store.write_batch(&[a.clone(), b.clone()]).expect("write");
    let a = store.get(a.id).expect("get").expect("stored");
    let b = store.get(b.id).expect("get").expect("stored");
    let d = diff(&a, &b);
    assert_eq!(
        d.parameters,
        vec![
            Change::Added {
                path: "new".into(),
                new: serde_json::json!(true)
            },
            Change::Removed {
                path: "old".into(),
                old: serde_json::json!(1)
            },
            Change::Changed {
                path: "vars.count".into(),
                old: serde_json::json!(2),
                new: serde_json::json!(3)
            },
        ]
    );
    assert_eq!(
        d.result,
        vec![Change::Changed {
            path: String::new(),
            old: serde_json::json!({"added": 2}),
            new: serde_json::Value::Null
        }]
    );
    assert!(d.fields.iter().any(|c| c.path() == "status"));
    assert!(diff(&a, &a).is_empty());
}
