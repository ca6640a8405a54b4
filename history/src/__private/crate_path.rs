//! `crate = path`: the expansion reaches `history` only through the path it is given. Inside
//! this crate `::history` does not exist, so these functions compile only if no generated
//! path falls back to it.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use crate::{EventStatus, EventType, MemoryStore, Recorder};

#[crate::track_history(crate = crate, event_type = EventType::VmCreate, recorder = rec, skip(rec), user_id = user)]
fn create(rec: &Recorder, user: u64) -> Result<u64, std::io::Error> {
    let _ = rec;
    Ok(user + 1)
}

#[crate::track_history(crate = crate, event_type = "renamed_async", recorder = rec, skip(rec))]
async fn later(rec: &Recorder, n: u32) -> u32 {
    let _ = rec;
    n * 2
}

#[crate::track_terraform(crate = crate, command = command, recorder = rec, skip(rec))]
fn run(rec: &Recorder, command: &str) -> Result<(), std::io::Error> {
    let _ = (rec, command);
    Ok(())
}

#[test]
fn the_expansion_uses_the_given_crate_path() {
    let store = Arc::new(MemoryStore::new());
    let rec = Recorder::builder()
        .build_shared(store.clone())
        .expect("recorder starts");
    assert_eq!(create(&rec, 41).expect("created"), 42);
    let mut fut = pin!(later(&rec, 4));
    let polled = fut.as_mut().poll(&mut Context::from_waker(Waker::noop()));
    assert_eq!(polled, Poll::Ready(8));
    run(&rec, "plan").expect("planned");
    rec.flush().expect("flush");
    let events = store.all();
    let types: Vec<&EventType> = events.iter().map(|e| &e.event_type).collect();
    assert_eq!(
        types,
        [
            &EventType::VmCreate,
            &EventType::custom("renamed_async").expect("valid"),
            &EventType::TerraformPlan
        ]
    );
    assert!(events.iter().all(|e| e.status == EventStatus::Success));
    assert_eq!(events[0].user_id, Some(41.into()));
}
