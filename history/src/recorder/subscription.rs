//! Subscriptions: committed records delivered in process, from the writer thread, into a
//! bounded buffer per subscriber.
//!
//! The writer never waits for a subscriber: when a buffer is full, its oldest record makes
//! room for the new one and the subscriber's [`Subscription::lagged`] count grows. With no
//! subscriber the writer does nothing more than read one atomic per commit.

use std::collections::VecDeque;
use std::fmt;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use crate::event::Event;
use crate::store::Filter;

/// How many records a subscription buffers unless told otherwise
/// ([`Recorder::subscribe_with_buffer`](crate::Recorder::subscribe_with_buffer)).
pub const DEFAULT_SUBSCRIBER_BUFFER: usize = 4_096;

/// The subscribers of one recorder.
#[derive(Default)]
pub(crate) struct Hub {
    /// How many subscribers there are (read without the lock on every commit).
    active: AtomicUsize,
    subscribers: Mutex<Subscribers>,
}

#[derive(Default)]
struct Subscribers {
    channels: Vec<Arc<Channel>>,
    /// The writer is gone: nothing more will be delivered.
    closed: bool,
    /// The batch being delivered, each record shared by every subscriber that takes it
    /// (empty between deliveries; the buffer is reused).
    outgoing: Vec<Arc<Event>>,
}

impl Hub {
    /// Whether anyone subscribes (the writer skips everything else when not).
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.active.load(Ordering::Relaxed) == 0
    }

    /// A new subscriber of the records `filter` matches, buffering at most `capacity`.
    pub(crate) fn subscribe(&self, filter: Filter, capacity: usize) -> Subscription {
        let mut subs = self.subscribers.lock();
        let channel = Arc::new(Channel {
            filter: (!filter.matches_everything()).then_some(filter),
            capacity: capacity.max(1),
            state: Mutex::new(ChannelState {
                buffer: VecDeque::new(),
                closed: subs.closed,
                waker: None,
            }),
            ready: Condvar::new(),
            lagged: AtomicU64::new(0),
            receiver_gone: AtomicBool::new(false),
        });
        if !subs.closed {
            subs.channels.push(channel.clone());
            self.active.store(subs.channels.len(), Ordering::Relaxed);
        }
        Subscription { channel }
    }

    /// Delivers committed records, in commit order, to every subscriber whose filter matches
    /// them; forgets subscribers that were dropped. Each record is allocated once (by
    /// `share`, into the reused `outgoing` buffer) and shared by every subscriber. The last
    /// subscriber takes the writer's own references, so a record is freed by the subscriber
    /// that drops it last, not by the writer (unless no subscriber takes it).
    fn publish_with(&self, share: impl FnOnce(&mut Vec<Arc<Event>>)) {
        let mut guard = self.subscribers.lock();
        let subs = &mut *guard;
        subs.channels
            .retain(|c| !c.receiver_gone.load(Ordering::Relaxed));
        self.active.store(subs.channels.len(), Ordering::Relaxed);
        let Some((last, others)) = subs.channels.split_last() else {
            return;
        };
        share(&mut subs.outgoing);
        for channel in others {
            channel.push(subs.outgoing.iter().cloned());
        }
        last.push(subs.outgoing.drain(..));
    }

    /// [`Hub::publish_with`] of records already shared.
    #[cfg(test)]
    fn publish(&self, events: &[Arc<Event>]) {
        self.publish_with(|out| out.extend_from_slice(events));
    }

    /// Delivers a committed batch, moving its records out (the batch is emptied).
    pub(crate) fn publish_owned(&self, batch: &mut Vec<Event>) {
        if !self.is_empty() {
            self.publish_with(|out| out.extend(batch.drain(..).map(Arc::new)));
        }
    }

    /// Delivers a committed batch the writer keeps, copying its records.
    pub(crate) fn publish_copies(&self, batch: &[Event]) {
        if !self.is_empty() {
            self.publish_with(|out| out.extend(batch.iter().cloned().map(Arc::new)));
        }
    }

    /// The writer is gone: every subscription ends once its buffer is read.
    pub(crate) fn close(&self) {
        let mut subs = self.subscribers.lock();
        subs.closed = true;
        for channel in subs.channels.drain(..) {
            channel.close();
        }
        self.active.store(0, Ordering::Relaxed);
    }
}

