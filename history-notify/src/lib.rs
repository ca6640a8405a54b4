//! # history-notify
//!
//! Notifications for the [`history`] crate: rules over what a store has committed, delivered
//! at least once — across crashes — to webhooks, Slack-compatible channels and Rust callbacks.
//!
//! - [`Rule`]: when — per event (a [`history::Filter`]: failed `terraform_apply`, any
//!   cancelled call of user 7) or over a window (failure rate above x over the last N
//!   minutes, p95 duration above y); storms grouped into one message per interval.
//! - [`Channel`]: where — [`Webhook`] (signed JSON with an idempotency key), [`Slack`],
//!   [`Callback`].
//! - [`Notifier`] ([`NotifierBuilder`]): follows a store's change feed on its own thread,
//!   keeps its progress in a private state file, retries with backoff; [`NotifierStats`]
//!   per rule.
//! - [`Notification`]: the message, as the webhook's JSON body.
//! - [`sign`]: the `X-History-Signature` HMAC-SHA256, and its check for receivers.

#![warn(missing_docs)]

mod builder;
mod channel;
mod error;
mod evaluate;

mod follow;
mod notification;
mod notifier;
mod rule;
mod shared;
pub mod sign;
mod state;
mod stats;
mod window;

pub use builder::{
    NotifierBuilder, StartFrom, DEFAULT_INITIAL_BACKOFF, DEFAULT_MAX_BACKOFF, DEFAULT_POLL_INTERVAL,
};
pub use channel::{Callback, Channel, Slack, Webhook, DEFAULT_TIMEOUT};
pub use error::{DeliveryError, NotifyError};
pub use notification::{Notification, NotificationKind, WindowFigures, MAX_GROUPED_IDS};
pub use notifier::Notifier;
pub use rule::{Rule, Trigger, DEFAULT_GROUP_INTERVAL, DEFAULT_MIN_EVENTS, MAX_RULE_NAME};
pub use stats::{NotifierStats, RuleStats};
