//! Backtraces of failed calls: captured on the caller's thread as frames only, turned into
//! text on the writer's thread.
//!
//! Resolving a backtrace's symbols (reading debug information, demangling) costs tens to
//! hundreds of microseconds, far more than the call being recorded; walking the stack for
//! its frames costs a few. So the caller keeps the unresolved [`Backtrace`] here under the
//! event's id, and the writer sets the text on the event's final record when it takes that
//! record off the queue — before the record reaches the store, the spill file or anyone
//! else. A backtrace holds function names and source locations only, never captured values.

use std::backtrace::Backtrace;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use parking_lot::Mutex;

use crate::event::{Event, EventId};
use crate::redact::cut;

/// At most this many backtraces wait to be resolved; past it, a caller resolves its own.
/// Only reached when final records are refused (queue full under drop-newest, recorder
/// closed), whose entries are never claimed.
const MAX_PENDING: usize = 4_096;

/// Unresolved backtraces by event id, waiting for their final records.
#[derive(Debug)]
pub(crate) struct PendingBacktraces {
    pending: Mutex<HashMap<EventId, Backtrace>>,
    /// How many wait: the writer looks at nothing else while it is zero.
    len: AtomicUsize,
    /// The longest backtrace text kept, in bytes.
    max_bytes: usize,
}

impl PendingBacktraces {
    pub(super) fn new(max_bytes: usize) -> PendingBacktraces {
        PendingBacktraces {
            pending: Mutex::new(HashMap::new()),
            len: AtomicUsize::new(0),
            max_bytes,
        }
    }

    /// Keeps `backtrace` for the final record of `id`, to be resolved by the writer; gives
    /// it back when too many wait already.
    pub(super) fn defer(&self, id: EventId, backtrace: Backtrace) -> Result<(), Backtrace> {
        let mut pending = self.pending.lock();
        if pending.len() >= MAX_PENDING {
            return Err(backtrace);
        }
        pending.insert(id, backtrace);
        self.len.store(pending.len(), Ordering::Release);
        Ok(())
    }

    /// Sets the text of every waiting backtrace whose event's final, failed record is in
    /// `batch` (the writer calls this on each batch it takes, before writing it).
    pub(super) fn resolve(&self, batch: &mut [Event]) {
        if self.len.load(Ordering::Acquire) == 0 {
            return;
        }
        let mut pending = self.pending.lock();
        for event in batch.iter_mut() {
            let Some(error) = event.error.as_deref_mut() else {
                continue;
            };
            if error.backtrace.is_some() {
                continue;
            }
            if let Some(backtrace) = pending.remove(&event.id) {
                let mut text = backtrace.to_string();
                cut(&mut text, self.max_bytes);
                error.backtrace = Some(text);
            }
        }
        self.len.store(pending.len(), Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{ErrorInfo, EventStatus, EventType};

    fn failed() -> Event {
        let mut e = Event::new(EventType::VmStart, "op");
        e.finish(EventStatus::Failed);
        e.error = Some(Box::new(ErrorInfo::new("boom")));
        e
    }

    #[test]
    fn the_writer_sets_the_text_on_the_final_record_only() {
        let pending = PendingBacktraces::new(8 * 1024);
        let e = failed();
        let other = failed();
        pending.defer(e.id, Backtrace::force_capture()).unwrap();
        let mut in_progress = Event::new(EventType::VmStart, "op");
        in_progress.id = e.id;
        let mut batch = vec![in_progress, other];
        pending.resolve(&mut batch);
        assert!(batch
            .iter()
            .all(|e| e.error.as_ref().is_none_or(|x| x.backtrace.is_none())));
        let mut batch = vec![e];
        pending.resolve(&mut batch);
        let text = batch[0].error.as_ref().unwrap().backtrace.clone().unwrap();
        assert!(text.contains("the_writer_sets_the_text"), "{text}");
        assert_eq!(pending.len.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn past_the_cap_the_caller_keeps_its_backtrace() {
        let pending = PendingBacktraces::new(8 * 1024);
        for _ in 0..MAX_PENDING {
            pending
                .defer(EventId::new(), Backtrace::disabled())
                .unwrap();
        }
        assert!(pending
            .defer(EventId::new(), Backtrace::disabled())
            .is_err());
    }

    #[test]
    fn a_long_backtrace_is_cut_to_the_error_limit() {
        let pending = PendingBacktraces::new(100);
        let e = failed();
        pending.defer(e.id, Backtrace::force_capture()).unwrap();
        let mut batch = vec![e];
        pending.resolve(&mut batch);
        let text = batch[0].error.as_ref().unwrap().backtrace.clone().unwrap();
        assert!(text.len() <= 100 && text.contains("[cut:"), "{text}");
    }
}
