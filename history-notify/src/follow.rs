//! The notifier's thread: read the feed, evaluate, save, deliver, sleep — until stopped.

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use history::HistoryStore;

use crate::builder::{NotifierBuilder, FEED_BATCH};
use crate::channel::Channel;
use crate::evaluate::Evaluator;
use crate::shared::Shared;
use crate::state::{State, StateFile};

/// Most deliveries attempted between two reads of the feed.
const DELIVERIES_PER_ROUND: usize = 64;

/// The thread's own state.
pub(crate) struct Worker {
    store: Arc<dyn HistoryStore>,
    file: Option<StateFile>,
    state: State,
    evaluator: Evaluator,
    channels: HashMap<String, Arc<dyn Channel>>,
    shared: Arc<Shared>,
    poll_interval: Duration,
    initial_backoff: Duration,
    max_backoff: Duration,
    max_attempts: Option<u32>,
    /// The state changed since it was last saved.
    dirty: bool,
    jitter: RandomState,
}

impl Worker {
    pub(crate) fn new(
        config: NotifierBuilder,
        store: Arc<dyn HistoryStore>,
        file: Option<StateFile>,
        state: State,
        evaluator: Evaluator,
        shared: Arc<Shared>,
    ) -> Worker {
        let channels = config
            .rules
            .iter()
            .filter_map(|r| Some((r.name.clone(), r.channel.clone()?)))
            .collect();
        Worker {
            store,
            file,
            state,
            evaluator,
            channels,
            shared,
            poll_interval: config.poll_interval,
            initial_backoff: config.initial_backoff,
            max_backoff: config.max_backoff,
            max_attempts: config.max_attempts,
            dirty: false,
            jitter: RandomState::new(),
        }
    }

    pub(crate) fn run(mut self) {
        loop {
            let stopping = self.shared.stop.load(Ordering::SeqCst);
            if self.shared.retry_failed.swap(false, Ordering::SeqCst) {
                self.requeue_failed();
            }
            let more = self.read_feed();
            if self
                .evaluator
                .tick(&mut self.state, &mut self.shared.stats(), Utc::now())
            {
                self.dirty = true;
            }
            // Saved before anything is delivered: a message is never sent unless it is also
            // remembered (or its change will be read again).
            self.save();
            if stopping {
                self.publish();
                return;
            }
            if self.deliver_due() {
                self.dirty = true;
                self.save();
            }
            self.publish();
            if !more {
                self.sleep();
            }
        }
    }

    /// Reads and evaluates one page of the feed. Returns whether there may be more.
    fn read_feed(&mut self) -> bool {
        match self.store.changes_after(self.state.after, FEED_BATCH) {
            Ok(page) => {
                let now = Utc::now();
                let n = page.changes.len();
                {
                    let mut stats = self.shared.stats();
                    for change in &page.changes {
                        self.evaluator
                            .on_change(&change.event, &mut self.state, &mut stats, now);
                    }
                    stats.changes += n as u64;
                }
                if page.next != self.state.after {
                    self.state.after = page.next;
                    self.dirty = true;
                }
                n == FEED_BATCH
            }
            Err(e) => {
                self.shared.stats().feed_errors += 1;
                tracing::warn!(error = %e, "history-notify: reading the change feed failed; retrying");
                false
            }
        }
    }

    fn save(&mut self) {
        if !self.dirty {
            return;
        }
        match &self.file {
            None => self.dirty = false,
            Some(file) => match file.save(&self.state) {
                Ok(()) => self.dirty = false,
                Err(e) => {
                    self.shared.stats().state_errors += 1;
                    tracing::error!(error = %e, "history-notify: saving the notifier state failed; retrying");
                }
            },
        }
    }

