//! [`Notification`]: what a channel delivers — one event, a storm of them grouped, or a
//! window rule crossing its threshold.

use chrono::{DateTime, Utc};
use history::redact::RedactionPolicy;
use history::{Event, EventId};
use serde::{Deserialize, Serialize};

/// Most event ids one grouped notification lists besides its first event (`count` still
/// counts every one).
pub const MAX_GROUPED_IDS: usize = 100;

/// Longest error message quoted in a summary, in characters.
const MAX_SUMMARY_ERROR_CHARS: usize = 300;

/// One message about a rule that fired. This is the JSON body a [`Webhook`](crate::Webhook)
/// posts; a [`Slack`](crate::Slack) channel sends its `summary`.
///
/// Everything in it went through the redaction policy once more before it was made (the
/// event was redacted when it was recorded; the notifier scrubs secret-named fields and URL
/// passwords again, under [`NotifierBuilder::redaction`](crate::NotifierBuilder::redaction)).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Notification {
    /// The idempotency key, `<rule>/<event id>`: the same on every retry and after a restart,
    /// so a receiver that remembers keys acts once.
    pub key: String,
    /// The rule's name.
    pub rule: String,
    /// What made the rule fire.
    pub kind: NotificationKind,
    /// One line for people (`failed-apply: terraform_apply failed (infra::apply): exit code 1`).
    pub summary: String,
    /// How many events this message stands for: 1, or more when a storm was grouped
    /// ([`Rule::group_for`](crate::Rule::group_for)).
    pub count: u64,
    /// The event the message is about (the first of a group; for a window rule, the one that
    /// took it over its threshold).
    pub event_id: EventId,
    /// That event, as the store's JSON (`timestamp`, `event_type`, `status`, …), redacted.
    pub event: serde_json::Value,
    /// The other events of a group, oldest first, at most [`MAX_GROUPED_IDS`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub grouped_ids: Vec<EventId>,
    /// For a window rule: what was measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<WindowFigures>,
    /// When the notifier made this message.
    pub created_at: DateTime<Utc>,
}

/// What made a rule fire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum NotificationKind {
    /// An event matched a per-event rule.
    Event,
    /// The failure rate over a window went above the rule's threshold.
    FailureRate,
    /// The p95 duration over a window went above the rule's threshold.
    P95Duration,
}

/// What a window rule measured when it fired.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct WindowFigures {
    /// The measured value: a failure rate (0 to 1) or a p95 duration in seconds.
    pub observed: f64,
    /// The rule's threshold, in the same unit.
    pub threshold: f64,
    /// The window's length, in seconds.
    pub window_seconds: f64,
    /// How many finished events the window held.
    pub events: u64,
}

impl Notification {
    /// The idempotency key of `rule` about `event`.
    pub fn key_for(rule: &str, event: EventId) -> String {
        format!("{rule}/{event}")
    }

    /// A notification about `event`, redacted under `policy`.
    pub(crate) fn about(
        rule: &str,
        kind: NotificationKind,
        event: &Event,
        window: Option<WindowFigures>,
        policy: &RedactionPolicy,
        now: DateTime<Utc>,
    ) -> Notification {
        let mut json = serde_json::to_value(event).unwrap_or(serde_json::Value::Null);
        policy.redact_value(&mut json);
        let mut n = Notification {
            key: Notification::key_for(rule, event.id),
            rule: rule.to_owned(),
            kind,
            summary: String::new(),
            count: 1,
            event_id: event.id,
            event: json,
            grouped_ids: Vec::new(),
            window,
            created_at: now,
        };
        n.summary = n.describe(event);
        n
    }

    /// Adds another event to a grouped notification.
    pub(crate) fn absorb(&mut self, id: EventId) {
        self.count += 1;
        if self.grouped_ids.len() < MAX_GROUPED_IDS {
            self.grouped_ids.push(id);
        }
    }

    /// Closes a group: the summary says how many more events it stands for.
    pub(crate) fn seal_group(&mut self) {
        if self.count > 1 {
            self.summary = format!("{} (+{} more)", self.summary, self.count - 1);
        }
    }

    fn describe(&self, event: &Event) -> String {
        let what = format!(
            "{} {} ({})",
            event.event_type, event.status, event.operation
        );
        let line = match (self.kind, &self.window) {
            (NotificationKind::FailureRate, Some(w)) => format!(
                "{}: failure rate {:.0}% above {:.0}% over {}s ({} events); last: {what}",
                self.rule,
                w.observed * 100.0,
                w.threshold * 100.0,
                w.window_seconds,
                w.events
            ),
            (NotificationKind::P95Duration, Some(w)) => format!(
                "{}: p95 duration {:.3}s above {:.3}s over {}s ({} events); last: {what}",
                self.rule, w.observed, w.threshold, w.window_seconds, w.events
            ),
            _ => match &event.error {
                Some(e) => {
                    let mut msg: String = e.message.chars().take(MAX_SUMMARY_ERROR_CHARS).collect();
                    if msg.len() < e.message.len() {
                        msg.push('…');
                    }
                    format!("{}: {what}: {msg}", self.rule)
                }
                None => format!("{}: {what}", self.rule),
            },
        };
        history::redact::scrub_url_credentials(&line).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use history::{ErrorInfo, EventStatus, EventType};

    #[test]
    fn a_notification_is_redacted_and_keyed_by_rule_and_event() {
        let event = Event::builder(EventType::TerraformApply, "infra::apply")
            .status(EventStatus::Failed)
            .label("password", "hunter2")
            .error(ErrorInfo::new("cannot reach postgres://app:s3cret@db/main"))
            .build()
            .unwrap();
        let n = Notification::about(
            "failed-apply",
            NotificationKind::Event,
            &event,
            None,
            &RedactionPolicy::default(),
            Utc::now(),
        );
        assert_eq!(n.key, format!("failed-apply/{}", event.id));
        let body = serde_json::to_string(&n).unwrap();
        assert!(
            !body.contains("hunter2") && !body.contains("s3cret"),
            "{body}"
        );
        assert!(n
            .summary
            .starts_with("failed-apply: terraform_apply failed (infra::apply): cannot reach"));

        let mut grouped = n.clone();
        grouped.absorb(EventId::new());
        grouped.absorb(EventId::new());
        grouped.seal_group();
        assert_eq!(grouped.count, 3);
        assert_eq!(grouped.grouped_ids.len(), 2);
        assert!(
            grouped.summary.ends_with("(+2 more)"),
            "{}",
            grouped.summary
        );
    }
}
