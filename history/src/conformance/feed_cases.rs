//! Cases on the change feed: order, no gaps, no repeats (also under concurrent writers),
//! final state wins, retention, limits.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use super::data::{base_time, sample_events};
use crate::event::{Event, EventId, EventStatus, EventType};
use crate::feed::{Change, ChangeToken};
use crate::retention::Retention;
use crate::store::{Filter, HistoryStore, MAX_LIMIT};

/// Every change after `after`, read `limit` at a time until a page comes back empty, checking
/// on the way that each page keeps to the limit, its tokens rise strictly (also across pages)
/// and `next` is its last token. Returns the changes and the last token.
pub fn follow(
    store: &dyn HistoryStore,
    after: ChangeToken,
    limit: usize,
) -> (Vec<Change>, ChangeToken) {
    let mut token = after;
    let mut out: Vec<Change> = Vec::new();
    for _ in 0..1_000_000 {
        let page = store.changes_after(token, limit).expect("changes_after");
        assert!(page.changes.len() <= limit, "page larger than the limit");
        let mut previous = token;
        for c in &page.changes {
            assert!(
                c.token > previous,
                "tokens must rise strictly: {} after {}",
                c.token,
                previous
            );
            previous = c.token;
        }
        assert_eq!(page.next, previous, "`next` is the last token of the page");
        if page.changes.is_empty() {
            return (out, token);
        }
        token = page.next;
        out.extend(page.changes);
    }
    panic!("more than 1,000,000 pages: the token does not advance");
}

/// A started record and its final record, `n` seconds after the base time.
fn call(n: i64, user: i64) -> (Event, Event) {
    let mut started = Event::new(EventType::VmStart, "svc::start");
    started.started_at = base_time() + chrono::Duration::seconds(n);
    started.user_id = Some(user.into());
    let mut done = started.clone();
    done.status = EventStatus::Success;
    done.finished_at = Some(started.started_at + chrono::Duration::seconds(1));
    done.duration = Some(Duration::from_secs(1));
    (started, done)
}

/// Every committed insert and update appears in the feed in commit order, each event in its
/// newest state only, whatever the page size; `next` and `latest_change` agree; an empty
/// store's feed is empty at [`ChangeToken::START`].
pub fn changes_in_commit_order(store: &dyn HistoryStore) {
    assert_eq!(store.latest_change().expect("latest"), ChangeToken::START);
    let empty = store
        .changes_after(ChangeToken::START, 10)
        .expect("changes_after");
    assert!(empty.changes.is_empty());
    assert_eq!(empty.next, ChangeToken::START);

    let data = sample_events(120, 41);
    for chunk in data.chunks(17) {
        store.write_batch(chunk).expect("write_batch");
    }
    for limit in [1, 7, 120, MAX_LIMIT] {
        let (changes, last) = follow(store, ChangeToken::START, limit);
        let ids: Vec<EventId> = changes.iter().map(|c| c.event.id).collect();
        let want: Vec<EventId> = data.iter().map(|e| e.id).collect();
        assert_eq!(ids, want, "commit order, page size {limit}");
        for (c, e) in changes.iter().zip(&data) {
            assert_eq!(&c.event, e, "the stored event");
        }
        assert_eq!(store.latest_change().expect("latest"), last);
    }
    let mark = store.latest_change().expect("latest");

    // Updates move an event to the end, in the order they commit; a follower past `mark`
    // sees only them, in their new state.
    let (started, done) = call(5, 1);
    store
        .write_batch(std::slice::from_ref(&started))
        .expect("start");
    let (_, after_start) = follow(store, mark, 10);
    store
        .write_batch(std::slice::from_ref(&done))
        .expect("finish");
    let mut failed = data[3].clone();
    failed.status = EventStatus::Failed;
    failed.finished_at = Some(failed.started_at + chrono::Duration::hours(1_000));
    store.write_batch(&[failed.clone()]).expect("update");
    let (changes, _) = follow(store, mark, 2);
    let got: Vec<&Event> = changes.iter().map(|c| &c.event).collect();
    assert_eq!(got, [&done, &failed], "updated events, newest state only");
    let (changes, _) = follow(store, after_start, 10);
    let got: Vec<&Event> = changes.iter().map(|c| &c.event).collect();
    assert_eq!(got, [&done, &failed], "a follower who saw the start");

    let (all, _) = follow(store, ChangeToken::START, 50);
    assert_eq!(
        all.len(),
        data.len() + 1,
        "one change per event from the start"
    );
    let unique: HashSet<EventId> = all.iter().map(|c| c.event.id).collect();
    assert_eq!(unique.len(), all.len(), "no event twice from the start");
}

