//! OpenTelemetry export for the [`history`] crate: every final record a
//! [`Recorder`](history::Recorder) commits, sent as an OTLP log record to an OTLP/HTTP
//! receiver (an OpenTelemetry Collector, or any backend that takes OTLP over HTTP/protobuf).
//!
//! ```no_run
//! use history::{MemoryStore, Recorder};
//! use history_otlp::OtlpExporter;
//!
//! let recorder = Recorder::new(MemoryStore::new())?;
//! let exporter = OtlpExporter::builder("http://localhost:4318").start(&recorder)?;
//! // ... record events: each final record is exported ...
//! recorder.shutdown()?;
//! exporter.shutdown()?;
//! println!("{:?}", exporter.stats());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # What is sent
//!
//! One log record per final record (success, failed, cancelled, interrupted; in-progress
//! records are not exported), redacted under the exporter's
//! [`RedactionPolicy`](history::redact::RedactionPolicy) first:
//!
//! | OTLP field | from the event |
//! | --- | --- |
//! | resource `service.name`, `host.name` | `service` (`unknown_service` when unset), `host` |
//! | scope | `history` and this crate's version |
//! | `event_name` | the event type (`vm_create`) |
//! | `severity_number` / `severity_text` | failed → `ERROR`; cancelled, interrupted → `WARN`; success → `INFO` |
//! | `time_unix_nano` | when it finished (when it started, if unknown) |
//! | `observed_time_unix_nano` | when the exporter sent it |
//! | `trace_id`, `span_id` | the external W3C trace and span ids, when the event has them |
//! | `body` | `"<operation> <status>"`, then `": <error message>"` when it failed |
//! | `history.event_id`, `history.operation`, `history.status` | id, operation, status |
//! | `history.started_at` | when it started (ns since the Unix epoch) |
//! | `history.duration_seconds` | duration (a double) |
//! | `history.user_id`, `history.vm_id`, `history.credential_id`, `history.organization_id` | subject ids (ints or strings) |
//! | `history.labels.<key>` | each label |
//! | `history.parameters`, `history.result`, `history.execution` | the JSON documents, as JSON text |
//! | `exception.message`, `error.type`, `exception.stacktrace` | error message, kind, backtrace |
//! | `history.error.sources`, `history.error.debug` | the error's source chain (an array) and `Debug` text |
//! | `history.parent_id`, `history.trace_id`, `history.correlation_id`, `history.terraform_status` | the history's own ids and the Terraform status |
//!
//! # Never in the way
//!
//! The exporter reads the recorder's change feed through a bounded buffer
//! ([`OtlpExporterBuilder::buffer`]) from a thread of its own. The recorder never waits for
//! it: when the buffer is full, the oldest records in it are lost. A request that fails
//! because the receiver is down or overloaded is retried with backoff for
//! [`OtlpExporterBuilder::retry_for`]; one the receiver refuses is dropped. Everything not
//! delivered is counted in [`ExportStats`] and reported to the recorder
//! ([`RecorderStats::sink_lost`](history::RecorderStats::sink_lost), and the metric
//! `history_recorder_sink_lost_total`).

mod builder;
mod error;
mod exporter;
mod log_record;
mod request;
mod stats;
mod transport;

pub use builder::{
    OtlpExporterBuilder, DEFAULT_BUFFER, DEFAULT_MAX_BATCH, DEFAULT_MAX_DELAY, DEFAULT_RETRY_FOR,
    DEFAULT_TIMEOUT,
};
pub use error::OtlpError;
pub use exporter::{OtlpExporter, DEFAULT_SHUTDOWN_TIMEOUT};
pub use request::{SCOPE_NAME, UNKNOWN_SERVICE};
pub use stats::ExportStats;
