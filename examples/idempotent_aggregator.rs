//! An idempotent aggregator: several publisher threads send events to one history, and about
//! 30 % of the sends repeat an event that was already sent (a retry after a lost
//! acknowledgement, a message queue delivering twice). The store keeps each event once —
//! writes are upserts by event id — and the duplicates are counted.
//!
//!     cargo run --example idempotent_aggregator

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use history::{Event, EventId, EventStatus, EventType, Filter, HistoryStore, Recorder};
use history_sqlite::SqliteStore;

const PUBLISHERS: u64 = 4;
const SENDS_PER_PUBLISHER: u64 = 2_500;
const DUPLICATE_PERCENT: u64 = 30;

/// A small xorshift per thread: the example needs no random crate.
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let work = tempfile::tempdir()?;
    let store = Arc::new(SqliteStore::open(work.path().join("aggregate.db"))?);
    let recorder = Recorder::new(store.clone())?;
    // Events sent so far, shared: a duplicate may repeat another publisher's event.
    let sent: Arc<Mutex<Vec<Event>>> = Arc::default();

    let publishers: Vec<_> = (0..PUBLISHERS)
        .map(|p| {
            let recorder = recorder.clone();
            let sent = sent.clone();
            std::thread::spawn(move || -> Result<(u64, u64), history::Error> {
                let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ ((p + 1) * 0x1000_0001));
                let (mut fresh, mut repeats) = (0, 0);
                for n in 0..SENDS_PER_PUBLISHER {
                    let repeat = {
                        let sent = sent.lock().unwrap_or_else(|e| e.into_inner());
                        (!sent.is_empty() && rng.below(100) < DUPLICATE_PERCENT)
                            .then(|| sent[rng.below(sent.len() as u64) as usize].clone())
                    };
                    let event = match repeat {
                        Some(event) => {
                            repeats += 1;
                            event
                        }
                        None => {
                            fresh += 1;
                            let event = Event::builder(EventType::VmStart, "aggregator::ingest")
                                .organization_id(p as i64)
                                .user_id(n)
                                .status(EventStatus::Success)
                                .build()?;
                            sent.lock()
                                .unwrap_or_else(|e| e.into_inner())
                                .push(event.clone());
                            event
                        }
                    };
                    recorder.record(event)?;
                }
                Ok((fresh, repeats))
            })
        })
        .collect();
    let (mut fresh, mut repeats) = (0, 0);
    for p in publishers {
        let (f, r) = p.join().map_err(|_| "a publisher panicked")??;
        fresh += f;
        repeats += r;
    }
    recorder.flush()?;

    let unique: HashSet<EventId> = sent
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .map(|e| e.id)
        .collect();
    let stored = store.count(&Filter::new())?;
    let stats = recorder.stats();
    println!(
        "publishers:        {PUBLISHERS} threads, {} sends",
        fresh + repeats
    );
    println!("fresh events:      {fresh}");
    println!(
        "duplicate sends:   {repeats} ({:.1} %)",
        100.0 * repeats as f64 / (fresh + repeats) as f64
    );
    println!("stored events:     {stored}");
    println!(
        "recorder:          {} recorded, {} written, {} lost",
        stats.recorded, stats.written, stats.lost
    );
    println!(
        "duplicates seen:   {} (recorded − stored)",
        stats.recorded - stored
    );
    if stored != unique.len() as u64 || stored != fresh {
        return Err(format!(
            "expected {} events stored once each, found {stored}",
            unique.len()
        )
        .into());
    }
    if stats.recorded - stored != repeats {
        return Err("the duplicate count does not match what was sent twice".into());
    }
    Ok(())
}
