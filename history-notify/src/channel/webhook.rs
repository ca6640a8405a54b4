//! [`Webhook`]: the notification as a signed JSON POST.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::http::{Target, DEFAULT_TIMEOUT};
use super::Channel;
use crate::error::{DeliveryError, NotifyError};
use crate::notification::Notification;
use crate::sign::{sign, IDEMPOTENCY_HEADER, SIGNATURE_HEADER};

/// POSTs each [`Notification`] as its JSON to a URL, with
///
/// - `Idempotency-Key: <rule>/<event id>` — the same on every retry and after a restart;
/// - `X-History-Signature: sha256=<hex>` — HMAC-SHA256 of the body with the shared secret,
///   when one is set ([`Webhook::secret`]; the receiver checks it with
///   [`sign::verify`](crate::sign::verify));
/// - a timeout per attempt (default 10 s), no redirects followed.
///
/// A 2xx answer acknowledges the notification; anything else is retried.
///
/// ```
/// use std::time::Duration;
/// use history_notify::Webhook;
/// let hook = Webhook::new("https://ops.example.com/hooks/history")?
///     .secret("shared secret")
///     .timeout(Duration::from_secs(5))?;
/// # Ok::<(), history_notify::NotifyError>(())
/// ```
#[derive(Clone)]
pub struct Webhook {
    target: Target,
    secret: Option<Arc<[u8]>>,
}

impl Webhook {
    /// A webhook to `url` (`http://` or `https://`), unsigned, with the default timeout.
    pub fn new(url: &str) -> Result<Webhook, NotifyError> {
        Ok(Webhook {
            target: Target::new(url, DEFAULT_TIMEOUT)?,
            secret: None,
        })
    }

    /// Signs every body with `secret` (`X-History-Signature`).
    pub fn secret(mut self, secret: impl AsRef<[u8]>) -> Webhook {
        self.secret = Some(Arc::from(secret.as_ref()));
        self
    }

    /// How long one attempt may take, connect to last byte.
    pub fn timeout(self, timeout: Duration) -> Result<Webhook, NotifyError> {
        Ok(Webhook {
            target: Target::new(&self.target.url, timeout)?,
            secret: self.secret,
        })
    }
}

impl fmt::Debug for Webhook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Webhook")
            .field("to", &self.target.origin())
            .field("signed", &self.secret.is_some())
            .finish()
    }
}

impl Channel for Webhook {
    fn deliver(&self, notification: &Notification) -> Result<(), DeliveryError> {
        let body = serde_json::to_vec(notification)
            .map_err(|e| DeliveryError::Transport(format!("cannot encode the body: {e}")))?;
        let signature = self.secret.as_ref().map(|s| sign(s, &body));
        let mut headers = vec![(IDEMPOTENCY_HEADER, notification.key.as_str())];
        if let Some(sig) = &signature {
            headers.push((SIGNATURE_HEADER, sig.as_str()));
        }
        self.target.post_json(&body, &headers)
    }
}
