//! [`ExportStats`]: what an exporter sent, and what it could not.

use std::sync::atomic::{AtomicU64, Ordering};

/// Counters of an [`OtlpExporter`](crate::OtlpExporter) since it started.
///
/// Every final record the exporter's subscription delivered is, in the end, exactly one of
/// `exported`, `rejected` or `dropped`; records the subscription lost before delivering them
/// are `lagged`. What was not exported (`lagged + dropped + rejected`) is also reported to
/// the recorder ([`RecorderStats::sink_lost`](history::RecorderStats::sink_lost)).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExportStats {
    /// Records the receiver accepted.
    pub exported: u64,
    /// Requests the receiver accepted.
    pub batches: u64,
    /// Records the receiver accepted the request of but rejected (an OTLP partial success).
    pub rejected: u64,
    /// Records given up on: their request was refused for good (a 4xx answer other than 429),
    /// or kept failing for longer than the retry limit, or was still failing at shutdown.
    pub dropped: u64,
    /// Records the subscription lost because the exporter fell behind (its buffer was full
    /// while the exporter waited for the receiver, or could not keep up).
    pub lagged: u64,
    /// Failed attempts to send a request (each retried or given up on).
    pub failed_attempts: u64,
    /// Records waiting in the subscription's buffer now.
    pub buffered: u64,
}

impl ExportStats {
    /// Records that never reached the receiver: `lagged + dropped + rejected`.
    pub fn lost(&self) -> u64 {
        self.lagged + self.dropped + self.rejected
    }
}

/// The live counters, shared by the export thread and the handle.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) exported: AtomicU64,
    pub(crate) batches: AtomicU64,
    pub(crate) rejected: AtomicU64,
    pub(crate) dropped: AtomicU64,
    pub(crate) lagged: AtomicU64,
    pub(crate) failed_attempts: AtomicU64,
    pub(crate) buffered: AtomicU64,
}

impl Counters {
    pub(crate) fn snapshot(&self) -> ExportStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        ExportStats {
            exported: get(&self.exported),
            batches: get(&self.batches),
            rejected: get(&self.rejected),
            dropped: get(&self.dropped),
            lagged: get(&self.lagged),
            failed_attempts: get(&self.failed_attempts),
            buffered: get(&self.buffered),
        }
    }
}
