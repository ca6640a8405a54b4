//! The history as a read-only JSON API: an axum [`Router`] to nest into your app.
//!
//! ```
//! use axum::Router;
//! use history::{MemoryStore, Recorder};
//!
//! let recorder = Recorder::new(MemoryStore::new())?;
//! let app: Router = Router::new()
//!     // your routes …
//!     .nest("/history", history_http::router(&recorder));
//! # drop(app);
//! # Ok::<(), history::Error>(())
//! ```
//!
//! | method and path | answers |
//! | --- | --- |
//! | `GET /events` | a page of events; every filter condition is a query parameter (`event_type`, `status`, `user_id`, `vm_id`, `credential_id`, `organization_id`, `parent_id`, `trace_id`, `correlation_id`, `external_trace_id` and `external_span_id` (W3C ids, hex), `operation`, `host`, `service`, `label=key:value`, `since`, `until`, `min_duration`, `max_duration` (seconds), `error_contains`), plus `order` (`newest`/`oldest`), `limit`, `cursor`, `with_total`; the answer's `next` is the link to the next page (keyset: never an offset) |
//! | `GET /events/stream` | server-sent events: each committed event matching the filter (same parameters as `/events`), as it is recorded and again when it changes; event type `event`, `id` = the change token, data = the event's JSON. Starts from now; resumes after `Last-Event-ID` (what a browser's `EventSource` sends on reconnecting) or `?after={token}` (`after=0`: from the oldest change kept) |
//! | `GET /events/{id}` | one event |
//! | `GET /events/{id}/children` | the events that ran inside it, oldest first (paged like `/events`) |
//! | `GET /events/{id}/trace` | every event of its trace, oldest first, to draw the tree |
//! | `GET /events/{id}/diff/previous` | its differences from the last successful run of the same operation on the same subject (`old` and `diff` are `null` when there is none) |
//! | `GET /diff?old={id}&new={id}` | the differences between two events |
//! | `GET /stats` | counts, success rate, duration avg/min/max/p50/p95/p99 (seconds), over the filter, optionally per `group_by` (`event_type`, `user`, `vm`, `operation`, `minute`, `hour`, `day`) |
//! | `GET /health` | `{"status": "ok"}` when the store answers, else 503 |
//! | `GET /openapi.json` | the OpenAPI 3.1 document of all of the above |
//! | `GET /` | the web page (feature `ui`; see [`crate::ui`]) |
//!
//! Errors are RFC 9457 problem details (`application/problem+json`) whose `detail` names the
//! parameter at fault. Every read runs on tokio's blocking pool ([`AsyncStore`]).
//!
//! **Authentication** is yours: the router serves whoever reaches it. Put your auth layer on
//! it before nesting (`router(store).layer(your_auth)`), or on the app around it. What it
//! serves was redacted when it was recorded.

mod events;
mod params;
mod problem;
mod stats;
mod stream;

use std::time::Duration;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Serialize;

use crate::read::AsyncStore;
pub use problem::Problem;

/// The OpenAPI document of the JSON API.
pub const OPENAPI: &str = include_str!("openapi.json");

/// [`HistoryApi::new`]`(store).router()`: the JSON API (and, with feature `ui`, the web page)
/// over `store` — a `&Recorder`, an `Arc` of any store, or an [`AsyncStore`].
pub fn router(store: impl Into<AsyncStore>) -> Router {
    HistoryApi::new(store).router()
}

/// The JSON API's settings; [`HistoryApi::router`] builds it.
#[derive(Clone, Debug)]
pub struct HistoryApi {
    pub(crate) store: AsyncStore,
    pub(crate) poll_interval: Duration,
}

impl HistoryApi {
    /// The API over `store`.
    pub fn new(store: impl Into<AsyncStore>) -> HistoryApi {
        HistoryApi {
            store: store.into(),
            poll_interval: Duration::from_millis(500),
        }
    }

    /// How often the live stream asks the store for new changes when it has none
    /// (default 500 ms).
    pub fn poll_interval(mut self, every: Duration) -> Self {
        self.poll_interval = every.max(Duration::from_millis(10));
        self
    }

    /// The router, to nest into your app (`app.nest("/history", api.router())`).
    pub fn router(self) -> Router {
        let routes = Router::new()
            .route("/events", get(events::list))
            .route("/events/stream", get(stream::stream))
            .route("/events/{id}", get(events::one))
            .route("/events/{id}/children", get(events::children))
            .route("/events/{id}/trace", get(events::trace))
            .route("/events/{id}/diff/previous", get(events::diff_previous))
            .route("/diff", get(events::diff))
            .route("/stats", get(stats::stats))
            .route("/health", get(events::health))
            .route("/openapi.json", get(openapi));
        #[cfg(feature = "ui")]
        let routes = routes.merge(crate::ui::routes());
        routes
            .fallback(|| async { Problem::not_found("no such resource") })
            .method_not_allowed_fallback(|| async {
                Problem::new(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "this API is read-only: only GET",
                )
            })
            .with_state(self)
    }
}

/// `value` as an `application/json` answer, serialised into one `Vec` (axum's `Json` writes
/// every piece of the text into a growing `BytesMut`, which costs more per piece).
pub(crate) struct JsonBody<T>(pub(crate) T);

impl<T: Serialize> IntoResponse for JsonBody<T> {
    fn into_response(self) -> Response {
        match serde_json::to_vec(&self.0) {
            Ok(body) => (
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                )],
                body,
            )
                .into_response(),
            Err(e) => Problem::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("the answer could not be written as JSON: {e}"),
            )
            .into_response(),
        }
    }
}

async fn openapi() -> Response {
    let mut res = OPENAPI.into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res
}
