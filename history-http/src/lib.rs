//! # history-http
//!
//! HTTP request history for [`history`]: a tower layer that records every request as an
//! `api_request` event, with the tracked calls of its handler nested under it.
//!
//! - [`layer`] (feature `layer`): [`HistoryLayer`], for any tower service over `http`
//!   requests; axum's route templates are used when present.

#[cfg(feature = "layer")]
#[cfg_attr(docsrs, doc(cfg(feature = "layer")))]
pub mod layer;

#[cfg(feature = "layer")]
pub use layer::{HistoryLayer, HistoryService};
