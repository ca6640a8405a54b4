//! Where a tracked call runs: the tracked call it runs inside (its parent) and the ids a
//! [`scope`] supplies.
//!
//! Nested tracked calls record their parent's id as `parent_id` and share the root call's id
//! as `trace_id`. This works across `.await` (the instrumented future re-enters its call on
//! every poll) and into threads and tasks the user starts, when they carry a [`Snapshot`]:
//!
//! ```
//! use history::context::{self, Context};
//!
//! let cx = Context::new().user_id(7).correlation_id("req-42");
//! history::scope(cx, || {
//!     // Tracked calls in here record user_id 7 and correlation_id "req-42", unless their
//!     // attribute names those ids itself.
//!     let snapshot = context::snapshot();
//!     std::thread::scope(|s| {
//!         s.spawn(snapshot.wrap(|| {
//!             assert_eq!(context::snapshot().context().and_then(|c| c.user_id.clone()), Some(7.into()));
//!         }));
//!     });
//! });
//! ```

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use crate::event::{Event, EventId, SubjectId};
pub use crate::external_trace::{external_trace, set_external_trace_reader, ExternalTraceReader};

/// Ids that tracked calls inside a [`scope`] pick up when their attribute does not name them.
///
/// Build it with a struct literal (`Context { user_id: Some(1.into()), ..Default::default() }`)
/// or with the builder methods. Scopes nest: a field an inner scope leaves unset is taken from
/// the scope around it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Context {
    /// The user on whose behalf the calls run.
    pub user_id: Option<SubjectId>,
    /// The VM the calls concern.
    pub vm_id: Option<SubjectId>,
    /// The credential the calls use.
    pub credential_id: Option<SubjectId>,
    /// The organization the calls run for.
    pub organization_id: Option<SubjectId>,
    /// A caller-supplied id tying the calls together (a request id, a job id).
    pub correlation_id: Option<String>,
    /// Labels added to every event (labels the attribute names win).
    pub labels: BTreeMap<String, String>,
}

impl Context {
    /// An empty context.
    pub fn new() -> Context {
        Context::default()
    }
    /// Sets the user.
    pub fn user_id(mut self, id: impl Into<SubjectId>) -> Self {
        self.user_id = Some(id.into());
        self
    }
    /// Sets the VM.
    pub fn vm_id(mut self, id: impl Into<SubjectId>) -> Self {
        self.vm_id = Some(id.into());
        self
    }
    /// Sets the credential.
    pub fn credential_id(mut self, id: impl Into<SubjectId>) -> Self {
        self.credential_id = Some(id.into());
        self
    }
    /// Sets the organization.
    pub fn organization_id(mut self, id: impl Into<SubjectId>) -> Self {
        self.organization_id = Some(id.into());
        self
    }
    /// Sets the correlation id.
    pub fn correlation_id(mut self, id: impl Into<String>) -> Self {
        self.correlation_id = Some(id.into());
        self
    }
    /// Adds a label.
    pub fn label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.labels.insert(key.into(), value.into());
        self
    }

    /// This context with every unset field taken from `outer`.
    fn inherit(mut self, outer: &Context) -> Context {
        fn or(field: &mut Option<SubjectId>, outer: &Option<SubjectId>) {
            if field.is_none() {
                field.clone_from(outer);
            }
        }
        or(&mut self.user_id, &outer.user_id);
        or(&mut self.vm_id, &outer.vm_id);
        or(&mut self.credential_id, &outer.credential_id);
        or(&mut self.organization_id, &outer.organization_id);
        if self.correlation_id.is_none() {
            self.correlation_id.clone_from(&outer.correlation_id);
        }
        for (k, v) in &outer.labels {
            self.labels.entry(k.clone()).or_insert_with(|| v.clone());
        }
        self
    }
}

/// The tracked call that is running: its event id and the trace it belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Span {
    pub id: EventId,
    pub trace_id: EventId,
}

