//! What the layer reads from a request before handing it on: the event's start, its route,
//! ids and the allowed parameters and headers.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, MatchedPath};
use history::context::{self, Snapshot};
use history::event::parse_traceparent;
use history::redact::{is_secret_name, scrub_url_credentials, REDACTED};
use history::{Event, EventId, EventType};
use http::header::{AUTHORIZATION, COOKIE, PROXY_AUTHORIZATION, SET_COOKIE};
use http::{HeaderMap, HeaderName};
use serde_json::{Map, Value};

use super::Config;

/// The header tower-http's request-id layers use.
pub(crate) const X_REQUEST_ID: &str = "x-request-id";

/// A request's event as it starts: ids, operation and parameters set; the outcome to come.
#[derive(Debug)]
pub(crate) struct Started {
    pub(crate) event: Event,
    /// The trace the handler's tracked calls join.
    trace_id: EventId,
    /// The snapshot the request was called in (its scope and enclosing tracked call).
    outer: Snapshot,
    /// The request's `content-type`, when its body is captured.
    pub(crate) request_type: Option<String>,
}

impl Started {
    pub(crate) fn new(config: &Config, parts: &http::request::Parts) -> Started {
        let route = parts
            .extensions
            .get::<MatchedPath>()
            .map(|m| m.as_str().to_owned());
        let operation = format!(
            "{} {}",
            parts.method,
            route.as_deref().unwrap_or("(no route)")
        );
        let mut event = Event::new(EventType::ApiRequest, operation);
        // Parent, trace, the scope's ids and the external trace ids from where the request is
        // served, if anywhere.
        context::fill_event(&mut event);
        if let Some(f) = &config.user_id {
            if let Some(user) = f(parts) {
                event.user_id = Some(user);
            }
        }
        if let Some(id) = header_text(&parts.headers, X_REQUEST_ID) {
            event.correlation_id = Some(id.to_owned());
        }
        // A `traceparent` names the distributed trace; the context current here (when a
        // reader of it is installed, see `history::context::set_external_trace_reader`) may
        // name a span of ours in that same trace, more precise than the caller's.
        if let Some((trace, span)) =
            header_text(&parts.headers, "traceparent").and_then(parse_traceparent)
        {
            if event.external_trace_id != Some(trace) {
                event.external_trace_id = Some(trace);
                event.external_span_id = Some(span);
            }
        }
        let trace_id = event.trace_id.unwrap_or(event.id);
        event.trace_id = Some(trace_id);

        let mut params = Map::new();
        params.insert("method".into(), Value::from(parts.method.as_str()));
        params.insert(
            "path".into(),
            Value::from(scrub_url_credentials(parts.uri.path()).into_owned()),
        );
        if let Some(route) = route {
            params.insert("route".into(), Value::from(route));
        }
        if !config.query_params.is_empty() {
            if let Some(q) = parts.uri.query() {
                let query = query_params(q, &config.query_params);
                if !query.is_empty() {
                    params.insert("query".into(), Value::Object(query));
                }
            }
        }
        let headers = allowed_headers(&parts.headers, &config.headers);
        if !headers.is_empty() {
            params.insert("headers".into(), Value::Object(headers));
        }
        let client = match &config.client_addr {
            Some(f) => f(parts),
            None => parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.to_string()),
        };
        if let Some(addr) = client {
            params.insert("client_addr".into(), Value::from(addr));
        }
        event.parameters = Value::Object(params).into();
        let request_type = config
            .request_body
            .and_then(|_| header_text(&parts.headers, "content-type"))
            .map(str::to_owned);
        Started {
            event,
            trace_id,
            outer: context::snapshot(),
            request_type,
        }
    }

    /// Where the handler runs: inside the request's event, in the scope the request came in.
    pub(crate) fn snapshot(&self) -> Snapshot {
        self.outer
            .clone()
            .within_event(self.event.id, self.trace_id)
    }
}

/// A header's value as text, if present and visible ASCII.
pub(crate) fn header_text<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// Whether a header always holds a secret, allowed or not.
fn is_secret_header(name: &HeaderName) -> bool {
    [AUTHORIZATION, PROXY_AUTHORIZATION, COOKIE, SET_COOKIE].contains(name)
        || is_secret_name(name.as_str())
}

/// The allowed headers of `headers`, secret ones redacted; repeated headers are joined with
/// `", "`, values that are not text noted as such.
pub(crate) fn allowed_headers(headers: &HeaderMap, allowed: &[HeaderName]) -> Map<String, Value> {
    let mut out = Map::new();
    for name in allowed {
        let mut values = headers.get_all(name).iter().peekable();
        if values.peek().is_none() {
            continue;
        }
        let value = if is_secret_header(name) {
            REDACTED.to_owned()
        } else {
            values
                .map(|v| match v.to_str() {
                    Ok(s) => scrub_url_credentials(s).into_owned(),
                    Err(_) => format!("[not text: {} bytes]", v.len()),
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        out.insert(name.as_str().to_owned(), Value::from(value));
    }
    out
}

/// The allowed parameters of a query string, secret ones redacted; a repeated one is kept
/// as an array of its values.
pub(crate) fn query_params(query: &str, allowed: &[String]) -> Map<String, Value> {
    let mut out = Map::new();
    for (name, value) in form_urlencoded::parse(query.as_bytes()) {
        if !allowed.iter().any(|a| *a == name) {
            continue;
        }
        let value = if is_secret_name(&name) {
            Value::from(REDACTED)
        } else {
            Value::from(scrub_url_credentials(&value).into_owned())
        };
        match out.get_mut(name.as_ref()) {
            Some(Value::Array(values)) => values.push(value),
            Some(first) => {
                let first = first.take();
                out.insert(name.into_owned(), Value::Array(vec![first, value]));
            }
            None => {
                out.insert(name.into_owned(), value);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_allow_list_and_secrets() {
        let allowed = ["page".to_owned(), "api_key".to_owned(), "tag".to_owned()];
        let q = query_params("page=2&api_key=s3cr3t&other=x&tag=a&tag=b", &allowed);
        assert_eq!(
            Value::Object(q),
            serde_json::json!({"page": "2", "api_key": "[redacted]", "tag": ["a", "b"]})
        );
    }

    #[test]
    fn header_allow_list_and_secrets() {
        let mut h = HeaderMap::new();
        h.insert("authorization", "Bearer abc".parse().unwrap());
        h.insert("cookie", "sid=1".parse().unwrap());
        h.insert("x-api-key", "k".parse().unwrap());
        h.insert("user-agent", "curl".parse().unwrap());
        h.insert("x-other", "o".parse().unwrap());
        h.insert("referer", "https://u:pw@example.com/".parse().unwrap());
        let allowed: Vec<HeaderName> = [
            "authorization",
            "cookie",
            "x-api-key",
            "user-agent",
            "referer",
        ]
        .iter()
        .map(|n| HeaderName::from_static(n))
        .collect();
        let out = Value::Object(allowed_headers(&h, &allowed));
        assert_eq!(
            out,
            serde_json::json!({
                "authorization": "[redacted]", "cookie": "[redacted]", "x-api-key": "[redacted]",
                "user-agent": "curl", "referer": "https://u:[redacted]@example.com/"
            })
        );
    }
}
