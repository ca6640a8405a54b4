//! One POST of a request body to the receiver, and what its answer means for the batch:
//! accepted (perhaps in part), worth retrying, or refused for good (the OTLP/HTTP rules).

use std::time::Duration;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceResponse;
use prost::Message;

use crate::error::OtlpError;

/// The most of a response body read (a partial-success answer is a few hundred bytes).
const MAX_RESPONSE_BYTES: u64 = 64 * 1024;

/// What became of one attempt.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// The receiver took the batch; it may have rejected some records (partial success).
    Accepted {
        /// Records the receiver said it rejected.
        rejected: u64,
    },
    /// Not now (the receiver is down, overloaded or slow): try again later, no sooner than
    /// `after` when the receiver said so.
    Retry {
        /// Why, for the log.
        reason: String,
        /// The receiver's `Retry-After`, when it gave one.
        after: Option<Duration>,
    },
    /// The receiver refused the batch; sending it again would not help.
    Refused {
        /// Why, for the log.
        reason: String,
    },
}

/// An HTTP client bound to one OTLP/HTTP logs endpoint.
#[derive(Clone)]
pub(crate) struct Transport {
    agent: ureq::Agent,
    url: String,
    headers: Vec<(String, String)>,
}

impl Transport {
    pub(crate) fn new(
        endpoint: &str,
        headers: Vec<(String, String)>,
        timeout: Duration,
    ) -> Result<Transport, OtlpError> {
        let url = logs_url(endpoint)?;
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .max_redirects(0)
            .user_agent(concat!("history-otlp/", env!("CARGO_PKG_VERSION")))
            .build();
        Ok(Transport {
            agent: config.into(),
            url,
            headers,
        })
    }

    /// Where requests go, without path or credentials, for logs and `Debug`.
    pub(crate) fn origin(&self) -> String {
        match self.url.parse::<ureq::http::Uri>() {
            Ok(uri) => format!(
                "{}://{}{}",
                uri.scheme_str().unwrap_or("?"),
                uri.host().unwrap_or("?"),
                uri.port().map(|p| format!(":{p}")).unwrap_or_default()
            ),
            Err(_) => "?".into(),
        }
    }

    /// POSTs one protobuf body.
    pub(crate) fn send(&self, body: &[u8]) -> Outcome {
        let mut request = self
            .agent
            .post(&self.url)
            .header("Content-Type", "application/x-protobuf");
        for (name, value) in &self.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let mut response = match request.send(body) {
            Ok(response) => response,
            Err(e) => {
                return Outcome::Retry {
                    reason: transport_message(&e),
                    after: None,
                }
            }
        };
        let status = response.status().as_u16();
        if response.status().is_success() {
            let bytes = response
                .body_mut()
                .with_config()
                .limit(MAX_RESPONSE_BYTES)
                .read_to_vec()
                .unwrap_or_default();
            let rejected = ExportLogsServiceResponse::decode(bytes.as_slice())
                .ok()
                .and_then(|r| r.partial_success)
                .map(|p| u64::try_from(p.rejected_log_records).unwrap_or(0))
                .unwrap_or(0);
            return Outcome::Accepted { rejected };
        }
        // Read what is left so the connection can be reused.
        let _ = response
            .body_mut()
            .with_config()
            .limit(MAX_RESPONSE_BYTES)
            .read_to_vec();
        let reason = format!("the receiver answered {status}");
        match status {
            429 | 502 | 503 | 504 => {
                let after = response
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(Duration::from_secs);
                Outcome::Retry { reason, after }
            }
            _ => Outcome::Refused { reason },
        }
    }
}

/// The logs URL of `endpoint`: a base URL (`http://collector:4318`, path empty or `/`) gets
/// the OTLP logs path `/v1/logs`; a URL with a path is used as it is.
pub(crate) fn logs_url(endpoint: &str) -> Result<String, OtlpError> {
    let uri: ureq::http::Uri = endpoint
        .parse()
        .map_err(|_| OtlpError::InvalidEndpoint("the URL does not parse".into()))?;
    if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
        return Err(OtlpError::InvalidEndpoint(
            "the URL must be http:// or https:// with a host".into(),
        ));
    }
    if uri.path().is_empty() || uri.path() == "/" {
        Ok(format!("{}/v1/logs", endpoint.trim_end_matches('/')))
    } else {
        Ok(endpoint.to_owned())
    }
}

/// A transport error's text, with nothing of the URL in it.
fn transport_message(e: &ureq::Error) -> String {
    match e {
        ureq::Error::Io(io) => format!("{:?}: {io}", io.kind()),
        ureq::Error::Timeout(t) => format!("timed out ({t})"),
        ureq::Error::HostNotFound => "host not found".into(),
        ureq::Error::ConnectionFailed => "connection failed".into(),
        other => history::redact::scrub_url_credentials(&other.to_string()).into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_base_url_gets_the_logs_path_and_a_full_one_is_kept() {
        let url = |e: &str| logs_url(e).expect("valid");
        assert_eq!(url("http://c:4318"), "http://c:4318/v1/logs");
        assert_eq!(url("http://c:4318/"), "http://c:4318/v1/logs");
        assert_eq!(url("https://c/otlp/v1/logs"), "https://c/otlp/v1/logs");
        assert!(logs_url("ftp://c").is_err());
        assert!(logs_url("not a url").is_err());
    }
}