thread_local! {
    static SPAN: Cell<Option<Span>> = const { Cell::new(None) };
    static CONTEXT: RefCell<Option<Arc<Context>>> = const { RefCell::new(None) };
}

/// The tracked call running on this thread, if any.
pub(crate) fn current_span() -> Option<Span> {
    SPAN.try_with(Cell::get).ok().flatten()
}

/// Makes `span` the running call; returns the one it replaces (give it to [`restore_span`]).
pub(crate) fn enter_span(span: Option<Span>) -> Option<Span> {
    SPAN.try_with(|s| s.replace(span)).ok().flatten()
}

/// Puts back the span [`enter_span`] replaced.
pub(crate) fn restore_span(previous: Option<Span>) {
    let _ = SPAN.try_with(|s| s.set(previous));
}

/// Keeps the event `id` the running call on this thread until dropped (see [`enter_event`]).
#[derive(Debug)]
#[must_use = "the event stops being the running call when this is dropped"]
pub struct EnteredEvent {
    previous: Option<Span>,
    /// Restores this thread's state: not to be sent elsewhere.
    _not_send: PhantomData<*const ()>,
}

/// Makes the event `id`, of the tree of calls `trace_id`, the running call on this thread
/// until the returned guard is dropped: tracked calls started meanwhile are its children.
///
/// For integrations that record an operation as it runs without a tracked function (the
/// `tracing` layer of `history-tracing` enters each recorded span's event this way). Guards
/// are dropped in the reverse order they were made.
pub fn enter_event(id: EventId, trace_id: EventId) -> EnteredEvent {
    EnteredEvent {
        previous: enter_span(Some(Span { id, trace_id })),
        _not_send: PhantomData,
    }
}

impl Drop for EnteredEvent {
    fn drop(&mut self) {
        restore_span(self.previous.take());
    }
}

/// Calls `f` with the context in effect on this thread, if any.
pub(crate) fn with_current(f: impl FnOnce(Option<&Context>)) {
    let mut f = Some(f);
    let _ = CONTEXT.try_with(|c| {
        if let (Ok(cx), Some(f)) = (c.try_borrow(), f.take()) {
            f(cx.as_deref());
        }
    });
    if let Some(f) = f {
        f(None);
    }
}

