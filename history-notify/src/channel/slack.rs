//! [`Slack`]: the notification as a Slack-compatible incoming-webhook message.

use std::fmt;
use std::time::Duration;

use serde_json::json;

use super::http::{Target, DEFAULT_TIMEOUT};
use super::Channel;
use crate::error::{DeliveryError, NotifyError};
use crate::notification::Notification;
use crate::sign::IDEMPOTENCY_HEADER;

/// POSTs each notification as a Slack incoming-webhook message (`{"text": …, "blocks": …}`),
/// which Slack, Mattermost, Rocket.Chat and others accept. The text is the summary, escaped
/// for Slack's markup (`&`, `<`, `>`), with the event's id and correlation id.
///
/// The webhook URL is a secret (its path is the credential): it never appears in logs, errors
/// or `Debug` output.
///
/// ```
/// use history_notify::Slack;
/// let slack = Slack::new("https://hooks.slack.com/services/T000/B000/XXXX")?;
/// # Ok::<(), history_notify::NotifyError>(())
/// ```
#[derive(Clone)]
pub struct Slack {
    target: Target,
}

impl Slack {
    /// A Slack-compatible incoming webhook at `url`, with the default timeout.
    pub fn new(url: &str) -> Result<Slack, NotifyError> {
        Ok(Slack {
            target: Target::new(url, DEFAULT_TIMEOUT)?,
        })
    }

    /// How long one attempt may take.
    pub fn timeout(self, timeout: Duration) -> Result<Slack, NotifyError> {
        Ok(Slack {
            target: Target::new(&self.target.url, timeout)?,
        })
    }

    /// The message body for `n`.
    pub fn payload(n: &Notification) -> serde_json::Value {
        let mut details = format!("event `{}`", n.event_id);
        if let Some(c) = n.event.get("correlation_id").and_then(|c| c.as_str()) {
            details.push_str(&format!(" · correlation `{}`", escape(c)));
        }
        let text = format!(":rotating_light: {}", escape(&n.summary));
        json!({
            "text": text,
            "blocks": [
                {"type": "section", "text": {"type": "mrkdwn", "text": text}},
                {"type": "context", "elements": [{"type": "mrkdwn", "text": details}]}
            ]
        })
    }
}

/// Slack's markup escaping: the three characters that start links, mentions and entities.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

impl fmt::Debug for Slack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Slack")
            .field("to", &self.target.origin())
            .finish()
    }
}

impl Channel for Slack {
    fn deliver(&self, notification: &Notification) -> Result<(), DeliveryError> {
        let body = serde_json::to_vec(&Slack::payload(notification))
            .map_err(|e| DeliveryError::Transport(format!("cannot encode the body: {e}")))?;
        self.target
            .post_json(&body, &[(IDEMPOTENCY_HEADER, notification.key.as_str())])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_is_escaped() {
        assert_eq!(
            escape("<!channel> & <@U1>"),
            "&lt;!channel&gt; &amp; &lt;@U1&gt;"
        );
    }

    #[test]
    fn the_url_stays_out_of_debug() {
        let s = Slack::new("https://hooks.slack.com/services/T000/B000/SECRETPATH").unwrap();
        let text = format!("{s:?}");
        assert!(
            !text.contains("SECRETPATH") && text.contains("hooks.slack.com"),
            "{text}"
        );
        assert!(Slack::new("ftp://x/y").is_err() && Slack::new("not a url").is_err());
    }
}