/// A record that does not replace the stored one (a resent start, an older final record)
/// makes no change; a final record after a start is one change, seen in its final state.
pub fn final_state_wins_in_the_feed(store: &dyn HistoryStore) {
    let (started, done) = call(1, 2);
    store
        .write_batch(std::slice::from_ref(&started))
        .expect("start");
    let (seen, token) = follow(store, ChangeToken::START, 10);
    assert_eq!(seen.len(), 1);
    assert_eq!(
        seen[0].event.status,
        EventStatus::InProgress,
        "marked in progress"
    );
    store
        .write_batch(&[done.clone(), started.clone()])
        .expect("final, then the start resent in the same batch");
    store.write_batch(&[started]).expect("start resent later");
    let mut older = done.clone();
    older.status = EventStatus::Failed;
    older.finished_at = Some(done.started_at);
    store.write_batch(&[older]).expect("an older final record");
    let (changes, last) = follow(store, token, 10);
    assert_eq!(changes.len(), 1, "only the final record is a change");
    assert_eq!(changes[0].event, done);
    assert_eq!(store.latest_change().expect("latest"), last);
    let (all, _) = follow(store, ChangeToken::START, 10);
    assert_eq!(all.len(), 1, "the start's change was replaced");
    assert_eq!(all[0].event, done);
}

/// Deleted events leave the feed; the numbers go on rising past every deleted change, so a
/// follower that read up to the newest change, deleted since, misses nothing written next.
pub fn retention_removes_changes(store: &dyn HistoryStore) {
    let mut data = sample_events(60, 42);
    data[59].status = EventStatus::Success;
    data[59].correlation_id = Some("feed-newest".into());
    store.write_batch(&data).expect("write_batch");
    let (_, before) = follow(store, ChangeToken::START, 100);
    let policy = Retention::matching(Filter::new().status(EventStatus::Failed));
    let report = store.purge(&policy).expect("purge");
    // The newest change deleted too.
    let newest = Retention::matching(Filter::new().correlation_id("feed-newest"));
    let also = store.purge(&newest).expect("purge the newest");
    assert!(report.deleted > 0);
    let (kept, _) = follow(store, ChangeToken::START, 7);
    let want: Vec<EventId> = data
        .iter()
        .filter(|e| e.status != EventStatus::Failed && e.id != data[59].id)
        .map(|e| e.id)
        .collect();
    let got: Vec<EventId> = kept.iter().map(|c| c.event.id).collect();
    assert_eq!(got, want, "what is left, in order");
    assert_eq!(
        report.deleted + also.deleted,
        (data.len() - want.len()) as u64
    );
    let more = sample_events(3, 43);
    store.write_batch(&more).expect("write after purge");
    let (changes, _) = follow(store, before, 10);
    let got: Vec<EventId> = changes.iter().map(|c| c.event.id).collect();
    let want: Vec<EventId> = more.iter().map(|e| e.id).collect();
    assert_eq!(
        got, want,
        "what was written after the purge, after the old token"
    );
}

/// A page size of 0 or above [`MAX_LIMIT`] is refused with an error naming `limit`.
pub fn changes_limit_is_validated(store: &dyn HistoryStore) {
    for bad in [0, MAX_LIMIT + 1] {
        let err = store
            .changes_after(ChangeToken::START, bad)
            .expect_err("limit out of range");
        let text = err.to_string();
        assert!(
            text.contains("limit") && text.contains(&MAX_LIMIT.to_string()),
            "the error names the field and the limit: {text}"
        );
    }
    store
        .changes_after(ChangeToken::START, MAX_LIMIT)
        .expect("the largest limit");
}

/// Writers on several threads (a start and a final record per call) while a follower polls:
/// the follower's tokens rise strictly (no repeats), it ends with every event in its final
/// state (no gaps), and each writer's final records reach it in the order they were
/// committed.
pub fn changes_under_concurrent_writers(store: &dyn HistoryStore) {
    const WRITERS: i64 = 4;
    const CALLS: i64 = 60;
    let done = std::sync::atomic::AtomicUsize::new(0);
    let (seen, written) = std::thread::scope(|s| {
        let writers: Vec<_> = (0..WRITERS)
            .map(|w| {
                let done = &done;
                s.spawn(move || {
                    let mut finals = Vec::new();
                    for i in 0..CALLS {
                        let (started, end) = call(i, w);
                        store.write_batch(&[started]).expect("start");
                        store
                            .write_batch(std::slice::from_ref(&end))
                            .expect("finish");
                        finals.push(end);
                    }
                    done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    finals
                })
            })
            .collect();
        let follower = s.spawn(|| {
            let mut token = ChangeToken::START;
            let mut seen: Vec<Change> = Vec::new();
            loop {
                let finished = done.load(std::sync::atomic::Ordering::SeqCst) == WRITERS as usize;
                let (changes, next) = follow(store, token, 5);
                if let (Some(last), Some(first)) = (seen.last(), changes.first()) {
                    assert!(first.token > last.token, "no repeats across polls");
                }
                token = next;
                seen.extend(changes);
                if finished {
                    return seen;
                }
                std::thread::yield_now();
            }
        });
        let written: Vec<Vec<Event>> = writers
            .into_iter()
            .map(|w| w.join().expect("writer"))
            .collect();
        (follower.join().expect("follower"), written)
    });
    let mut last: HashMap<EventId, &Change> = HashMap::new();
    for c in &seen {
        last.insert(c.event.id, c);
    }
    let total: usize = written.iter().map(Vec::len).sum();
    assert_eq!(last.len(), total, "every event reached the follower");
    for finals in &written {
        let mut previous = ChangeToken::START;
        for e in finals {
            let c = last.get(&e.id).expect("seen");
            assert_eq!(&c.event, e, "seen in its final state");
            assert!(c.token > previous, "one writer's commits in order");
            previous = c.token;
        }
    }
}
