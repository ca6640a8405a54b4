//! Recording a request's outcome: a response, an error of the inner service, a panic, or a
//! future dropped before it completed.

use std::any::Any;
use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use bytes::Bytes;
use history::{current_call, ErrorInfo, Event, EventStatus, Json, Recorder};
use http::header::CONTENT_TYPE;
use http::Response;
use http_body::{Frame, SizeHint};
use serde_json::{Map, Value};

use super::body::{SharedSeen, Tee};
use super::captured::{AllowedHeaders, ResponseResult};
use super::request::{header_text, Started, X_REQUEST_ID};
use super::{BoxError, Config};

/// A request under way: what is needed to record its outcome.
pub(crate) struct Pending {
    pub(crate) recorder: Recorder,
    pub(crate) config: Arc<Config>,
    pub(crate) started: Started,
    pub(crate) request_body: Option<SharedSeen>,
}

impl fmt::Debug for Pending {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pending")
            .field("event", &self.started.event.id)
            .finish_non_exhaustive()
    }
}

impl Pending {
    /// The inner service answered: classify, capture the allowed headers, and record now or,
    /// when the response body is captured, once it has been sent.
    pub(crate) fn responded<B>(self, response: Response<B>) -> Response<Body>
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let Pending {
            recorder,
            config,
            started,
            request_body,
        } = self;
        let mut event = started.event;
        let status = response.status();
        let failed = config.fails(status);
        event.finish(if failed {
            EventStatus::Failed
        } else {
            EventStatus::Success
        });
        if failed {
            event.error = Some(Box::new(
                ErrorInfo::new(status_line(status)).with_kind("http_status"),
            ));
        }
        if event.correlation_id.is_none() {
            event.correlation_id = header_text(response.headers(), X_REQUEST_ID).map(Into::into);
        }
        let result = ResponseResult {
            status: status.as_u16(),
            headers: AllowedHeaders {
                headers: response.headers(),
                allowed: &config.headers,
            },
        }
        .to_json();
        let finishing = Finishing {
            recorder,
            event,
            result: Some(result),
            request_body,
            request_type: started.request_type,
        };
        match config.response_body {
            None => {
                finishing.record(None);
                response.map(Body::new)
            }
            Some(max) => {
                let content_type =
                    header_text(response.headers(), CONTENT_TYPE.as_str()).map(str::to_owned);
                response.map(|body| {
                    let (tee, seen) = Tee::new(body, max);
                    Body::new(RecordOnEnd {
                        inner: tee,
                        finishing: Some((finishing, seen, content_type)),
                    })
                })
            }
        }
    }

    /// The inner service returned an error.
    pub(crate) fn errored(self, error: &dyn fmt::Display) {
        let info = ErrorInfo::new(error.to_string()).with_kind("service_error");
        self.end(EventStatus::Failed, Some(info));
    }

    /// The inner service panicked (the panic goes on once this returns).
    pub(crate) fn panicked(self, payload: &(dyn Any + Send)) {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic with a payload that is not text".to_owned());
        let info = ErrorInfo::new(message).with_kind("panic");
        self.end(EventStatus::Failed, Some(info));
    }

    /// The response future was dropped before the inner service answered.
    pub(crate) fn cancelled(self) {
        self.end(EventStatus::Cancelled, None);
    }

    fn end(self, status: EventStatus, error: Option<ErrorInfo>) {
        let mut event = self.started.event;
        event.finish(status);
        event.error = error.map(Box::new);
        Finishing {
            recorder: self.recorder,
            event,
            result: None,
            request_body: self.request_body,
            request_type: self.started.request_type,
        }
        .record(None);
    }
}

/// `503 Service Unavailable`.
fn status_line(status: http::StatusCode) -> String {
    match status.canonical_reason() {
        Some(reason) => format!("{} {reason}", status.as_u16()),
        None => status.as_u16().to_string(),
    }
}

/// A finished request's event, waiting only for the bodies it captures.
struct Finishing {
    recorder: Recorder,
    event: Event,
    /// The result as recorded (`status`, allowed `headers`); none when no response came.
    result: Option<Json>,
    request_body: Option<SharedSeen>,
    request_type: Option<String>,
}

impl Finishing {
    fn record(self, response_body: Option<Value>) {
        let Finishing {
            recorder,
            mut event,
            mut result,
            request_body,
            request_type,
        } = self;
        if let Some(seen) = request_body {
            if let Some(body) = seen.to_value(request_type.as_deref()) {
                if let Value::Object(params) = &mut event.parameters.to_value() {
                    params.insert("body".into(), body);
                    event.parameters = Value::Object(std::mem::take(params)).into();
                }
            }
        }
        if let Some(body) = response_body {
            let mut with_body = match result.as_ref().map(Json::to_value) {
                Some(Value::Object(result)) => result,
                _ => Map::new(),
            };
            with_body.insert("body".into(), body);
            result = Some(Value::Object(with_body).into());
        }
        event.result = result;
        // What the handler set with `history::current_call` (a user id known after auth).
        current_call::apply_pending(&mut event);
        if let Err(e) = recorder.record_fitted(event) {
            tracing::warn!("history: a request's event was not recorded: {e}");
        }
    }
}

pin_project_lite::pin_project! {
    /// A response body that records its request's event when it ends (or is dropped).
    struct RecordOnEnd<B> {
        #[pin]
        inner: Tee<B>,
        finishing: Option<(Finishing, SharedSeen, Option<String>)>,
    }

    impl<B> PinnedDrop for RecordOnEnd<B> {
        fn drop(this: Pin<&mut Self>) {
            if let Some((finishing, seen, content_type)) = this.project().finishing.take() {
                finishing.record(seen.to_value(content_type.as_deref()));
            }
        }
    }
}

impl<B: http_body::Body<Data = Bytes>> http_body::Body for RecordOnEnd<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = self.project();
        let polled = this.inner.poll_frame(cx);
        if matches!(polled, Poll::Ready(None) | Poll::Ready(Some(Err(_)))) {
            if let Some((finishing, seen, content_type)) = this.finishing.take() {
                finishing.record(seen.to_value(content_type.as_deref()));
            }
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
