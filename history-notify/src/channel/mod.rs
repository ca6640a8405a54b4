//! Where notifications go: the [`Channel`] trait and its three kinds — a signed JSON
//! [`Webhook`], a [`Slack`]-compatible incoming webhook, and a Rust [`Callback`].

mod http;
mod slack;
mod webhook;

use std::fmt;
use std::sync::Arc;

pub use http::DEFAULT_TIMEOUT;
pub use slack::Slack;
pub use webhook::Webhook;

use crate::error::DeliveryError;
use crate::notification::Notification;

/// Delivers one notification. Called on the notifier's thread, one delivery at a time; an
/// error makes the notifier retry the same notification (same idempotency key) later with
/// backoff. Implementations should bound their time (the HTTP channels have a timeout).
pub trait Channel: Send + Sync + fmt::Debug {
    /// Sends `notification`; `Ok` means the receiver has it.
    fn deliver(&self, notification: &Notification) -> Result<(), DeliveryError>;
}

impl<C: Channel + ?Sized> Channel for Arc<C> {
    fn deliver(&self, notification: &Notification) -> Result<(), DeliveryError> {
        (**self).deliver(notification)
    }
}

type CallbackFn = dyn Fn(&Notification) -> Result<(), String> + Send + Sync;

/// A Rust function as a channel: for in-process reactions and tests. Cheap to clone (the
/// function is shared).
///
/// ```
/// use history_notify::{Callback, Channel};
/// let print = Callback::new(|n| {
///     println!("{} ({} events)", n.summary, n.count);
///     Ok(())
/// });
/// # let _ = print;
/// ```
#[derive(Clone)]
pub struct Callback {
    f: Arc<CallbackFn>,
}

impl Callback {
    /// A channel that calls `f`. An `Err` (any text) is a failed attempt, retried later.
    pub fn new<F>(f: F) -> Callback
    where
        F: Fn(&Notification) -> Result<(), String> + Send + Sync + 'static,
    {
        Callback { f: Arc::new(f) }
    }
}

impl fmt::Debug for Callback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Callback")
    }
}

impl Channel for Callback {
    fn deliver(&self, notification: &Notification) -> Result<(), DeliveryError> {
        (self.f)(notification).map_err(DeliveryError::Callback)
    }
}
