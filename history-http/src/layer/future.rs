//! [`ResponseFuture`]: the inner service's future, run inside the request's event, its
//! outcome recorded.

use std::fmt;
use std::future::Future;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::Body;
use bytes::Bytes;
use history::context::WithSnapshot;
use http::Response;

use super::response::Pending;
use super::BoxError;

pin_project_lite::pin_project! {
    #[project = KindProj]
    enum Kind<F> {
        Recorded { #[pin] future: WithSnapshot<F> },
        Unrecorded { #[pin] future: F },
    }
}

pin_project_lite::pin_project! {
    /// The future of [`HistoryService`](super::HistoryService): the inner service's response
    /// (its body as an [`axum::body::Body`]) or its error, unchanged. Dropped before it
    /// completes, it records the request `cancelled`.
    pub struct ResponseFuture<F> {
        #[pin]
        kind: Kind<F>,
        pending: Option<Pending>,
    }

    impl<F> PinnedDrop for ResponseFuture<F> {
        fn drop(this: Pin<&mut Self>) {
            if let Some(pending) = this.project().pending.take() {
                pending.cancelled();
            }
        }
    }
}

impl<F> ResponseFuture<F> {
    pub(crate) fn recorded(future: WithSnapshot<F>, pending: Pending) -> Self {
        ResponseFuture {
            kind: Kind::Recorded { future },
            pending: Some(pending),
        }
    }

    pub(crate) fn unrecorded(future: F) -> Self {
        ResponseFuture {
            kind: Kind::Unrecorded { future },
            pending: None,
        }
    }
}

impl<F> fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("recorded", &self.pending.is_some())
            .finish_non_exhaustive()
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
    E: fmt::Display,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Output = Result<Response<Body>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let future = match this.kind.project() {
            KindProj::Unrecorded { future } => {
                return future.poll(cx).map(|r| r.map(|res| res.map(Body::new)));
            }
            KindProj::Recorded { future } => future,
        };
        let polled = match catch_unwind(AssertUnwindSafe(|| future.poll(cx))) {
            Ok(polled) => polled,
            Err(payload) => {
                if let Some(pending) = this.pending.take() {
                    pending.panicked(payload.as_ref());
                }
                resume_unwind(payload)
            }
        };
        match polled {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(response)) => Poll::Ready(Ok(match this.pending.take() {
                Some(pending) => pending.responded(response),
                None => response.map(Body::new),
            })),
            Poll::Ready(Err(error)) => {
                if let Some(pending) = this.pending.take() {
                    pending.errored(&error);
                }
                Poll::Ready(Err(error))
            }
        }
    }
}
