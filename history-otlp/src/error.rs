//! What goes wrong setting up or stopping an [`OtlpExporter`](crate::OtlpExporter).

/// An error setting up or stopping an [`OtlpExporter`](crate::OtlpExporter). Failed sends
/// are not errors: they are retried, and what is given up on is counted
/// ([`ExportStats`](crate::ExportStats)).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OtlpError {
    /// The endpoint is not an `http://` or `https://` URL with a host.
    #[error("OTLP endpoint: {0}")]
    InvalidEndpoint(String),
    /// A setting cannot work as given.
    #[error("OTLP exporter setting {setting}: {reason}")]
    InvalidSetting {
        /// The setting.
        setting: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The export thread could not be started.
    #[error("cannot start the OTLP export thread: {0}")]
    Spawn(#[source] std::io::Error),
    /// The export thread stopped by panicking (a bug).
    #[error("the OTLP export thread panicked")]
    Panicked,
    /// [`OtlpExporter::shutdown_timeout`](crate::OtlpExporter::shutdown_timeout) gave up
    /// waiting: records were still being sent.
    #[error("the OTLP export thread had not finished after {0:?}")]
    Timeout(std::time::Duration),
}
