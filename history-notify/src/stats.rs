//! [`NotifierStats`] and [`RuleStats`]: what a notifier has done since it started, per rule,
//! so a rule whose channel keeps failing is visible.

use std::collections::BTreeMap;

use history::ChangeToken;

/// Counters of one rule since the notifier started (pending and failed: now).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RuleStats {
    /// Events the rule matched (for a window rule: finished events it counted).
    pub matched: u64,
    /// Messages made (a grouped storm is one).
    pub notifications: u64,
    /// Matches folded into a group instead of a message of their own.
    pub grouped: u64,
    /// Messages the channel acknowledged.
    pub delivered: u64,
    /// Failed attempts, each retried later.
    pub retried: u64,
    /// Messages waiting for delivery now (in backoff or due), open groups included.
    pub pending: u64,
    /// Messages given up on after the most attempts allowed, kept in the state until
    /// [`Notifier::retry_failed`](crate::Notifier::retry_failed).
    pub failed: u64,
    /// Attempts that have failed in a row, across all of the rule's messages (0 after a
    /// success).
    pub consecutive_failures: u64,
    /// Why the last failed attempt failed.
    pub last_error: Option<String>,
}

/// What a [`Notifier`](crate::Notifier) has done since it started.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct NotifierStats {
    /// Every change up to here has been evaluated (and its messages saved, when there is a
    /// state file).
    pub after: ChangeToken,
    /// Changes read from the feed.
    pub changes: u64,
    /// Failed reads of the feed (retried).
    pub feed_errors: u64,
    /// Failed saves of the state file (retried; until one succeeds, a crash re-reads more
    /// of the feed, which is safe).
    pub state_errors: u64,
    /// Per rule, by name.
    pub rules: BTreeMap<String, RuleStats>,
}

impl NotifierStats {
    /// Messages not yet delivered, all rules (open groups included; given-up ones not).
    pub fn pending(&self) -> u64 {
        self.rules.values().map(|r| r.pending).sum()
    }

    /// Messages delivered, all rules.
    pub fn delivered(&self) -> u64 {
        self.rules.values().map(|r| r.delivered).sum()
    }

    /// Messages given up on, all rules.
    pub fn failed(&self) -> u64 {
        self.rules.values().map(|r| r.failed).sum()
    }

    pub(crate) fn rule(&mut self, name: &str) -> &mut RuleStats {
        if !self.rules.contains_key(name) {
            self.rules.insert(name.to_owned(), RuleStats::default());
        }
        self.rules.entry(name.to_owned()).or_default()
    }
}