/// Fills what `event` leaves unset from where the current thread runs, the way a tracked call's
/// own event is filled: the subject ids and the correlation id from the [`scope`] in effect,
/// its labels (the event's own labels win), when the event has no `parent_id` its parent and
/// trace from the tracked call running on this thread, and when it has no external trace id
/// the ids the installed reader finds ([`set_external_trace_reader`]).
///
/// For code that records events by hand but should nest like tracked calls (an executor that
/// records a run started inside a tracked call, for example).
///
/// ```
/// use history::context::{self, Context};
/// use history::{Event, EventType};
///
/// let mut event = Event::new(EventType::VmCreate, "vm_service::create");
/// event.vm_id = Some(9.into());
/// history::scope(Context::new().user_id(7).vm_id(1).label("team", "db"), || {
///     context::fill_event(&mut event)
/// });
/// assert_eq!(event.user_id, Some(7.into()));
/// assert_eq!(event.vm_id, Some(9.into())); // set on the event: kept
/// assert_eq!(event.labels["team"], "db");
/// assert_eq!(event.parent_id, None); // no tracked call was running
/// ```
pub fn fill_event(event: &mut Event) {
    with_current(|cx| {
        if let Some(cx) = cx {
            fn or(field: &mut Option<SubjectId>, outer: &Option<SubjectId>) {
                if field.is_none() {
                    field.clone_from(outer);
                }
            }
            or(&mut event.user_id, &cx.user_id);
            or(&mut event.vm_id, &cx.vm_id);
            or(&mut event.credential_id, &cx.credential_id);
            or(&mut event.organization_id, &cx.organization_id);
            if event.correlation_id.is_none() {
                event.correlation_id.clone_from(&cx.correlation_id);
            }
            for (k, v) in &cx.labels {
                event.labels.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
    });
    if event.parent_id.is_none() {
        if let Some(span) = current_span() {
            event.parent_id = Some(span.id);
            event.trace_id = Some(span.trace_id);
        }
    }
    if event.external_trace_id.is_none() {
        if let Some((trace, span)) = crate::external_trace::read_for_call() {
            event.external_trace_id = Some(trace);
            event.external_span_id = span;
        }
    }
}

fn current_context() -> Option<Arc<Context>> {
    CONTEXT.try_with(|c| c.borrow().clone()).ok().flatten()
}

fn swap_context(cx: Option<Arc<Context>>) -> Option<Arc<Context>> {
    CONTEXT
        .try_with(|c| std::mem::replace(&mut *c.borrow_mut(), cx))
        .ok()
        .flatten()
}

/// Restores what a [`Snapshot`] replaced, also when the code it ran panics.
struct Entered {
    span: Option<Span>,
    context: Option<Option<Arc<Context>>>,
}

impl Drop for Entered {
    fn drop(&mut self) {
        restore_span(self.span);
        if let Some(cx) = self.context.take() {
            swap_context(cx);
        }
    }
}

/// Everything the current thread knows about where it runs — the running tracked call and the
/// [`Context`] — captured to be re-entered elsewhere: in a thread or a task the user starts.
///
/// ```
/// let snapshot = history::context::snapshot();
/// let handle = std::thread::spawn(snapshot.wrap(|| 1 + 1));
/// assert_eq!(handle.join().unwrap(), 2);
/// ```
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    span: Option<Span>,
    context: Option<Arc<Context>>,
}

/// Captures where the current thread runs (see [`Snapshot`]).
pub fn snapshot() -> Snapshot {
    Snapshot {
        span: current_span(),
        context: current_context(),
    }
}

impl Snapshot {
    /// The context captured, if a [`scope`] was in effect.
    pub fn context(&self) -> Option<&Context> {
        self.context.as_deref()
    }

    /// The id of the tracked call that was running, if any.
    pub fn parent_id(&self) -> Option<EventId> {
        self.span.map(|s| s.id)
    }

    /// This snapshot with the event `id` as the running call, in the trace `trace_id`:
    /// tracked calls run inside it record `id` as their parent and `trace_id` as their trace,
    /// and [`current_call`](crate::current_call) setters write to `id` (take what they set
    /// with [`current_call::apply_pending`](crate::current_call::apply_pending)).
    ///
    /// For code that records an event by hand around other code, such as a request's event
    /// around its handler:
    ///
    /// ```
    /// use history::{context, Event, EventType};
    ///
    /// let request = Event::new(EventType::ApiRequest, "GET /vms/{id}");
    /// let inside = context::snapshot().within_event(request.id, request.id);
    /// inside.in_scope(|| assert_eq!(context::snapshot().parent_id(), Some(request.id)));
    /// ```
    pub fn within_event(mut self, id: EventId, trace_id: EventId) -> Snapshot {
        self.span = Some(Span { id, trace_id });
        self
    }

    /// The trace of the tracked call that was running, if any.
    pub fn trace_id(&self) -> Option<EventId> {
        self.span.map(|s| s.trace_id)
    }

    fn enter(&self) -> Entered {
        Entered {
            span: enter_span(self.span),
            context: Some(swap_context(self.context.clone())),
        }
    }

    /// Runs `f` here as if it ran where the snapshot was taken.
    pub fn in_scope<R>(&self, f: impl FnOnce() -> R) -> R {
        let _entered = self.enter();
        f()
    }

    /// Wraps `f` to run as if where the snapshot was taken (for `std::thread::spawn` and
    /// `std::thread::scope`'s `spawn`).
    pub fn wrap<R>(self, f: impl FnOnce() -> R) -> impl FnOnce() -> R {
        move || self.in_scope(f)
    }

    /// Wraps `future` so that every poll runs as if where the snapshot was taken (for
    /// `tokio::spawn` and other executors).
    pub fn instrument<F: Future>(self, future: F) -> WithSnapshot<F> {
        WithSnapshot {
            snapshot: self,
            future,
        }
    }
}

pin_project_lite::pin_project! {
    /// A future that runs every poll inside a [`Snapshot`] (see [`Snapshot::instrument`] and
    /// [`scope`]).
    #[derive(Debug)]
    #[must_use = "futures do nothing unless polled"]
    pub struct WithSnapshot<F> {
        snapshot: Snapshot,
        #[pin]
        future: F,
    }
}

impl<F: Future> Future for WithSnapshot<F> {
    type Output = F::Output;
    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<F::Output> {
        let this = self.project();
        let _entered = this.snapshot.enter();
        this.future.poll(cx)
    }
}

/// What [`scope`] accepts: a closure (run now) or a future (wrapped).
///
/// The marker `M` only tells the two apart; it is inferred.
pub trait InScope<M> {
    /// What running it gives: the closure's value, or a future of the future's output.
    type Output;
    /// Runs or wraps `self` inside `snapshot`.
    fn in_scope(self, snapshot: Snapshot) -> Self::Output;
}

/// Marker for closures passed to [`scope`].
#[derive(Debug)]
pub enum ClosureMarker {}
/// Marker for futures passed to [`scope`].
#[derive(Debug)]
pub enum FutureMarker {}

impl<R, F: FnOnce() -> R> InScope<ClosureMarker> for F {
    type Output = R;
    fn in_scope(self, snapshot: Snapshot) -> R {
        snapshot.in_scope(self)
    }
}

impl<F: Future> InScope<FutureMarker> for F {
    type Output = WithSnapshot<F>;
    fn in_scope(self, snapshot: Snapshot) -> WithSnapshot<F> {
        snapshot.instrument(self)
    }
}

/// Runs a closure, or wraps a future, so that tracked calls inside pick up `context`'s ids
/// when their attribute does not name them. Fields `context` leaves unset are inherited from
/// an enclosing scope.
///
/// ```
/// use history::context::Context;
/// // a closure runs now and gives its value
/// let n = history::scope(Context::new().user_id(1), || 41 + 1);
/// assert_eq!(n, 42);
/// // a future is wrapped; await it
/// let fut = history::scope(Context::new().correlation_id("job-9"), async { 7 });
/// # drop(fut);
/// ```
pub fn scope<M, S: InScope<M>>(context: Context, s: S) -> S::Output {
    let current = snapshot();
    let context = match &current.context {
        Some(outer) => context.inherit(outer),
        None => context,
    };
    s.in_scope(Snapshot {
        span: current.span,
        context: Some(Arc::new(context)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_nest_and_restore() {
        scope(Context::new().user_id(1).label("a", "1"), || {
            scope(Context::new().correlation_id("c"), || {
                with_current(|cx| {
                    let cx = cx.unwrap();
                    assert_eq!(cx.user_id, Some(1.into()));
                    assert_eq!(cx.correlation_id.as_deref(), Some("c"));
                    assert_eq!(cx.labels.get("a").map(String::as_str), Some("1"));
                });
            });
            with_current(|cx| assert!(cx.unwrap().correlation_id.is_none()));
        });
        with_current(|cx| assert!(cx.is_none()));
    }

    #[test]
    fn snapshot_carries_into_threads() {
        let id = EventId::new();
        let prev = enter_span(Some(Span { id, trace_id: id }));
        let snap = snapshot();
        restore_span(prev);
        let seen = std::thread::spawn(snap.wrap(current_span)).join().unwrap();
        assert_eq!(seen.map(|s| s.id), Some(id));
        assert_eq!(current_span(), None);
    }
}
