//! The two ways a batch reaches `events`: copied straight in when its ids are new, or staged
//! and upserted when one may be stored already. Whichever way, a final record is never
//! overwritten by an in-progress or older one, every id is stored once, the change feed
//! lists rows in commit order, and the rollups count what is stored.

mod common;

use std::time::Duration;

use history::stats::StatsQuery;
use history::{ChangeToken, Event, EventStatus, EventType, Filter, HistoryStore, Query};
use history_postgres::PostgresStore;

fn started(op: &str) -> Event {
    let mut e = Event::new(EventType::VmCreate, op);
    e.status = EventStatus::InProgress;
    e
}

fn finished(e: &Event, status: EventStatus) -> Event {
    let mut f = e.clone();
    f.finish(status);
    f.duration = Some(Duration::from_millis(5));
    f
}

/// A second store on the same schema: it does not know what the first wrote, so its
/// direct copy of a stored id is refused by the server and the batch staged instead.
fn second(store: &PostgresStore) -> PostgresStore {
    PostgresStore::options()
        .schema(store.schema())
        .recover_on_open(false)
        .open(&common::url())
        .expect("open a second store")
}

#[test]
fn a_stored_id_in_a_new_batch_is_upserted_by_the_rule() {
    let Some(g) = common::store("a_stored_id_in_a_new_batch_is_upserted_by_the_rule") else {
        return;
    };
    let a = &g.store;
    let b = second(a);
    let call = started("vm::create");
    let other = started("vm::other");
    a.write_batch(&[call.clone(), other.clone()])
        .expect("write");
    // The final record, with new ids beside it, through a store that never saw the call.
    let done = finished(&call, EventStatus::Success);
    let fresh: Vec<Event> = (0..10)
        .map(|_| finished(&started("vm::fresh"), EventStatus::Success))
        .collect();
    let mut batch = fresh.clone();
    batch.insert(5, done.clone());
    b.write_batch(&batch).expect("write");
    assert_eq!(a.count(&Filter::new()).expect("count"), 12);
    let stored = a.get(call.id).expect("get").expect("stored");
    assert_eq!(stored.status, EventStatus::Success);
    // An older, unfinished record of the call, copied fresh, never overwrites the final one.
    b.write_batch(std::slice::from_ref(&call)).expect("write");
    let c = second(a);
    c.write_batch(&[
        call.clone(),
        finished(&started("vm::later"), EventStatus::Failed),
    ])
    .expect("write");
    assert_eq!(
        a.get(call.id).expect("get").expect("stored").status,
        EventStatus::Success
    );
    // The same batch written again (a retry after a lost acknowledgement): still once each.
    b.write_batch(&batch).expect("write");
    assert_eq!(a.count(&Filter::new()).expect("count"), 13);
    let stats = a.stats(&StatsQuery::new(Filter::new())).expect("stats");
    assert_eq!(stats.summary.total, 13, "{stats:?}");
}

#[test]
fn a_group_mixing_both_ways_keeps_commit_order_and_the_final_state() {
    let Some(g) = common::store("a_group_mixing_both_ways_keeps_commit_order_and_the_final_state")
    else {
        return;
    };
    let a = &g.store;
    let b = second(a);
    let calls: Vec<Event> = (0..5).map(|_| started("vm::create")).collect();
    a.write_batch(&calls).expect("write");
    let before = a.latest_change().expect("latest");
    // One group: new ids (straight in), then the final records of calls b never saw (the
    // server refuses the copy: staged), then new ids again (staged too, after).
    let first: Vec<Event> = (0..3)
        .map(|_| finished(&started("vm::first"), EventStatus::Success))
        .collect();
    let finals: Vec<Event> = calls
        .iter()
        .map(|c| finished(c, EventStatus::Failed))
        .collect();
    let last: Vec<Event> = (0..3)
        .map(|_| finished(&started("vm::last"), EventStatus::Success))
        .collect();
    b.stage_batch(&first).expect("stage");
    b.stage_batch(&finals).expect("stage");
    b.stage_batch(&last).expect("stage");
    // Repeated ids in one batch: the final one wins whatever the order.
    let twice = started("vm::twice");
    let twice_done = finished(&twice, EventStatus::Success);
    b.stage_batch(&[twice_done.clone(), twice.clone()])
        .expect("stage");
    b.commit_staged().expect("commit");
    assert_eq!(a.count(&Filter::new()).expect("count"), 12);
    assert_eq!(
        a.count(&Query::new().status(EventStatus::Failed))
            .expect("count"),
        5
    );
    assert_eq!(
        a.get(twice.id).expect("get").expect("stored").status,
        EventStatus::Success
    );
    let page = a.changes_after(before, 100).expect("changes");
    let order: Vec<_> = page.changes.iter().map(|c| c.event.id).collect();
    let expected: Vec<_> = first
        .iter()
        .chain(&finals)
        .chain(&last)
        .map(|e| e.id)
        .chain([twice.id])
        .collect();
    assert_eq!(
        order, expected,
        "the feed lists the group in the order it came"
    );
    assert!(page.changes.windows(2).all(|w| w[0].token < w[1].token));
    assert!(page.changes.iter().all(|c| c.token > before));
    let stats = a.stats(&StatsQuery::new(Filter::new())).expect("stats");
    assert_eq!(stats.summary.total, 12, "{stats:?}");
    assert!(a.latest_change().expect("latest") > ChangeToken::START);
}

#[test]
fn a_refused_direct_copy_leaves_the_group_whole() {
    let Some(g) = common::store("a_refused_direct_copy_leaves_the_group_whole") else {
        return;
    };
    let a = &g.store;
    let b = second(a);
    let call = started("vm::create");
    a.write_batch(std::slice::from_ref(&call)).expect("write");
    // The first batch of b's group is refused straight in (a stored id): the group goes on.
    b.stage_batch(&[finished(&call, EventStatus::Success)])
        .expect("stage");
    let more: Vec<Event> = (0..4)
        .map(|_| finished(&started("vm::more"), EventStatus::Success))
        .collect();
    b.stage_batch(&more).expect("stage");
    b.commit_staged().expect("commit");
    assert_eq!(a.count(&Filter::new()).expect("count"), 5);
    assert_eq!(
        a.count(&Query::new().status(EventStatus::Success))
            .expect("count"),
        5
    );
}
