//! [`OtlpExporterBuilder`]: where to send, what, how much at once, how long to keep trying.

use std::time::Duration;

use history::redact::RedactionPolicy;
use history::{EventStatus, Filter, Recorder};

use crate::error::OtlpError;
use crate::exporter::{OtlpExporter, Settings};
use crate::request::Encoder;
use crate::transport::{logs_url, Transport};

/// How many records one request carries at most, unless told otherwise.
pub const DEFAULT_MAX_BATCH: usize = 512;
/// How long a record waits for more to share its request, unless told otherwise.
pub const DEFAULT_MAX_DELAY: Duration = Duration::from_secs(1);
/// How many committed records wait for the exporter, unless told otherwise.
pub const DEFAULT_BUFFER: usize = 16_384;
/// How long one attempt may take, connect to last byte, unless told otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a failing request is retried before its records are given up, unless told
/// otherwise.
pub const DEFAULT_RETRY_FOR: Duration = Duration::from_secs(60);

/// Settings for an [`OtlpExporter`]; made by [`OtlpExporter::builder`].
#[derive(Debug, Clone)]
pub struct OtlpExporterBuilder {
    endpoint: String,
    headers: Vec<(String, String)>,
    resource: Vec<(String, String)>,
    filter: Filter,
    policy: RedactionPolicy,
    max_batch: usize,
    max_delay: Duration,
    buffer: usize,
    timeout: Duration,
    retry_for: Duration,
    initial_backoff: Duration,
    max_backoff: Duration,
}

impl OtlpExporter {
    /// Settings for an exporter sending to `endpoint`: a base URL (`http://localhost:4318`,
    /// to which the OTLP logs path `/v1/logs` is added) or the full logs URL
    /// (`https://collector.example/otlp/v1/logs`).
    pub fn builder(endpoint: impl Into<String>) -> OtlpExporterBuilder {
        OtlpExporterBuilder::new(endpoint)
    }
}

impl OtlpExporterBuilder {
    fn new(endpoint: impl Into<String>) -> OtlpExporterBuilder {
        OtlpExporterBuilder {
            endpoint: endpoint.into(),
            headers: Vec::new(),
            resource: Vec::new(),
            filter: Filter::new(),
            policy: RedactionPolicy::default(),
            max_batch: DEFAULT_MAX_BATCH,
            max_delay: DEFAULT_MAX_DELAY,
            buffer: DEFAULT_BUFFER,
            timeout: DEFAULT_TIMEOUT,
            retry_for: DEFAULT_RETRY_FOR,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
        }
    }

    /// Adds a header to every request (an `Authorization`, a tenant id).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Adds a string attribute to every resource, after `service.name` and `host.name`
    /// (`deployment.environment.name = "prod"`).
    pub fn resource_attribute(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.resource.push((key.into(), value.into()));
        self
    }

    /// Exports only the events `filter` matches (default: every event). Only final records
    /// are exported whatever the filter says: in-progress ones are left out.
    pub fn filter(mut self, filter: Filter) -> Self {
        self.filter = filter;
        self
    }

    /// The redaction policy applied to every event before it is sent (default: the default
    /// policy). Give the recorder's own policy when it extends the default one.
    pub fn redaction(mut self, policy: RedactionPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// At most this many records per request (default [`DEFAULT_MAX_BATCH`]; at least 1).
    pub fn max_batch(mut self, records: usize) -> Self {
        self.max_batch = records;
        self
    }

    /// A record waits at most this long for others to share its request (default
    /// [`DEFAULT_MAX_DELAY`]).
    pub fn max_delay(mut self, delay: Duration) -> Self {
        self.max_delay = delay;
        self
    }

    /// How many committed records wait for the exporter (default [`DEFAULT_BUFFER`]; at
    /// least 1). Past it, the oldest waiting records are lost and counted
    /// ([`ExportStats::lagged`](crate::ExportStats::lagged)): the recorder never waits.
    pub fn buffer(mut self, records: usize) -> Self {
        self.buffer = records;
        self
    }

    /// How long one attempt may take, connect to last byte (default [`DEFAULT_TIMEOUT`]).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How long a request that fails in a way worth retrying (the receiver is down,
    /// overloaded: connection errors, 429, 502, 503, 504) is retried before its records are
    /// given up and counted (default [`DEFAULT_RETRY_FOR`]). Meanwhile new records wait in
    /// the buffer.
    pub fn retry_for(mut self, limit: Duration) -> Self {
        self.retry_for = limit;
        self
    }

    /// The wait before the first retry, doubled after each failure up to `max` (default
    /// 100 ms up to 5 s). A receiver's `Retry-After` is honoured up to `max`.
    pub fn backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.initial_backoff = initial;
        self.max_backoff = max;
        self
    }

    /// Subscribes to `recorder`'s committed records and starts the export thread.
    ///
    /// Records committed from now on are exported; the exporter stops by itself, after
    /// sending what it holds, when the recorder shuts down.
    pub fn start(self, recorder: &Recorder) -> Result<OtlpExporter, OtlpError> {
        let url = logs_url(&self.endpoint)?;
        if self.max_backoff < self.initial_backoff {
            return Err(OtlpError::InvalidSetting {
                setting: "backoff",
                reason: "the longest wait is shorter than the first".into(),
            });
        }
        let mut filter = self.filter;
        let asked_for_statuses = !filter.statuses.is_empty();
        filter.statuses.retain(EventStatus::is_terminal);
        if asked_for_statuses && filter.statuses.is_empty() {
            return Err(OtlpError::InvalidSetting {
                setting: "filter",
                reason: "it keeps only in-progress records, and only final records are exported"
                    .into(),
            });
        }
        if filter.statuses.is_empty() {
            filter.statuses = vec![
                EventStatus::Success,
                EventStatus::Failed,
                EventStatus::Cancelled,
                EventStatus::Interrupted,
            ];
        }
        let transport = Transport::new(&url, self.headers, self.timeout)?;
        let subscription = recorder.subscribe_with_buffer(filter, self.buffer.max(1));
        OtlpExporter::spawn(
            subscription,
            recorder.sink_loss_counter(),
            transport,
            Encoder::new(self.policy, self.resource),
            Settings {
                max_batch: self.max_batch.max(1),
                max_delay: self.max_delay,
                retry_for: self.retry_for,
                initial_backoff: self.initial_backoff,
                max_backoff: self.max_backoff,
            },
        )
    }
}
