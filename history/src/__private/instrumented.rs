//! [`Instrumented`]: the body of a tracked async function, polled inside its [`Call`].

use std::future::Future;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use super::call::Call;
use crate::context;

pin_project_lite::pin_project! {
    /// The body of a tracked async function, polled inside its [`Call`].
    #[derive(Debug)]
    #[must_use = "futures do nothing unless polled"]
    pub struct Instrumented<'a, F> {
        call: &'a mut Call,
        #[pin]
        body: F,
    }
}

impl Call {
    /// Wraps the body of an async function: every poll runs inside the call; a panic is
    /// recorded and resumed.
    #[inline]
    pub fn run_async<F: Future>(&mut self, body: F) -> Instrumented<'_, F> {
        Instrumented { call: self, body }
    }
}

impl<F: Future> Future for Instrumented<'_, F> {
    type Output = F::Output;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<F::Output> {
        let this = self.project();
        let Some(active) = this.call.active.as_mut() else {
            return this.body.poll(cx);
        };
        active.body_starts();
        // Each poll runs inside the call's `tracing` span too (feature `tracing-spans`).
        let bridge = active.bridge.take();
        let previous = context::enter_span(Some(active.span));
        let body = this.body;
        let outcome = bridge.in_scope(|| catch_unwind(AssertUnwindSafe(|| body.poll(cx))));
        context::restore_span(previous);
        if let Some(active) = this.call.active.as_mut() {
            active.bridge = bridge;
        }
        match outcome {
            Ok(poll) => {
                if poll.is_ready() {
                    if let Some(active) = this.call.active.as_mut() {
                        active.body_returned = true;
                    }
                }
                poll
            }
            Err(payload) => {
                this.call.panicked(&*payload);
                resume_unwind(payload)
            }
        }
    }
}
