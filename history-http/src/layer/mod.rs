//! [`HistoryLayer`]: one `api_request` event per HTTP request, for any tower service.
//!
//! ```
//! use axum::{routing::get, Router};
//! use history::{MemoryStore, Recorder};
//! use history_http::HistoryLayer;
//!
//! let recorder = Recorder::new(MemoryStore::new())?;
//! let app: Router = Router::new()
//!     .route("/vms/{id}", get(|| async { "a VM" }))
//!     // `Router::layer`: the layer runs after routing, so it sees the route template.
//!     .layer(
//!         HistoryLayer::new(recorder)
//!             .headers(["user-agent"])
//!             .query_params(["page"])
//!             .skip_path("/health"),
//!     );
//! # drop(app);
//! # Ok::<(), history::Error>(())
//! ```
//!
//! What one event holds:
//!
//! | field | from |
//! | --- | --- |
//! | `operation` | `"{METHOD} {route}"`: the route template from axum's [`MatchedPath`](axum::extract::MatchedPath) (`GET /vms/{id}`), never the raw path; `"{METHOD} (no route)"` when no route matched or the layer runs outside a router |
//! | `parameters` | `method`, `path`, `route`, the allowed `query` parameters and `headers`, `client_addr`, the request `body` when asked |
//! | `result` | `status`, the allowed response `headers`, the response `body` when asked |
//! | `status` | `failed` for 5xx (and 4xx when [`HistoryLayer::client_errors_fail`] says so), an error of the inner service, or a panic; `cancelled` when the response future is dropped before it completes (the client went away); else `success` |
//! | `error` | the status line (`503 Service Unavailable`, kind `http_status`), the inner service's error (kind `service_error`) or the panic (kind `panic`) |
//! | `user_id` | [`HistoryLayer::user_id`]'s closure over the request, or [`history::current_call::set_user_id`] called in the handler |
//! | `correlation_id` | the `x-request-id` header of the request, else of the response (tower-http's `SetRequestIdLayer` / `PropagateRequestIdLayer`) |
//! | `trace_id` | the trace of the tracked call the request runs in, else the event's own id (the history's tree of nested calls) |
//! | `external_trace_id`, `external_span_id` | the OpenTelemetry context current where the request is served, when a reader is installed (`history_tracing::install_opentelemetry`); else, or when its trace differs, the trace id and the caller's span id of a valid W3C `traceparent` header |
//! | `parent_id` | the tracked call the request runs in, if any |
//!
//! Tracked functions the handler calls nest under the request's event (`parent_id` is the
//! request's id), across `.await` and in the handler's synchronous part alike.
//!
//! Secrets: `Authorization`, `Proxy-Authorization`, `Cookie`, `Set-Cookie` and every header or
//! query parameter whose name is secret ([`history::redact::is_secret_name`]) are recorded as
//! `"[redacted]"` even when allowed; URL passwords are scrubbed from every captured string; a
//! captured JSON body is redacted by name at every depth, as the recorder redacts every event.
//! Bodies are captured only when asked, at most the given number of bytes.
//!
//! Errors and panics of the inner service reach the caller exactly as without the layer: the
//! error is returned unchanged and the panic resumes with its payload once it is recorded.

mod body;
mod captured;
mod future;
mod request;
mod response;

use std::fmt;
use std::sync::Arc;

use axum::body::Body;
use bytes::Bytes;
use history::{Recorder, SubjectId};
use http::{HeaderName, Request, Response, StatusCode};
use tower_layer::Layer;
use tower_service::Service;

pub use future::ResponseFuture;

/// The error type of bodies the layer accepts (as axum's).
type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Reads a user id from a request's parts (extensions set by an auth layer, a header).
type UserIdFn = dyn Fn(&http::request::Parts) -> Option<SubjectId> + Send + Sync;
/// Reads the client address from a request's parts.
type ClientAddrFn = dyn Fn(&http::request::Parts) -> Option<String> + Send + Sync;

/// A tower [`Layer`] that records one `api_request` event per HTTP request (see the
/// [module docs](self)).
///
/// Build it with [`HistoryLayer::new`] (a given recorder) or [`HistoryLayer::default_recorder`]
/// (the recorder [`history::init`] installed, looked up per request), then narrow what it
/// captures. Cloning is cheap: the settings are shared.
#[derive(Clone)]
pub struct HistoryLayer {
    config: Arc<Config>,
}

/// What the layer captures and how it classifies; shared by every clone.
pub(crate) struct Config {
    pub(crate) recorder: Option<Recorder>,
    pub(crate) user_id: Option<Arc<UserIdFn>>,
    pub(crate) client_addr: Option<Arc<ClientAddrFn>>,
    pub(crate) client_errors_fail: bool,
    pub(crate) failing_statuses: Vec<StatusCode>,
    /// Sorted, without repeats.
    pub(crate) query_params: Vec<String>,
    /// Sorted by name, without repeats (the order the event's JSON lists them in).
    pub(crate) headers: Vec<captured::AllowedHeader>,
    pub(crate) skip_paths: Vec<String>,
    pub(crate) request_body: Option<usize>,
    pub(crate) response_body: Option<usize>,
}

