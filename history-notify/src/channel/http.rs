//! The HTTP side shared by [`Webhook`](super::Webhook) and [`Slack`](super::Slack): a `ureq`
//! agent with a timeout, no redirects, and errors that never carry the URL (a Slack webhook's
//! path is its secret).

use std::time::Duration;

use crate::error::{DeliveryError, NotifyError};

/// How long one delivery attempt may take by default, connect to last byte.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// A POST target.
#[derive(Clone)]
pub(crate) struct Target {
    pub(crate) url: String,
    agent: ureq::Agent,
}

impl Target {
    pub(crate) fn new(url: &str, timeout: Duration) -> Result<Target, NotifyError> {
        let uri: ureq::http::Uri = url
            .parse()
            .map_err(|_| NotifyError::InvalidChannel("the URL does not parse".into()))?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
            return Err(NotifyError::InvalidChannel(
                "the URL must be http:// or https:// with a host".into(),
            ));
        }
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .max_redirects(0)
            .user_agent(concat!("history-notify/", env!("CARGO_PKG_VERSION")))
            .build();
        Ok(Target {
            url: url.to_owned(),
            agent: config.into(),
        })
    }

    /// Where requests go, without path or credentials, for logs and `Debug`.
    pub(crate) fn origin(&self) -> String {
        match self.url.parse::<ureq::http::Uri>() {
            Ok(uri) => format!(
                "{}://{}/…",
                uri.scheme_str().unwrap_or("?"),
                uri.host().unwrap_or("?")
            ),
            Err(_) => "?".into(),
        }
    }

    /// POSTs `body` as JSON with `headers`; a 2xx answer is success.
    pub(crate) fn post_json(
        &self,
        body: &[u8],
        headers: &[(&str, &str)],
    ) -> Result<(), DeliveryError> {
        let mut request = self
            .agent
            .post(&self.url)
            .header("Content-Type", "application/json");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        match request.send(body) {
            Ok(response) if response.status().is_success() => Ok(()),
            Ok(response) => Err(DeliveryError::Status {
                status: response.status().as_u16(),
            }),
            Err(e) => Err(DeliveryError::Transport(transport_message(&e))),
        }
    }
}

/// A transport error's text, with nothing of the URL in it.
fn transport_message(e: &ureq::Error) -> String {
    match e {
        ureq::Error::Io(io) => format!("{:?}: {io}", io.kind()),
        ureq::Error::Timeout(t) => format!("timed out ({t})"),
        ureq::Error::HostNotFound => "host not found".into(),
        ureq::Error::ConnectionFailed => "connection failed".into(),
        other => {
            let text = other.to_string();
            history::redact::scrub_url_credentials(&text).into_owned()
        }
    }
}
