//! # history-http
//!
//! HTTP for [`history`]: record every request of your service, and serve the history to the
//! people who read it.
//!
//! - [`layer`] (feature `layer`): [`HistoryLayer`], a tower layer that records each request
//!   as an `api_request` event, with the tracked calls of its handler nested under it.
//! - [`api`] (feature `api`): [`router`], the history as a read-only JSON API (events with
//!   every filter, trees, statistics, differences, health, an OpenAPI document) to nest into
//!   an axum app.
//! - [`ui`] (feature `ui`): the web page the same router serves at its root: the event list
//!   with filters, updating live; an event's detail and trace; statistics with charts.
//! - [`read`] (feature `api`): [`AsyncStore`], a store's reads as `async fn`s that run on
//!   tokio's blocking pool.
//!
//! Features: `layer`, `api` and `ui` are on by default; take the layer alone with
//! `default-features = false, features = ["layer"]`.

#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "layer")]
#[cfg_attr(docsrs, doc(cfg(feature = "layer")))]
pub mod layer;

#[cfg(feature = "api")]
#[cfg_attr(docsrs, doc(cfg(feature = "api")))]
pub mod api;
#[cfg(feature = "api")]
#[cfg_attr(docsrs, doc(cfg(feature = "api")))]
pub mod read;

#[cfg(feature = "ui")]
#[cfg_attr(docsrs, doc(cfg(feature = "ui")))]
pub mod ui;

#[cfg(feature = "api")]
pub use api::{router, HistoryApi, Problem};
#[cfg(feature = "layer")]
pub use layer::{HistoryLayer, HistoryService};
#[cfg(feature = "api")]
pub use read::{AsyncStore, ReadError};