impl fmt::Debug for HistoryLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.config;
        f.debug_struct("HistoryLayer")
            .field("recorder", &c.recorder.as_ref().map(|_| "given"))
            .field("user_id", &c.user_id.as_ref().map(|_| "closure"))
            .field("client_errors_fail", &c.client_errors_fail)
            .field("failing_statuses", &c.failing_statuses)
            .field("query_params", &c.query_params)
            .field(
                "headers",
                &c.headers
                    .iter()
                    .map(|h| h.name.as_str())
                    .collect::<Vec<_>>(),
            )
            .field("skip_paths", &c.skip_paths)
            .field("request_body", &c.request_body)
            .field("response_body", &c.response_body)
            .finish()
    }
}

impl HistoryLayer {
    /// A layer recording to `recorder`.
    pub fn new(recorder: Recorder) -> HistoryLayer {
        HistoryLayer::with(Some(recorder))
    }

    /// A layer recording to the default recorder ([`history::current`]), looked up per
    /// request; with none installed, requests run unrecorded.
    pub fn default_recorder() -> HistoryLayer {
        HistoryLayer::with(None)
    }

    fn with(recorder: Option<Recorder>) -> HistoryLayer {
        HistoryLayer {
            config: Arc::new(Config {
                recorder,
                user_id: None,
                client_addr: None,
                client_errors_fail: false,
                failing_statuses: Vec::new(),
                query_params: Vec::new(),
                headers: Vec::new(),
                skip_paths: Vec::new(),
                request_body: None,
                response_body: None,
            }),
        }
    }

    fn edit(mut self, f: impl FnOnce(&mut Config)) -> Self {
        // Builder methods run before the layer is shared; a shared one is copied once.
        match Arc::get_mut(&mut self.config) {
            Some(config) => f(config),
            None => {
                let mut config = self.config.duplicate();
                f(&mut config);
                self.config = Arc::new(config);
            }
        }
        self
    }

    /// Reads the user id from the request: extensions an authentication layer that runs
    /// before this one set, or a header. Inside the handler,
    /// [`history::current_call::set_user_id`] sets (or replaces) it too.
    ///
    /// ```
    /// use history_http::HistoryLayer;
    /// #[derive(Clone)]
    /// struct User(u64); // inserted into the request's extensions by your auth layer
    /// let layer = HistoryLayer::default_recorder()
    ///     .user_id(|parts| parts.extensions.get::<User>().map(|u| u.0.into()));
    /// # drop(layer);
    /// ```
    pub fn user_id(
        self,
        f: impl Fn(&http::request::Parts) -> Option<SubjectId> + Send + Sync + 'static,
    ) -> Self {
        self.edit(|c| c.user_id = Some(Arc::new(f)))
    }

    /// Reads the client's address from the request (a trusted proxy's `x-forwarded-for`, for
    /// example). Without it the address is axum's
    /// [`ConnectInfo<SocketAddr>`](axum::extract::ConnectInfo) when the server provides it
    /// (`into_make_service_with_connect_info`).
    pub fn client_addr(
        self,
        f: impl Fn(&http::request::Parts) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        self.edit(|c| c.client_addr = Some(Arc::new(f)))
    }

    /// Whether a 4xx response marks the event `failed` (default: no, it is `success`: the
    /// service did what it should with a bad request). 5xx always fails.
    pub fn client_errors_fail(self, yes: bool) -> Self {
        self.edit(|c| c.client_errors_fail = yes)
    }

    /// Marks events with this status `failed` whatever [`HistoryLayer::client_errors_fail`]
    /// says (a `409 Conflict` that matters, say).
    pub fn fail_on(self, status: StatusCode) -> Self {
        self.edit(|c| c.failing_statuses.push(status))
    }

    /// Records these query parameters (exact names); others are left out. A secret-named
    /// one is recorded as `"[redacted]"`.
    pub fn query_params<I, S>(self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.edit(|c| {
            c.query_params.extend(names.into_iter().map(Into::into));
            c.query_params.sort_unstable();
            c.query_params.dedup();
        })
    }

    /// Records these request and response headers (names are case-insensitive; a name that
    /// is not a valid header name is ignored). `Authorization`, `Proxy-Authorization`,
    /// `Cookie`, `Set-Cookie` and secret-named headers are recorded as `"[redacted]"`.
    pub fn headers<I, S>(self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.edit(|c| {
            c.headers.extend(
                names
                    .into_iter()
                    .filter_map(|n| HeaderName::from_bytes(n.as_ref().as_bytes()).ok())
                    .map(captured::AllowedHeader::new),
            );
            c.headers
                .sort_unstable_by(|a, b| a.name.as_str().cmp(b.name.as_str()));
            c.headers.dedup_by(|a, b| a.name == b.name);
        })
    }

    /// Records nothing for requests to `path` (`/health`), or under it when it ends with
    /// `/*` (`/metrics/*` skips `/metrics` and everything below).
    pub fn skip_path(self, path: impl Into<String>) -> Self {
        self.edit(|c| c.skip_paths.push(path.into()))
    }

