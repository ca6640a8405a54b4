//! # history
//!
//! A durable, searchable history of operations. Put one attribute on a function and every call
//! of it is recorded as an [`Event`]: who ran it, on what, with which inputs, what it returned,
//! what failed and why, and how long it took.
//!
//! - [`event`]: the data model — [`Event`], [`EventType`], [`EventStatus`], [`ErrorInfo`].
//! - [`store`]: where events are kept — the [`HistoryStore`] trait, [`Filter`] (which
//!   events), [`Query`] and [`Page`] (one page of them), and the reference [`MemoryStore`]. The embedded default is `history_sqlite::SqliteStore`.
//! - [`feed`]: the change feed — what a store committed, in commit order
//!   ([`ChangeToken`], [`Change`], [`ChangePage`]), for followers in any process.
//! - [`context`]: nesting of tracked calls and the ids a [`scope`] supplies;
//!   [`current_call`]: fields of the running call's event that are known only later.
//! - [`stats`], [`retention`], [`export`], [`diff`]: statistics, purging old events, streaming
//!   JSON Lines / CSV export, and comparing two events — over any store.
//! - [`recorder`]: the [`Recorder`] that takes events off the caller's thread and writes them
//!   in batches; [`init`] and [`set_default`] choose the one annotated functions use.
//!
//! Terraform and Ansible runs are recorded by the executors of the `history-exec` crate.
//!
//! ```
//! use history::{Event, EventStatus, EventType, MemoryStore, Query, Recorder};
//!
//! let recorder = Recorder::new(MemoryStore::new())?;
//! let event = Event::builder(EventType::VmCreate, "vm_service::create")
//!     .user_id(1)
//!     .vm_id(2)
//!     .status(EventStatus::Success)
//!     .build()?;
//! recorder.record(event)?;
//! recorder.flush()?;
//! let page = recorder.store().query(&Query::new().user_id(1))?;
//! assert_eq!(page.items.len(), 1);
//! # Ok::<(), history::Error>(())
//! ```

#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod context;
pub mod current_call;
pub mod event;
pub mod feed;
pub mod recorder;
pub mod redact;
pub mod store;

pub mod diff;
pub mod export;
pub mod retention;
pub mod stats;

#[cfg(feature = "conformance")]
#[cfg_attr(docsrs, doc(cfg(feature = "conformance")))]
pub mod conformance;

mod default_recorder;
mod error;
mod external_trace;
mod json;

#[doc(hidden)]
pub mod __private;

pub use context::scope;
pub use default_recorder::{current, init, set_default, with_default, DefaultGuard, ScopedGuard};
pub use error::Error;
pub use event::{
    now, ErrorInfo, Event, EventBuilder, EventId, EventStatus, EventType, SubjectId,
    TerraformStatus, W3cSpanId, W3cTraceId,
};
pub use feed::{Change, ChangePage, ChangeToken};
pub use json::Json;
pub use recorder::{
    Durability, Overflow, Recorder, RecorderBuilder, RecorderStats, SinkLossCounter, Subscription,
};
pub use store::{Cursor, Filter, HistoryStore, MemoryStore, Order, Page, Query, StoreError};

#[cfg(feature = "macros")]
#[cfg_attr(docsrs, doc(cfg(feature = "macros")))]
#[doc = include_str!("../docs/track_history.md")]
pub use history_macros::track_history;
#[cfg(feature = "macros")]
#[cfg_attr(docsrs, doc(cfg(feature = "macros")))]
#[doc = include_str!("../docs/track_terraform.md")]
pub use history_macros::track_terraform;
