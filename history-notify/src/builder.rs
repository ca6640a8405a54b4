//! [`NotifierBuilder`]: rules, where progress is saved, where to start, retries.

use std::path::PathBuf;
use std::time::Duration;

use history::redact::RedactionPolicy;
use history::{Filter, Recorder, Subscription};

use crate::rule::Rule;

/// How often the feed is read when it has nothing new, by default.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_millis(200);

/// First retry delay by default; each further failure doubles it, up to
/// [`DEFAULT_MAX_BACKOFF`].
pub const DEFAULT_INITIAL_BACKOFF: Duration = Duration::from_millis(500);

/// Longest retry delay by default.
pub const DEFAULT_MAX_BACKOFF: Duration = Duration::from_secs(300);

/// Changes read per feed request.
pub(crate) const FEED_BATCH: usize = 500;

/// Where a notifier without saved progress starts reading the feed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum StartFrom {
    /// After the newest change committed when it starts (the default): only what happens
    /// from now on is notified.
    #[default]
    Now,
    /// From the first change the store keeps: everything is evaluated.
    Beginning,
}

/// Configures and starts a [`Notifier`](crate::Notifier) ([`NotifierBuilder::start`]).
#[derive(Debug)]
#[must_use = "call .start(store) to run the notifier"]
pub struct NotifierBuilder {
    pub(crate) rules: Vec<Rule>,
    pub(crate) state_file: Option<PathBuf>,
    pub(crate) start_from: StartFrom,
    pub(crate) poll_interval: Duration,
    pub(crate) initial_backoff: Duration,
    pub(crate) max_backoff: Duration,
    pub(crate) max_attempts: Option<u32>,
    pub(crate) policy: RedactionPolicy,
    pub(crate) wake: Option<Subscription>,
}

impl Default for NotifierBuilder {
    fn default() -> Self {
        NotifierBuilder {
            rules: Vec::new(),
            state_file: None,
            start_from: StartFrom::Now,
            poll_interval: DEFAULT_POLL_INTERVAL,
            initial_backoff: DEFAULT_INITIAL_BACKOFF,
            max_backoff: DEFAULT_MAX_BACKOFF,
            max_attempts: None,
            policy: RedactionPolicy::default(),
            wake: None,
        }
    }
}

impl NotifierBuilder {
    /// Adds a rule (its name must be unique).
    pub fn rule(mut self, rule: Rule) -> Self {
        self.rules.push(rule);
        self
    }

    /// Keeps the notifier's progress in this file (created private, 0600; `<file>.lock` and
    /// `<file>.tmp` beside it), so that after a crash or a restart it resumes where it was
    /// and delivers what was not yet acknowledged. Without one, progress lives in memory and
    /// a restart starts over at [`StartFrom`].
    pub fn state_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.state_file = Some(path.into());
        self
    }

    /// Where to start when there is no saved progress (default [`StartFrom::Now`]).
    pub fn start_from(mut self, start: StartFrom) -> Self {
        self.start_from = start;
        self
    }

    /// How often to read the feed when it had nothing new (default
    /// [`DEFAULT_POLL_INTERVAL`]). The feed is read again at once while it has more.
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval.max(Duration::from_millis(1));
        self
    }

    /// Retry delays: the first after `initial`, doubling up to `max`, with ±20 % jitter.
    pub fn backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.initial_backoff = initial.max(Duration::from_millis(1));
        self.max_backoff = max.max(self.initial_backoff);
        self
    }

    /// Gives a message up after `attempts` failed attempts: it moves to the failed list (kept
    /// in the state, counted in [`RuleStats::failed`](crate::RuleStats::failed), logged as an
    /// error) until [`Notifier::retry_failed`](crate::Notifier::retry_failed). By default a message is retried for ever.
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = Some(attempts.max(1));
        self
    }

    /// Reads the feed as soon as `recorder` has committed something, instead of at the next
    /// poll: for a notifier in the process that records. The feed stays what is evaluated;
    /// the recorder's in-process subscription (a buffer of one, never blocking its writer)
    /// only wakes the notifier.
    pub fn wake_on(mut self, recorder: &Recorder) -> Self {
        self.wake = Some(recorder.subscribe_with_buffer(Filter::new(), 1));
        self
    }

    /// Which names are secret in what is sent (default: the default rule). Use the same
    /// policy as the recorder's.
    pub fn redaction(mut self, policy: RedactionPolicy) -> Self {
        self.policy = policy;
        self
    }
}
