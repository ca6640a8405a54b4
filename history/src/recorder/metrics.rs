//! Metrics through the [`metrics`](https://docs.rs/metrics) facade (feature `metrics`),
//! emitted on the writer thread only: what was committed, and the recorder's health. Without
//! the feature every method is an empty inline function.
//!
//! | name | kind | labels |
//! | --- | --- | --- |
//! | `history_events_total` | counter | `event_type`, `status` |
//! | `history_event_duration_seconds` | histogram | `event_type` |
//! | `history_recorder_queue_depth` | gauge | |
//! | `history_recorder_events_written_total` | counter | |
//! | `history_recorder_events_dropped_total` | counter | |
//! | `history_recorder_events_lost_total` | counter | |
//! | `history_recorder_events_spilled_total` | counter | |
//! | `history_recorder_events_replayed_total` | counter | |
//! | `history_recorder_events_duplicate_total` | counter | |
//! | `history_recorder_store_errors_total` | counter | |
//! | `history_recorder_sink_lost_total` | counter | |
//! | `history_recorder_commit_seconds` | histogram | |
//!
//! Handles are taken from the installed metrics recorder when the writer first needs them
//! (once per label set, then kept): install the exporter before building the
//! [`Recorder`](crate::Recorder). Committed records are counted per batch, so a counter moves
//! once per commit by the number of records, not once per record.

use super::queue::Shared;
use crate::event::Event;

#[cfg(feature = "metrics")]
pub(super) use enabled::Metrics;

#[cfg(not(feature = "metrics"))]
pub(super) use disabled::Metrics;

#[cfg(not(feature = "metrics"))]
mod disabled {
    use super::{Event, Shared};

    /// Nothing to emit.
    pub(crate) struct Metrics;

    impl Metrics {
        #[inline(always)]
        pub(crate) fn new() -> Metrics {
            Metrics
        }
        #[inline(always)]
        pub(crate) fn start(&self) -> Option<std::time::Instant> {
            None
        }
        #[inline(always)]
        pub(crate) fn commit_took(&self, _started: Option<std::time::Instant>) {}
        #[inline(always)]
        pub(crate) fn committed(&mut self, _events: &[Event]) {}
        #[inline(always)]
        pub(crate) fn queue_depth(&self, _events: usize) {}
        #[inline(always)]
        pub(crate) fn health(&self, _shared: &Shared) {}
    }
}

#[cfg(feature = "metrics")]
mod enabled {
    use std::collections::HashMap;
    use std::sync::atomic::Ordering;
    use std::time::Instant;

    use metrics::{counter, gauge, histogram, Counter, Gauge, Histogram};

    use super::{Event, Shared};
    use crate::event::{EventStatus, EventType};

    /// How many statuses there are (one counter slot each).
    const STATUSES: usize = EventStatus::ALL.len();

    /// The writer's metric handles, registered once per label set and kept, so that an update
    /// is an operation on the handle, never a registry lookup.
    #[derive(Default)]
    pub(crate) struct Metrics {
        /// Where each event type's handles are in `types`.
        index: HashMap<EventType, usize>,
        types: Vec<TypeMetrics>,
        /// The types counted in the batch being tallied (indices into `types`); kept empty
        /// between batches, its buffer reused.
        touched: Vec<usize>,
        health: Option<Health>,
    }

    /// One event type's handles, and its records counted in the batch being tallied.
    struct TypeMetrics {
        event_type: EventType,
        /// `history_events_total` per status, registered when the status first occurs.
        totals: [Option<Counter>; STATUSES],
        /// Records of the batch being tallied, per status, not yet added to `totals`.
        pending: [u64; STATUSES],
        durations: Histogram,
    }

    impl TypeMetrics {
        fn new(event_type: &EventType) -> TypeMetrics {
            TypeMetrics {
                event_type: event_type.clone(),
                totals: Default::default(),
                pending: [0; STATUSES],
                durations: histogram!(
                    "history_event_duration_seconds",
                    "event_type" => event_type.as_str().to_owned()
                ),
            }
        }

        /// Adds the pending counts to the counters.
        fn settle(&mut self) {
            for (slot, n) in self.pending.iter_mut().enumerate() {
                if *n == 0 {
                    continue;
                }
                let event_type = &self.event_type;
                self.totals[slot]
                    .get_or_insert_with(|| {
                        counter!(
                            "history_events_total",
                            "event_type" => event_type.as_str().to_owned(),
                            "status" => EventStatus::ALL[slot].as_str()
                        )
                    })
                    .increment(*n);
                *n = 0;
            }
        }
    }