    /// Captures the first `max_bytes` of each request body (as JSON when it is JSON, redacted
    /// by name; else as text, or a note of its size when it is not text). The body still
    /// streams to the handler as it arrives.
    pub fn request_body(self, max_bytes: usize) -> Self {
        self.edit(|c| c.request_body = Some(max_bytes))
    }

    /// Captures the first `max_bytes` of each response body, like
    /// [`HistoryLayer::request_body`]. The event is then recorded once the body has been
    /// sent (or dropped); its duration still ends at the response's head.
    pub fn response_body(self, max_bytes: usize) -> Self {
        self.edit(|c| c.response_body = Some(max_bytes))
    }
}

impl Config {
    fn duplicate(&self) -> Config {
        Config {
            recorder: self.recorder.clone(),
            user_id: self.user_id.clone(),
            client_addr: self.client_addr.clone(),
            client_errors_fail: self.client_errors_fail,
            failing_statuses: self.failing_statuses.clone(),
            query_params: self.query_params.clone(),
            headers: self.headers.clone(),
            skip_paths: self.skip_paths.clone(),
            request_body: self.request_body,
            response_body: self.response_body,
        }
    }

    fn skips(&self, path: &str) -> bool {
        self.skip_paths.iter().any(|p| match p.strip_suffix("/*") {
            Some(prefix) => {
                path == prefix
                    || (path.starts_with(prefix)
                        && path.as_bytes().get(prefix.len()) == Some(&b'/'))
            }
            None => path == p,
        })
    }

    /// Whether a response with `status` is a failure.
    pub(crate) fn fails(&self, status: StatusCode) -> bool {
        status.is_server_error()
            || (self.client_errors_fail && status.is_client_error())
            || self.failing_statuses.contains(&status)
    }
}

impl<S> Layer<S> for HistoryLayer {
    type Service = HistoryService<S>;
    fn layer(&self, inner: S) -> HistoryService<S> {
        HistoryService {
            inner,
            config: self.config.clone(),
        }
    }
}

/// The service [`HistoryLayer`] wraps around an inner service.
///
/// It accepts requests with any body and hands the inner service an
/// [`axum::body::Body`] (the same body when it already is one); responses come back with an
/// `axum::body::Body` too.
#[derive(Clone)]
pub struct HistoryService<S> {
    inner: S,
    config: Arc<Config>,
}

impl<S: fmt::Debug> fmt::Debug for HistoryService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HistoryService")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<S, ReqB, ResB> Service<Request<ReqB>> for HistoryService<S>
where
    S: Service<Request<Body>, Response = Response<ResB>>,
    S::Error: fmt::Display,
    ReqB: http_body::Body<Data = Bytes> + Send + 'static,
    ReqB::Error: Into<BoxError>,
    ResB: http_body::Body<Data = Bytes> + Send + 'static,
    ResB::Error: Into<BoxError>,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqB>) -> Self::Future {
        let recorder = if self.config.skips(req.uri().path()) {
            None
        } else {
            match &self.config.recorder {
                Some(r) => Some(r.clone()),
                None => history::current(),
            }
        };
        let Some(recorder) = recorder else {
            return ResponseFuture::unrecorded(self.inner.call(req.map(Body::new)));
        };
        let (parts, body) = req.into_parts();
        let started = request::Started::new(&self.config, &parts);
        let (body, request_body) = match self.config.request_body {
            Some(max) => {
                let (body, seen) = body::Tee::new(body, max);
                (Body::new(body), Some(seen))
            }
            None => (Body::new(body), None),
        };
        let req = Request::from_parts(parts, body);
        let inner = &mut self.inner;
        let snapshot = started.snapshot();
        let called = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            snapshot.in_scope(|| inner.call(req))
        }));
        let pending = response::Pending {
            recorder,
            config: self.config.clone(),
            started,
            request_body,
        };
        match called {
            Ok(future) => ResponseFuture::recorded(snapshot.instrument(future), pending),
            Err(payload) => {
                pending.panicked(payload.as_ref());
                std::panic::resume_unwind(payload)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skip_paths_match_exactly_or_below_a_prefix() {
        let layer = HistoryLayer::default_recorder()
            .skip_path("/health")
            .skip_path("/metrics/*");
        let c = &layer.config;
        assert!(c.skips("/health") && !c.skips("/health/deep") && !c.skips("/healthz"));
        assert!(c.skips("/metrics") && c.skips("/metrics/x") && !c.skips("/metricsx"));
    }

    #[test]
    fn classification() {
        let c = HistoryLayer::default_recorder()
            .fail_on(StatusCode::CONFLICT)
            .config;
        assert!(c.fails(StatusCode::INTERNAL_SERVER_ERROR));
        assert!(!c.fails(StatusCode::NOT_FOUND));
        assert!(c.fails(StatusCode::CONFLICT));
        assert!(!c.fails(StatusCode::OK));
        let c = HistoryLayer::default_recorder()
            .client_errors_fail(true)
            .config;
        assert!(c.fails(StatusCode::NOT_FOUND) && !c.fails(StatusCode::FOUND));
    }
}
