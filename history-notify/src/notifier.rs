//! [`Notifier`]: the running notifier — a thread following a store's change feed — and the
//! handle to watch, wait for and stop it.

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use chrono::Utc;
use history::{ChangeToken, HistoryStore, Query, Subscription};

use crate::builder::{NotifierBuilder, StartFrom};
use crate::error::NotifyError;
use crate::evaluate::Evaluator;
use crate::follow::Worker;
use crate::rule::Trigger;
use crate::shared::Shared;
use crate::state::{State, StateFile};
use crate::stats::NotifierStats;

/// Most events read from the store to fill one window rule's window at start.
const MAX_PRIME_EVENTS: usize = 100_000;

/// Follows a store's committed change feed, evaluates [`Rule`](crate::Rule)s, and delivers
/// their notifications at least once.
///
/// - **What is followed**: [`HistoryStore::changes_after`](history::HistoryStore::changes_after)
///   — every committed insert and update, in commit order, from this process or any other
///   writing the same store. The committed feed is the outbox: a notification exists only for
///   an event that is committed, and the event's commit is what makes its notification due.
/// - **At least once, across crashes**: with a [state file](NotifierBuilder::state_file), the
///   notifier saves (privately, atomically) the token up to which the feed is evaluated
///   together with every notification not yet acknowledged, *before* it delivers any of
///   them. After a crash it resumes from the saved token and retries what is pending; a
///   notification may then be delivered twice, always under the same idempotency key
///   (`<rule>/<event id>`), so a receiver that remembers keys acts once.
/// - **Retries**: a failed attempt is retried with exponential backoff (±20 % jitter), for
///   ever unless [`NotifierBuilder::max_attempts`] says otherwise; every failure is logged
///   through `tracing` and counted per rule ([`Notifier::stats`]).
/// - **Storms**: a rule sends at most one message per grouping interval; what matches
///   meanwhile goes out as one message with a count.
/// - Deliveries run one at a time on the notifier's thread, so a receiver that answers
///   slowly delays the others by up to its channel's timeout.
///
/// Dropping the notifier stops it (its progress is saved); [`Notifier::shutdown`] does the
/// same and reports.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use std::time::Duration;
/// use history::{Event, EventStatus, EventType, Filter, MemoryStore, Recorder};
/// use history_notify::{Callback, Notifier, Rule};
///
/// let store = Arc::new(MemoryStore::new());
/// let recorder = Recorder::new(store.clone())?;
/// let seen = Arc::new(Mutex::new(Vec::new()));
/// let sink = seen.clone();
/// let notifier = Notifier::builder()
///     .rule(
///         Rule::each("failed-apply", Filter::new().event_type(EventType::TerraformApply).status(EventStatus::Failed))
///             .to(Callback::new(move |n| {
///                 sink.lock().unwrap().push(n.summary.clone());
///                 Ok(())
///             })),
///     )
///     .start(store.clone())?;
///
/// let failed = Event::builder(EventType::TerraformApply, "infra::apply")
///     .status(EventStatus::Failed)
///     .build()?;
/// recorder.record(failed)?;
/// recorder.flush()?;
/// notifier.wait_idle(Duration::from_secs(10))?;
/// assert_eq!(seen.lock().unwrap().len(), 1);
/// assert_eq!(notifier.stats().delivered(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Notifier {
    shared: Arc<Shared>,
    store: Arc<dyn HistoryStore>,
    thread: Option<JoinHandle<()>>,
    /// Wakes the thread when the recorder commits ([`NotifierBuilder::wake_on`]).
    waker: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl Notifier {
    /// Starts configuring a notifier.
    pub fn builder() -> NotifierBuilder {
        NotifierBuilder::default()
    }

    pub(crate) fn start(
        mut config: NotifierBuilder,
        store: Arc<dyn HistoryStore>,
    ) -> Result<Notifier, NotifyError> {
        let file = config
            .state_file
            .as_deref()
            .map(StateFile::open)
            .transpose()?;
        let saved = match &file {
            Some(f) => f.load()?,
            None => None,
        };
        let state = match saved {
            Some(state) => state,
            None => State::new(match config.start_from {
                StartFrom::Now => store.latest_change()?,
                StartFrom::Beginning => ChangeToken::START,
            }),
        };
        let mut evaluator = Evaluator::new(config.rules.clone(), config.policy.clone());
        prime_windows(&mut evaluator, store.as_ref())?;
        if let Some(f) = &file {
            f.save(&state)?;
        }
        let shared = Arc::new(Shared::default());
        {
            let mut stats = shared.stats();
            stats.after = state.after;
            for rule in evaluator.rules() {
                stats.rule(rule.name());
            }
        }
        let wake = config.wake.take();
        let worker = Worker::new(
            config,
            store.clone(),
            file,
            state,
            evaluator,
            shared.clone(),
        );
        // What was pending when the notifier stopped is pending now, before the thread runs.
        worker.publish();
        let thread = std::thread::Builder::new()
            .name("history-notify".into())
            .spawn(move || worker.run())
            .map_err(NotifyError::Spawn)?;
        let mut notifier = Notifier {
            shared: shared.clone(),
            store,
            thread: Some(thread),
            waker: None,
        };
        if let Some(subscription) = wake {
            // On error, dropping `notifier` stops its thread.
            notifier.waker = Some(spawn_waker(subscription, shared)?);
        }
        Ok(notifier)
    }

    /// What the notifier has done since it started, per rule.
    pub fn stats(&self) -> NotifierStats {
        self.shared.stats().clone()
    }

    /// Waits until every change committed before this call has been evaluated and every
    /// notification made so far has been delivered (or given up on). Open storm groups count
    /// as pending: a rule with a long grouping interval keeps this waiting until the group is
    /// sent.
    pub fn wait_idle(&self, timeout: Duration) -> Result<(), NotifyError> {
        let target = self.store.latest_change()?;
        let started = Instant::now();
        let mut stats = self.shared.stats();
        loop {
            if stats.after >= target && stats.pending() == 0 {
                return Ok(());
            }
            let waited = started.elapsed();
            if waited >= timeout || self.thread.as_ref().is_none_or(|t| t.is_finished()) {
                return Err(NotifyError::Timeout {
                    waited,
                    pending: stats.pending() as usize,
                    at: stats.after.to_string(),
                    behind: format!("the feed's newest change was {target}"),
                });
            }
            let wait = (timeout - waited).min(Duration::from_millis(100));
            stats = match self.shared.progress.wait_timeout(stats, wait) {
                Ok((guard, _)) => guard,
                Err(e) => e.into_inner().0,
            };
        }
    }

    /// Moves the messages given up on ([`NotifierBuilder::max_attempts`]) back to pending,
    /// to be tried again now.
    pub fn retry_failed(&self) {
        self.shared.retry_failed.store(true, Ordering::SeqCst);
        self.shared.nudge();
    }

    /// Stops the notifier after the delivery in flight, saves its progress, and returns its
    /// stats. What is still pending is delivered by the next notifier on the same state file.
    pub fn shutdown(mut self) -> Result<NotifierStats, NotifyError> {
        self.stop()?;
        Ok(self.stats())
    }

    fn stop(&mut self) -> Result<(), NotifyError> {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.shared.nudge();
        if let Some(w) = self.waker.take() {
            w.join().map_err(|_| NotifyError::Panicked)?;
        }
        match self.thread.take() {
            Some(t) => t.join().map_err(|_| NotifyError::Panicked),
            None => Ok(()),
        }
    }
}

