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
//! Handles are taken from the installed metrics recorder when the writer first needs them:
//! install the exporter before building the [`Recorder`](crate::Recorder).

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

    /// The writer's metric handles (taken once, then each update is an atomic operation).
    #[derive(Default)]
    pub(crate) struct Metrics {
        events: HashMap<(EventType, EventStatus), Counter>,
        durations: HashMap<EventType, Histogram>,
        health: Option<Health>,
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

        /// Events that were just committed.
        pub(crate) fn committed(&mut self, events: &[Event]) {
            for e in events {
                let key = (e.event_type.clone(), e.status);
                let total = match self.events.get(&key) {
                    Some(c) => c,
                    None => {
                        let c = counter!(
                            "history_events_total",
                            "event_type" => e.event_type.as_str().to_owned(),
                            "status" => e.status.as_str()
                        );
                        self.events.entry(key).or_insert(c)
                    }
                };
                total.increment(1);
                if let Some(d) = e.duration {
                    let h = match self.durations.get(&e.event_type) {
                        Some(h) => h,
                        None => {
                            let h = histogram!(
                                "history_event_duration_seconds",
                                "event_type" => e.event_type.as_str().to_owned()
                            );
                            self.durations.entry(e.event_type.clone()).or_insert(h)
                        }
                    };
                    h.record(d.as_secs_f64());
                }
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
