//! [`SinkLossCounter`]: how sinks on the change feed report what they could not deliver.

use std::fmt;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::queue::Shared;

/// Where a sink on a [`Recorder`](crate::Recorder)'s change feed (an exporter, a forwarder)
/// counts the committed records it could not deliver: the ones its
/// [`Subscription`](crate::Subscription) lost while it lagged, and the ones it gave up
/// sending. They show in [`RecorderStats::sink_lost`](crate::RecorderStats::sink_lost) and in
/// the metric `history_recorder_sink_lost_total` (feature `metrics`).
///
/// Made by [`Recorder::sink_loss_counter`](crate::Recorder::sink_loss_counter). Cheap to
/// clone; it does not keep the recorder open.
///
/// ```
/// use history::{MemoryStore, Recorder};
///
/// let recorder = Recorder::new(MemoryStore::new())?;
/// let losses = recorder.sink_loss_counter();
/// losses.add(3);
/// assert_eq!(recorder.stats().sink_lost, 3);
/// # Ok::<(), history::Error>(())
/// ```
#[derive(Clone)]
pub struct SinkLossCounter {
    shared: Arc<Shared>,
}

impl SinkLossCounter {
    pub(super) fn new(shared: Arc<Shared>) -> SinkLossCounter {
        SinkLossCounter { shared }
    }

    /// Counts `count` more records a sink could not deliver.
    pub fn add(&self, count: u64) {
        if count > 0 {
            self.shared
                .counters
                .sink_lost
                .fetch_add(count, Ordering::Relaxed);
        }
    }

    /// How many have been counted so far, by every sink of the recorder.
    pub fn total(&self) -> u64 {
        self.shared.counters.sink_lost.load(Ordering::Relaxed)
    }
}

impl fmt::Debug for SinkLossCounter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SinkLossCounter")
            .field("total", &self.total())
            .finish()
    }
}