impl NotifierBuilder {
    /// Checks the rules, loads or creates the saved progress, and starts following `store`'s
    /// change feed on a thread of its own. When this returns, the starting point is saved:
    /// every change committed from then on will be notified, even across a crash.
    pub fn start<S: HistoryStore>(self, store: S) -> Result<Notifier, NotifyError> {
        let mut names = HashSet::new();
        for rule in &self.rules {
            rule.validate()?;
            if !names.insert(rule.name.as_str()) {
                return Err(NotifyError::DuplicateRule(rule.name.clone()));
            }
        }
        Notifier::start(self, Arc::new(store))
    }
}

impl Drop for Notifier {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            tracing::error!(error = %e, "history-notify: stopping the notifier");
        }
    }
}

/// How long the waker waits for a commit before it looks whether the notifier stopped.
const WAKER_TICK: Duration = Duration::from_millis(100);

/// A thread that nudges the notifier's thread whenever the recorder commits something.
fn spawn_waker(
    mut subscription: Subscription,
    shared: Arc<Shared>,
) -> Result<JoinHandle<()>, NotifyError> {
    std::thread::Builder::new()
        .name("history-notify-wake".into())
        .spawn(move || {
            while !shared.stop.load(Ordering::SeqCst) {
                if subscription.next_timeout(WAKER_TICK).is_some() {
                    while subscription.try_next().is_some() {}
                    shared.nudge_commit();
                }
            }
        })
        .map_err(NotifyError::Spawn)
}

/// Fills each window rule's window with the store's finished events of the last window, so a
/// restarted notifier judges rates over the same events as before.
fn prime_windows(evaluator: &mut Evaluator, store: &dyn HistoryStore) -> Result<(), NotifyError> {
    let now = Utc::now();
    let rules: Vec<_> = evaluator
        .rules()
        .enumerate()
        .filter_map(|(i, r)| match r.trigger() {
            Trigger::FailureRate { over, .. } | Trigger::P95Duration { over, .. } => {
                Some((i, r.filter().clone(), *over))
            }
            Trigger::Each(_) => None,
        })
        .collect();
    for (i, filter, over) in rules {
        let Ok(over) = chrono::Duration::from_std(over) else {
            continue;
        };
        let Some(since) = now.checked_sub_signed(over) else {
            continue;
        };
        let mut query = Query::matching(filter.since(since)).limit(1_000);
        let mut read = 0;
        loop {
            let page = store.query(&query)?;
            read += page.items.len();
            for e in &page.items {
                evaluator.prime(i, e, now);
            }
            match page.next_cursor {
                Some(c) if read < MAX_PRIME_EVENTS => query = query.after(c),
                _ => break,
            }
        }
    }
    Ok(())
}
