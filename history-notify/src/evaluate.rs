//! Turning committed changes into notifications: per-event rules match each record, window
//! rules update their windows and fire when they cross their threshold, and storms are
//! grouped. Everything it decides goes into the [`State`], which the notifier saves before it
//! delivers anything.

use std::time::Duration;

use chrono::{DateTime, Utc};
use history::redact::RedactionPolicy;
use history::Event;

use crate::notification::{Notification, NotificationKind, WindowFigures};
use crate::rule::{Rule, Trigger};
use crate::state::{Delivery, Group, State};
use crate::stats::NotifierStats;
use crate::window::Window;

/// A rule with its window, if it has one.
#[derive(Debug)]
struct Armed {
    rule: Rule,
    window: Option<Window>,
}

/// The rules, evaluated.
#[derive(Debug)]
pub(crate) struct Evaluator {
    rules: Vec<Armed>,
    policy: RedactionPolicy,
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl Evaluator {
    pub(crate) fn new(rules: Vec<Rule>, policy: RedactionPolicy) -> Evaluator {
        let rules = rules
            .into_iter()
            .map(|rule| {
                let window = match rule.trigger {
                    Trigger::Each(_) => None,
                    Trigger::FailureRate { over, .. } | Trigger::P95Duration { over, .. } => {
                        Some(Window::new(over))
                    }
                };
                Armed { rule, window }
            })
            .collect();
        Evaluator { rules, policy }
    }

    pub(crate) fn rules(&self) -> impl Iterator<Item = &Rule> {
        self.rules.iter().map(|a| &a.rule)
    }

    /// Fills a window rule's window with an event read from the store at start (no firing).
    pub(crate) fn prime(&mut self, rule: usize, event: &Event, now: DateTime<Utc>) {
        if let Some(w) = self.rules.get_mut(rule).and_then(|a| a.window.as_mut()) {
            w.add(event, now.timestamp_micros());
        }
    }

    /// Evaluates one committed record against every rule.
    pub(crate) fn on_change(
        &mut self,
        event: &Event,
        state: &mut State,
        stats: &mut NotifierStats,
        now: DateTime<Utc>,
    ) {
        for armed in &mut self.rules {
            let rule = &armed.rule;
            if !rule.filter().matches(event) {
                continue;
            }
            let fired = match (&rule.trigger, armed.window.as_mut()) {
                (Trigger::Each(filter), _) => {
                    if !Rule::wants_status(filter, event.status) {
                        continue;
                    }
                    stats.rule(&rule.name).matched += 1;
                    Some(Notification::about(
                        &rule.name,
                        NotificationKind::Event,
                        event,
                        None,
                        &self.policy,
                        now,
                    ))
                }
                (trigger, Some(window)) => {
                    let now_us = now.timestamp_micros();
                    window.prune(now_us);
                    if !window.add(event, now_us) {
                        continue;
                    }
                    stats.rule(&rule.name).matched += 1;
                    let (kind, figures) = judge(trigger, window);
                    let rs = state.rules.entry(rule.name.clone()).or_default();
                    match figures {
                        Some(f) if !rs.firing => {
                            rs.firing = true;
                            Some(Notification::about(
                                &rule.name,
                                kind,
                                event,
                                Some(f),
                                &self.policy,
                                now,
                            ))
                        }
                        Some(_) => None,
                        None => {
                            rs.firing = false;
                            None
                        }
                    }
                }
                (_, None) => None,
            };
            if let Some(n) = fired {
                fire(rule, n, state, stats, now);
            }
        }
    }

    /// Closes the groups that are due, and re-arms window rules whose window has emptied
    /// below the threshold. Returns whether the state changed.
    pub(crate) fn tick(
        &mut self,
        state: &mut State,
        stats: &mut NotifierStats,
        now: DateTime<Utc>,
    ) -> bool {
        let now_ms = now.timestamp_millis();
        let mut changed = false;
        for armed in &mut self.rules {
            let name = &armed.rule.name;
            if let Some(window) = armed.window.as_mut() {
                window.prune(now.timestamp_micros());
                if judge(&armed.rule.trigger, window).1.is_none() {
                    if let Some(rs) = state.rules.get_mut(name) {
                        if rs.firing {
                            rs.firing = false;
                            changed = true;
                        }
                    }
                }
            }
        }
        for (name, rs) in state.rules.iter_mut() {
            if rs.group.as_ref().is_some_and(|g| g.due_ms <= now_ms) {
                if let Some(group) = rs.group.take() {
                    let mut n = group.notification;
                    n.seal_group();
                    n.created_at = now;
                    rs.last_sent_ms = Some(now_ms);
                    stats.rule(name).notifications += 1;
                    state.pending.push_back(Delivery::new(n, now_ms));
                    changed = true;
                }
            }
        }
        changed
    }

    /// When the next open group is due, if any (milliseconds since the Unix epoch).
    pub(crate) fn next_group_due(state: &State) -> Option<i64> {
        state
            .rules
            .values()
            .filter_map(|r| r.group.as_ref().map(|g| g.due_ms))
            .min()
    }
}

/// Whether a window is over its rule's threshold: the kind of message, and the figures when
/// it is.
fn judge(trigger: &Trigger, window: &Window) -> (NotificationKind, Option<WindowFigures>) {
    match *trigger {
        Trigger::FailureRate {
            above,
            over,
            min_events,
            ..
        } => {
            let rate = window.failure_rate();
            let over_it = window.len() >= min_events && rate > above;
            (
                NotificationKind::FailureRate,
                over_it.then_some(WindowFigures {
                    observed: rate,
                    threshold: above,
                    window_seconds: over.as_secs_f64(),
                    events: window.len(),
                }),
            )
        }
        Trigger::P95Duration {
            above,
            over,
            min_events,
            ..
        } => {
            let figures = window.p95().and_then(|(p95, n)| {
                (n >= min_events && p95 > above).then_some(WindowFigures {
                    observed: p95.as_secs_f64(),
                    threshold: above.as_secs_f64(),
                    window_seconds: over.as_secs_f64(),
                    events: n,
                })
            });
            (NotificationKind::P95Duration, figures)
        }
        Trigger::Each(_) => (NotificationKind::Event, None),
    }
}

/// A rule fired: a message now, or (within the grouping interval after the last one) into
/// the rule's open group.
fn fire(
    rule: &Rule,
    n: Notification,
    state: &mut State,
    stats: &mut NotifierStats,
    now: DateTime<Utc>,
) {
    let now_ms = now.timestamp_millis();
    let interval = millis(rule.group_interval);
    let rs = state.rules.entry(rule.name.clone()).or_default();
    let rstats = stats.rule(&rule.name);
    if let Some(group) = rs.group.as_mut() {
        if group.notification.key != n.key {
            group.notification.absorb(n.event_id);
        }
        rstats.grouped += 1;
        return;
    }
    let quiet = rs
        .last_sent_ms
        .is_none_or(|last| now_ms >= last.saturating_add(interval));
    if interval == 0 || quiet {
        rs.last_sent_ms = Some(now_ms);
        rstats.notifications += 1;
        state.pending.push_back(Delivery::new(n, now_ms));
    } else {
        let due_ms = rs.last_sent_ms.unwrap_or(now_ms).saturating_add(interval);
        rs.group = Some(Group {
            notification: n,
            due_ms,
        });
        rstats.grouped += 1;
    }
}

impl Delivery {
    pub(crate) fn new(notification: Notification, now_ms: i64) -> Delivery {
        Delivery {
            notification,
            attempts: 0,
            next_attempt_ms: now_ms,
            last_error: None,
        }
    }
}