    /// Attempts the deliveries that are due. Returns whether the state changed.
    fn deliver_due(&mut self) -> bool {
        let now_ms = Utc::now().timestamp_millis();
        let mut changed = false;
        let mut attempted = 0;
        let mut i = 0;
        while i < self.state.pending.len() && attempted < DELIVERIES_PER_ROUND {
            if self.shared.stop.load(Ordering::SeqCst) {
                break;
            }
            let d = &self.state.pending[i];
            if d.next_attempt_ms > now_ms {
                i += 1;
                continue;
            }
            attempted += 1;
            changed = true;
            let rule = d.notification.rule.clone();
            let result = match self.channels.get(&rule) {
                Some(channel) => channel.deliver(&d.notification).map_err(|e| e.to_string()),
                None => Err(format!("no rule named {rule:?} in this notifier")),
            };
            match result {
                Ok(()) => {
                    let done = self.state.pending.remove(i);
                    let mut stats = self.shared.stats();
                    let r = stats.rule(&rule);
                    r.delivered += 1;
                    r.consecutive_failures = 0;
                    if let Some(d) = done {
                        tracing::debug!(rule, key = %d.notification.key, attempts = d.attempts + 1, "history-notify: delivered");
                    }
                }
                Err(error) => {
                    let delay = self.backoff(
                        &self.state.pending[i].notification.key,
                        self.state.pending[i].attempts + 1,
                    );
                    let d = &mut self.state.pending[i];
                    d.attempts += 1;
                    d.next_attempt_ms = Utc::now()
                        .timestamp_millis()
                        .saturating_add(i64::try_from(delay.as_millis()).unwrap_or(i64::MAX));
                    d.last_error = Some(error.clone());
                    let attempts = d.attempts;
                    let key = d.notification.key.clone();
                    let give_up = self.max_attempts.is_some_and(|max| attempts >= max);
                    {
                        let mut stats = self.shared.stats();
                        let r = stats.rule(&rule);
                        r.consecutive_failures += 1;
                        r.last_error = Some(error.clone());
                        if !give_up {
                            r.retried += 1;
                        }
                    }
                    if give_up {
                        if let Some(d) = self.state.pending.remove(i) {
                            self.state.failed.push(d);
                        }
                        tracing::error!(rule, key, attempts, error, "history-notify: delivery failed; giving up (kept in the state: Notifier::retry_failed)");
                    } else {
                        tracing::warn!(rule, key, attempts, error, retry_in = ?delay, "history-notify: delivery failed; will retry");
                        i += 1;
                    }
                }
            }
        }
        changed
    }

    /// The delay before attempt `attempt + 1`: doubling from the initial backoff, capped, with
    /// ±20 % jitter.
    fn backoff(&self, key: &str, attempt: u32) -> Duration {
        let exp = attempt.saturating_sub(1).min(30);
        let base = self
            .initial_backoff
            .saturating_mul(1u32 << exp)
            .min(self.max_backoff);
        let r = self.jitter.hash_one((key, attempt)) % 401; // 0..=400
        base.mul_f64(0.8 + r as f64 / 1000.0)
    }

    fn requeue_failed(&mut self) {
        let now_ms = Utc::now().timestamp_millis();
        for mut d in self.state.failed.drain(..) {
            d.attempts = 0;
            d.next_attempt_ms = now_ms;
            self.state.pending.push_back(d);
            self.dirty = true;
        }
    }

    /// Copies the progress into the shared stats and wakes waiters.
    pub(crate) fn publish(&self) {
        {
            let mut stats = self.shared.stats();
            stats.after = self.state.after;
            for r in stats.rules.values_mut() {
                r.pending = 0;
                r.failed = 0;
            }
            for d in &self.state.pending {
                stats.rule(&d.notification.rule).pending += 1;
            }
            for d in &self.state.failed {
                stats.rule(&d.notification.rule).failed += 1;
            }
            for (name, rs) in &self.state.rules {
                if rs.group.is_some() {
                    stats.rule(name).pending += 1;
                }
            }
        }
        self.shared.progress.notify_all();
    }

    /// Waits for the poll interval, the next due delivery or group, or a nudge.
    fn sleep(&self) {
        let now_ms = Utc::now().timestamp_millis();
        let next_due = self
            .state
            .pending
            .iter()
            .map(|d| d.next_attempt_ms)
            .chain(Evaluator::next_group_due(&self.state))
            .min();
        let mut wait = self.poll_interval;
        if let Some(due) = next_due {
            let until = Duration::from_millis(u64::try_from(due - now_ms).unwrap_or(0));
            wait = wait.min(until);
        }
        if wait.is_zero() {
            return;
        }
        let guard = self
            .shared
            .wake_lock
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if self.shared.stop.load(Ordering::SeqCst)
            || self.shared.retry_failed.load(Ordering::SeqCst)
            || self.shared.committed.swap(false, Ordering::SeqCst)
        {
            return;
        }
        let _ = self.shared.wake.wait_timeout(guard, wait);
    }
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("after", &self.state.after)
            .finish_non_exhaustive()
    }
}
