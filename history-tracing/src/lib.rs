//! The history and `tracing`, joined both ways, and OpenTelemetry trace ids on every event.
//!
//! - **tracing → history**: [`HistoryLayer`], a `tracing_subscriber` layer that records every
//!   span carrying the field `history.event_type` as an event — code already annotated with
//!   `#[tracing::instrument]` gets an audit trail by adding one field.
//! - **trace correlation** (feature `opentelemetry`): [`install_opentelemetry`] makes every
//!   event store the W3C trace id and span id of the OpenTelemetry context it started in
//!   (`Event::external_trace_id`, `Event::external_span_id`), so an event leads to the
//!   distributed trace and the logs of the same request.
//! - **history → tracing** is a feature of `history` itself (`tracing-spans`): each tracked
//!   call runs inside a `tracing` span carrying its event id.
//!
//! ```
//! use history::{HistoryStore, MemoryStore, Recorder};
//! use history_tracing::HistoryLayer;
//! use tracing_subscriber::layer::SubscriberExt;
//!
//! #[tracing::instrument(fields(history.event_type = "vm_start"))]
//! fn start_vm(vm_id: u64) -> bool {
//!     tracing::info!("starting");
//!     true
//! }
//!
//! let recorder = Recorder::new(MemoryStore::new())?;
//! let subscriber = tracing_subscriber::registry().with(HistoryLayer::new(recorder.clone()));
//! tracing::subscriber::with_default(subscriber, || start_vm(3));
//! recorder.flush()?;
//! let events = recorder.store().query(&history::Query::new().vm_id(3))?.items;
//! assert_eq!(events[0].event_type.as_str(), "vm_start");
//! assert_eq!(events[0].status, history::EventStatus::Success);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod error;
mod fields;
mod layer;
#[cfg(feature = "opentelemetry")]
mod otel;

pub use error::Error;
pub use fields::{EVENT_ID_FIELD, EVENT_TYPE_FIELD};
pub use layer::HistoryLayer;
#[cfg(feature = "opentelemetry")]
pub use otel::{current_ids, install_opentelemetry};
