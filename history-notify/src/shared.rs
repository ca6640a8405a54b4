//! What a [`Notifier`](crate::Notifier) handle and its thread share: the stats, and the flags
//! and condition variables that stop, nudge and report.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};

use crate::stats::NotifierStats;

/// What the handle and the thread share.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    pub(crate) stats: Mutex<NotifierStats>,
    /// Signalled whenever the stats change (for [`Notifier::wait_idle`]).
    pub(crate) progress: Condvar,
    pub(crate) stop: AtomicBool,
    pub(crate) retry_failed: AtomicBool,
    /// Something was committed: read the feed now ([`NotifierBuilder::wake_on`](crate::NotifierBuilder::wake_on)).
    pub(crate) committed: AtomicBool,
    /// Wakes the thread early (stop, retry, a commit).
    pub(crate) wake: Condvar,
    pub(crate) wake_lock: Mutex<()>,
}

impl Shared {
    pub(crate) fn stats(&self) -> MutexGuard<'_, NotifierStats> {
        self.stats.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Wakes the thread because something was committed.
    pub(crate) fn nudge_commit(&self) {
        self.committed.store(true, Ordering::SeqCst);
        self.nudge();
    }

    pub(crate) fn nudge(&self) {
        let _guard = self.wake_lock.lock().unwrap_or_else(|e| e.into_inner());
        self.wake.notify_all();
    }
}
