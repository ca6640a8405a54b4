//! [`Rule`]: when to notify — per event (a [`Filter`]) or over a window (a failure rate, a p95
//! duration) — where to ([`Channel`]), and how storms are grouped.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use history::{EventStatus, Filter};

use crate::channel::Channel;
use crate::error::NotifyError;

/// Longest rule name, in bytes (names go into idempotency keys and HTTP headers).
pub const MAX_RULE_NAME: usize = 100;

/// How long a rule waits, after a message, before it sends the next one by default: within
/// it, further matches are grouped into one message with a count.
pub const DEFAULT_GROUP_INTERVAL: Duration = Duration::from_secs(60);

/// Fewest finished events a window rule needs before it judges (one failure out of one is
/// not a rate).
pub const DEFAULT_MIN_EVENTS: u64 = 5;

/// When a rule fires.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Trigger {
    /// Every committed record that matches the filter. In-progress records only when the
    /// filter lists [`EventStatus::InProgress`]; otherwise a call is judged by its final record.
    Each(Filter),
    /// The share of failed (or interrupted) events among the finished events matching the
    /// filter, over the last `over`, goes above `above` (0 to 1).
    FailureRate {
        /// Which events are counted.
        filter: Filter,
        /// The threshold, a fraction (0.2 = 20 %).
        above: f64,
        /// The window.
        over: Duration,
        /// Fewest events the window must hold.
        min_events: u64,
    },
    /// The 95th-percentile duration of the finished events matching the filter, over the
    /// last `over`, goes above `above`.
    P95Duration {
        /// Which events are measured.
        filter: Filter,
        /// The threshold.
        above: Duration,
        /// The window.
        over: Duration,
        /// Fewest events the window must hold.
        min_events: u64,
    },
}

/// A notification rule: a name (unique; it keys the messages and the saved progress), a
/// [`Trigger`], a [`Channel`] and a grouping interval.
///
/// A window rule fires when its figure crosses the threshold (not again while it stays above;
/// again after it has come back below).
///
/// ```
/// use std::time::Duration;
/// use history::{EventStatus, EventType, Filter};
/// use history_notify::{Callback, Rule};
///
/// let log = Callback::new(|n| {
///     println!("{}", n.summary);
///     Ok(())
/// });
/// let failed_apply = Rule::each(
///     "failed-apply",
///     Filter::new().event_type(EventType::TerraformApply).status(EventStatus::Failed),
/// )
/// .to(log.clone());
/// let cancelled_by_7 = Rule::each("cancelled-by-7", Filter::new().user_id(7).status(EventStatus::Cancelled))
///     .to(log.clone());
/// let flaky = Rule::failure_rate("flaky-creates", Filter::new().event_type(EventType::VmCreate), 0.2, Duration::from_secs(300))
///     .to(log.clone());
/// let slow = Rule::p95_duration("slow-applies", Filter::new().event_type(EventType::TerraformApply),
///     Duration::from_secs(600), Duration::from_secs(3600))
///     .group_for(Duration::from_secs(900))
///     .to(log);
/// # let _ = (failed_apply, cancelled_by_7, flaky, slow);
/// ```
#[derive(Clone)]
pub struct Rule {
    pub(crate) name: String,
    pub(crate) trigger: Trigger,
    pub(crate) channel: Option<Arc<dyn Channel>>,
    pub(crate) group_interval: Duration,
}

impl fmt::Debug for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rule")
            .field("name", &self.name)
            .field("trigger", &self.trigger)
            .field("channel", &self.channel)
            .field("group_interval", &self.group_interval)
            .finish()
    }
}

impl Rule {
    fn new(name: impl Into<String>, trigger: Trigger) -> Rule {
        Rule {
            name: name.into(),
            trigger,
            channel: None,
            group_interval: DEFAULT_GROUP_INTERVAL,
        }
    }

    /// Fires for every committed event `filter` matches (see [`Trigger::Each`]).
    pub fn each(name: impl Into<String>, filter: Filter) -> Rule {
        Rule::new(name, Trigger::Each(filter))
    }

    /// Fires when more than `above` (a fraction) of the finished events `filter` matches over
    /// the last `over` failed or were interrupted (see [`Trigger::FailureRate`]).
    pub fn failure_rate(
        name: impl Into<String>,
        filter: Filter,
        above: f64,
        over: Duration,
    ) -> Rule {
        Rule::new(
            name,
            Trigger::FailureRate {
                filter,
                above,
                over,
                min_events: DEFAULT_MIN_EVENTS,
            },
        )
    }

