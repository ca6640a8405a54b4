//! What the layer reads from a request before handing it on: the event's start, its route,
//! ids and the allowed parameters and headers.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, MatchedPath};
use history::context::{self, Snapshot};
use history::event::parse_traceparent;
use history::{Event, EventId, EventType};
use http::HeaderMap;

use super::captured::{AllowedHeaders, AllowedQuery, RequestParams};
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
            .map(MatchedPath::as_str);
        let method = parts.method.as_str();
        let template = route.unwrap_or("(no route)");
        let mut operation = String::with_capacity(method.len() + 1 + template.len());
        operation.push_str(method);
        operation.push(' ');
        operation.push_str(template);
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

        let client = match &config.client_addr {
            Some(f) => f(parts),
            None => parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.to_string()),
        };
        event.parameters = RequestParams {
            method,
            path: parts.uri.path(),
            route,
            query: match (config.query_params.is_empty(), parts.uri.query()) {
                (false, Some(query)) => Some(AllowedQuery {
                    query,
                    allowed: &config.query_params,
                }),
                _ => None,
            },
            headers: AllowedHeaders {
                headers: &parts.headers,
                allowed: &config.headers,
            },
            client_addr: client.as_deref(),
        }
        .to_json();
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