/// One subscriber's buffer, shared by the writer (pushing) and the subscription (reading).
struct Channel {
    /// `None`: every record.
    filter: Option<Filter>,
    capacity: usize,
    state: Mutex<ChannelState>,
    /// A blocked reader waits here.
    ready: Condvar,
    lagged: AtomicU64,
    receiver_gone: AtomicBool,
}

struct ChannelState {
    buffer: VecDeque<Arc<Event>>,
    closed: bool,
    /// The task of an async reader waiting for a record.
    waker: Option<Waker>,
}

impl Channel {
    /// Buffers the records the filter matches (dropping the others), then wakes the reader.
    fn push(&self, events: impl Iterator<Item = Arc<Event>>) {
        let mut st = self.state.lock();
        let mut pushed = false;
        let mut lagged = 0;
        for e in events {
            if self.filter.as_ref().is_some_and(|f| !f.matches(&e)) {
                continue;
            }
            if st.buffer.len() >= self.capacity {
                st.buffer.pop_front();
                lagged += 1;
            }
            st.buffer.push_back(e);
            pushed = true;
        }
        let waker = if pushed { st.waker.take() } else { None };
        drop(st);
        if lagged > 0 {
            self.lagged.fetch_add(lagged, Ordering::Relaxed);
        }
        if pushed {
            self.ready.notify_one();
        }
        if let Some(w) = waker {
            w.wake();
        }
    }

    fn close(&self) {
        let mut st = self.state.lock();
        st.closed = true;
        let waker = st.waker.take();
        drop(st);
        self.ready.notify_all();
        if let Some(w) = waker {
            w.wake();
        }
    }
}

/// Committed records of a [`Recorder`](crate::Recorder), delivered in commit order as the
/// writer commits them: in-progress records and final ones (`event.status` says which) of the
/// events its [`Filter`] matches.
///
/// Made by [`Recorder::subscribe`](crate::Recorder::subscribe). A blocking
/// [`Iterator`] (it ends when the recorder shuts down and the buffer is read), with
/// [`try_next`](Subscription::try_next) and [`next_timeout`](Subscription::next_timeout),
/// or an async [`Stream`](futures_core::Stream) through
/// [`into_stream`](Subscription::into_stream).
///
/// The buffer is bounded: a subscriber that does not keep up loses the oldest records it
/// holds, never slows the writer, and reads how many it lost from
/// [`lagged`](Subscription::lagged). Records that several writes merged (a call that ended
/// before its start was written) arrive once, in their final state. For a complete record
/// that survives restarts, follow the store's change feed
/// ([`HistoryStore::changes_after`](crate::HistoryStore::changes_after)).
///
/// ```
/// use history::{Event, EventType, Filter, MemoryStore, Recorder};
///
/// let recorder = Recorder::new(MemoryStore::new())?;
/// let mut vms = recorder.subscribe(Filter::new().event_type(EventType::VmCreate));
/// recorder.record(Event::builder(EventType::VmCreate, "vm::create").vm_id(1).build()?)?;
/// recorder.record(Event::builder(EventType::VmStart, "vm::start").vm_id(1).build()?)?;
/// recorder.flush()?; // committed, and delivered
/// let event = vms.try_next().expect("delivered at commit");
/// assert_eq!(event.operation, "vm::create");
/// assert!(vms.try_next().is_none(), "the filter leaves the start out");
/// assert_eq!(vms.lagged(), 0);
/// # Ok::<(), history::Error>(())
/// ```
pub struct Subscription {
    channel: Arc<Channel>,
}

impl Subscription {
    /// The next record if one is buffered, without waiting.
    pub fn try_next(&mut self) -> Option<Arc<Event>> {
        self.channel.state.lock().buffer.pop_front()
    }

    /// The next record, waiting at most `timeout` for one; `None` when none came in time or
    /// the recorder has shut down and the buffer is empty.
    pub fn next_timeout(&mut self, timeout: Duration) -> Option<Arc<Event>> {
        let deadline = Instant::now().checked_add(timeout);
        let mut st = self.channel.state.lock();
        loop {
            if let Some(e) = st.buffer.pop_front() {
                return Some(e);
            }
            if st.closed {
                return None;
            }
            match deadline {
                Some(d) => {
                    if self.channel.ready.wait_until(&mut st, d).timed_out() {
                        return st.buffer.pop_front();
                    }
                }
                None => self.channel.ready.wait(&mut st),
            }
        }
    }