    /// Fires when the p95 duration of the finished events `filter` matches over the last
    /// `over` goes above `above` (see [`Trigger::P95Duration`]).
    pub fn p95_duration(
        name: impl Into<String>,
        filter: Filter,
        above: Duration,
        over: Duration,
    ) -> Rule {
        Rule::new(
            name,
            Trigger::P95Duration {
                filter,
                above,
                over,
                min_events: DEFAULT_MIN_EVENTS,
            },
        )
    }

    /// Where the rule's messages go. Required.
    pub fn to(mut self, channel: impl Channel + 'static) -> Rule {
        self.channel = Some(Arc::new(channel));
        self
    }

    /// Where the rule's messages go, shared with other rules.
    pub fn to_shared(mut self, channel: Arc<dyn Channel>) -> Rule {
        self.channel = Some(channel);
        self
    }

    /// Storm grouping: after a message, the rule waits `interval` before the next one; what
    /// matches meanwhile goes out as one message with a count when the interval ends.
    /// Default [`DEFAULT_GROUP_INTERVAL`]; zero sends one message per match.
    pub fn group_for(mut self, interval: Duration) -> Rule {
        self.group_interval = interval;
        self
    }

    /// For a window rule: the fewest finished events the window must hold before the rule
    /// judges (default [`DEFAULT_MIN_EVENTS`]). No effect on a per-event rule.
    pub fn min_events(mut self, n: u64) -> Rule {
        match &mut self.trigger {
            Trigger::FailureRate { min_events, .. } | Trigger::P95Duration { min_events, .. } => {
                *min_events = n.max(1);
            }
            Trigger::Each(_) => {}
        }
        self
    }

    /// The rule's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// When the rule fires.
    pub fn trigger(&self) -> &Trigger {
        &self.trigger
    }

    /// The filter of the events the rule looks at.
    pub fn filter(&self) -> &Filter {
        match &self.trigger {
            Trigger::Each(f) => f,
            Trigger::FailureRate { filter, .. } | Trigger::P95Duration { filter, .. } => filter,
        }
    }

    /// Rejects a rule that cannot work: a bad name, no channel, a threshold out of range, an
    /// empty window, or a filter no event can pass.
    pub fn validate(&self) -> Result<(), NotifyError> {
        let invalid = |reason: &str| NotifyError::InvalidRule {
            rule: self.name.clone(),
            reason: reason.to_owned(),
        };
        if self.name.is_empty() || self.name.len() > MAX_RULE_NAME {
            return Err(invalid("the name must be 1 to 100 bytes long"));
        }
        if !self
            .name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        {
            return Err(invalid(
                "the name may hold only ASCII letters, digits, `-`, `_` and `.` (it goes into idempotency keys)",
            ));
        }
        if self.channel.is_none() {
            return Err(invalid("no channel: call `.to(channel)`"));
        }
        self.filter()
            .validate()
            .map_err(|e| invalid(&format!("filter: {e}")))?;
        match &self.trigger {
            Trigger::Each(_) => {}
            Trigger::FailureRate { above, over, .. } => {
                if !(0.0..1.0).contains(above) {
                    return Err(invalid(
                        "a failure-rate threshold must be at least 0 and below 1",
                    ));
                }
                if over.is_zero() {
                    return Err(invalid("the window must be longer than zero"));
                }
            }
            Trigger::P95Duration { over, .. } => {
                if over.is_zero() {
                    return Err(invalid("the window must be longer than zero"));
                }
            }
        }
        Ok(())
    }

    /// Whether a per-event rule looks at this record's status at all.
    pub(crate) fn wants_status(filter: &Filter, status: EventStatus) -> bool {
        status.is_terminal() || filter.statuses.contains(&EventStatus::InProgress)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Callback;

    fn ok() -> Callback {
        Callback::new(|_| Ok(()))
    }

    #[test]
    fn invalid_rules_are_rejected_with_the_reason() {
        let bad = [
            Rule::each("", Filter::new()).to(ok()),
            Rule::each("has space", Filter::new()).to(ok()),
            Rule::each("x".repeat(101), Filter::new()).to(ok()),
            Rule::each("no-channel", Filter::new()),
            Rule::failure_rate("rate", Filter::new(), 1.5, Duration::from_secs(1)).to(ok()),
            Rule::failure_rate("rate", Filter::new(), 0.5, Duration::ZERO).to(ok()),
            Rule::each(
                "min-max",
                Filter::new()
                    .min_duration(Duration::from_secs(2))
                    .max_duration(Duration::from_secs(1)),
            )
            .to(ok()),
        ];
        for rule in bad {
            let err = rule.validate().unwrap_err();
            assert!(matches!(err, NotifyError::InvalidRule { .. }), "{err}");
        }
        Rule::each("failed-apply.v2", Filter::new())
            .to(ok())
            .validate()
            .unwrap();
    }
}