    struct Health {
        queue_depth: Gauge,
        written: Counter,
        dropped: Counter,
        lost: Counter,
        spilled: Counter,
        replayed: Counter,
        duplicates: Counter,
        store_errors: Counter,
        sink_lost: Counter,
        commit: Histogram,
    }

    impl Health {
        fn new() -> Health {
            Health {
                queue_depth: gauge!("history_recorder_queue_depth"),
                written: counter!("history_recorder_events_written_total"),
                dropped: counter!("history_recorder_events_dropped_total"),
                lost: counter!("history_recorder_events_lost_total"),
                spilled: counter!("history_recorder_events_spilled_total"),
                replayed: counter!("history_recorder_events_replayed_total"),
                duplicates: counter!("history_recorder_events_duplicate_total"),
                store_errors: counter!("history_recorder_store_errors_total"),
                sink_lost: counter!("history_recorder_sink_lost_total"),
                commit: histogram!("history_recorder_commit_seconds"),
            }
        }
    }

    impl Metrics {
        pub(crate) fn new() -> Metrics {
            Metrics::default()
        }

        fn handles(&self) -> Option<&Health> {
            self.health.as_ref()
        }

        fn ensure_health(&mut self) -> &Health {
            self.health.get_or_insert_with(Health::new)
        }

        /// When a store call starts (for [`Metrics::commit_took`]).
        #[inline]
        pub(crate) fn start(&self) -> Option<Instant> {
            Some(Instant::now())
        }

        /// A commit (or a whole write) that started at `started` returned.
        pub(crate) fn commit_took(&self, started: Option<Instant>) {
            if let (Some(h), Some(t)) = (self.handles(), started) {
                h.commit.record(t.elapsed().as_secs_f64());
            }
        }

        /// The position of `event_type`'s handles in `types`, registering them the first
        /// time the type is seen.
        fn slot(&mut self, event_type: &EventType) -> usize {
            if let Some(&slot) = self.index.get(event_type) {
                return slot;
            }
            let slot = self.types.len();
            self.types.push(TypeMetrics::new(event_type));
            self.index.insert(event_type.clone(), slot);
            slot
        }

        /// Records that were just committed: counted per (type, status) over the batch and
        /// added to each counter once; each duration recorded into its type's histogram. One
        /// map lookup per run of records of the same type, no allocation once every type and
        /// status has been seen.
        pub(crate) fn committed(&mut self, events: &[Event]) {
            let mut rest = events;
            while let Some(first) = rest.first() {
                let run = rest
                    .iter()
                    .position(|e| e.event_type != first.event_type)
                    .unwrap_or(rest.len());
                let slot = self.slot(&first.event_type);
                let t = &mut self.types[slot];
                if t.pending.iter().all(|&n| n == 0) {
                    self.touched.push(slot);
                }
                for e in &rest[..run] {
                    t.pending[e.status as usize] += 1;
                    if let Some(d) = e.duration {
                        t.durations.record(d.as_secs_f64());
                    }
                }
                rest = &rest[run..];
            }
            for slot in self.touched.drain(..) {
                self.types[slot].settle();
            }
        }

        /// How many events were waiting when the writer took a batch.
        pub(crate) fn queue_depth(&self, events: usize) {
            if let Some(h) = self.handles() {
                h.queue_depth.set(events as f64);
            }
        }

        /// The recorder's counters, as they are now (callers count some of them; the writer
        /// reports them).
        pub(crate) fn health(&mut self, shared: &Shared) {
            let h = self.ensure_health();
            let c = &shared.counters;
            h.written.absolute(c.written.load(Ordering::Relaxed));
            h.dropped.absolute(c.dropped.load(Ordering::Relaxed));
            h.spilled.absolute(c.spilled.load(Ordering::Relaxed));
            h.replayed.absolute(c.replayed.load(Ordering::Relaxed));
            h.duplicates.absolute(c.duplicates.load(Ordering::Relaxed));
            h.store_errors
                .absolute(c.write_errors.load(Ordering::Relaxed));
            h.sink_lost.absolute(c.sink_lost.load(Ordering::Relaxed));
            h.lost.absolute(shared.lock().lost);
        }
    }
}