    /// How many records this subscription has lost so far because its buffer was full (the
    /// oldest buffered ones made room for newer ones).
    pub fn lagged(&self) -> u64 {
        self.channel.lagged.load(Ordering::Relaxed)
    }

    /// How many records wait in the buffer now.
    pub fn buffered(&self) -> usize {
        self.channel.state.lock().buffer.len()
    }

    /// Whether the recorder has shut down: nothing more will arrive (what is buffered can
    /// still be read).
    pub fn is_closed(&self) -> bool {
        self.channel.state.lock().closed
    }

    /// The same subscription as an async [`Stream`](futures_core::Stream), which ends when
    /// the recorder shuts down and the buffer is read.
    pub fn into_stream(self) -> SubscriptionStream {
        SubscriptionStream { inner: self }
    }
}

impl Iterator for Subscription {
    type Item = Arc<Event>;

    /// Blocks until the next record; `None` once the recorder has shut down and the buffer is
    /// read.
    fn next(&mut self) -> Option<Arc<Event>> {
        let mut st = self.channel.state.lock();
        loop {
            if let Some(e) = st.buffer.pop_front() {
                return Some(e);
            }
            if st.closed {
                return None;
            }
            self.channel.ready.wait(&mut st);
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        // The writer forgets this subscriber at its next commit.
        self.channel.receiver_gone.store(true, Ordering::Relaxed);
    }
}

impl fmt::Debug for Subscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.channel.state.lock();
        f.debug_struct("Subscription")
            .field("filter", &self.channel.filter)
            .field("capacity", &self.channel.capacity)
            .field("buffered", &st.buffer.len())
            .field("closed", &st.closed)
            .field("lagged", &self.lagged())
            .finish()
    }
}

/// A [`Subscription`] as an async [`Stream`](futures_core::Stream) of committed records.
///
/// ```
/// use futures_core::Stream;
/// use history::{Event, EventType, Filter, MemoryStore, Recorder};
///
/// let recorder = Recorder::new(MemoryStore::new())?;
/// let stream = recorder.subscribe(Filter::new()).into_stream();
/// fn is_stream(_: &impl Stream<Item = std::sync::Arc<Event>>) {}
/// is_stream(&stream);
/// # Ok::<(), history::Error>(())
/// ```
#[derive(Debug)]
pub struct SubscriptionStream {
    inner: Subscription,
}

impl SubscriptionStream {
    /// How many records this subscription has lost so far (see [`Subscription::lagged`]).
    pub fn lagged(&self) -> u64 {
        self.inner.lagged()
    }

    /// Back to the blocking form.
    pub fn into_inner(self) -> Subscription {
        self.inner
    }
}

impl futures_core::Stream for SubscriptionStream {
    type Item = Arc<Event>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Arc<Event>>> {
        let mut st = self.inner.channel.state.lock();
        if let Some(e) = st.buffer.pop_front() {
            return Poll::Ready(Some(e));
        }
        if st.closed {
            return Poll::Ready(None);
        }
        match &mut st.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            slot => *slot = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::EventType;

    #[test]
    fn dropped_subscribers_leave_at_the_next_publish_and_a_closed_hub_takes_none() {
        let hub = Hub::default();
        assert!(hub.is_empty());
        let mut kept = hub.subscribe(Filter::new(), 2);
        let gone = hub.subscribe(Filter::new().event_type(EventType::VmStart), 2);
        drop(gone);
        assert!(!hub.is_empty());
        let events: Vec<Arc<Event>> = (0..3)
            .map(|_| Arc::new(Event::new(EventType::VmDelete, "op")))
            .collect();
        hub.publish(&events);
        assert_eq!(hub.subscribers.lock().channels.len(), 1);
        assert_eq!(kept.lagged(), 1);
        assert_eq!(kept.try_next().map(|e| e.id), Some(events[1].id));
        hub.close();
        assert!(hub.is_empty());
        assert!(kept.is_closed());
        assert_eq!(
            kept.next().map(|e| e.id),
            Some(events[2].id),
            "buffered stays"
        );
        assert!(kept.next().is_none());
        assert!(hub.subscribe(Filter::new(), 1).is_closed());
    }
}
