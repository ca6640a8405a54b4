//! The queue between callers and the writer thread, and the bookkeeping `flush` relies on.
//!
//! Every accepted event gets a sequence number. The writer always takes the whole queue, so
//! after it delivers a batch, every event up to the last number it took is durable (in the
//! store or the spill file) or counted as lost. A flush waits until the durable number reaches
//! the number current when it was called.
//!
//! The hot path holds the lock only to push, and wakes the writer only when the queue becomes
//! non-empty or reaches a batch: never once per event.
//!
//! A later record of one call (its final record after its in-progress one) is applied to the
//! earlier one in place while that is still queued ([`Slot`], [`Shared::update`]): the writer
//! would keep only the last record of an id in a batch anyway, and the earlier one has not
//! been written, so nothing a store or a crash could see changes. Once the writer has taken
//! the earlier record, the later one is queued as usual. The queue's generation counts the
//! takes, so a slot of an earlier generation is never reused.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use parking_lot::{Condvar, Mutex, MutexGuard};

use super::backtraces::PendingBacktraces;
use super::subscription::Hub;
use crate::event::{Event, EventId};
use crate::Error;

/// What [`Recorder::record`](crate::Recorder::record) does when the queue is full.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Overflow {
    /// Wait until the writer makes room (the default: nothing is lost).
    #[default]
    Block,
    /// Drop the new event, count it ([`RecorderStats::dropped`](crate::RecorderStats::dropped))
    /// and return [`Error::QueueFull`] (or [`Error::QueueMemoryFull`] when the queue holds
    /// its limit of bytes: [`RecorderBuilder::max_queue_bytes`](crate::RecorderBuilder::max_queue_bytes)).
    DropNewest,
}

/// Counters only the stats read; updated without the lock.
#[derive(Default)]
pub(super) struct Counters {
    pub written: AtomicU64,
    pub dropped: AtomicU64,
    pub blocked: AtomicU64,
    pub write_errors: AtomicU64,
    pub batches: AtomicU64,
    pub spilled: AtomicU64,
    pub replayed: AtomicU64,
    /// Records merged away because another record of their id at the same stage was in the
    /// same batch.
    pub duplicates: AtomicU64,
    /// Committed records that sinks on the change feed reported they could not deliver
    /// ([`SinkLossCounter`](crate::recorder::SinkLossCounter)).
    pub sink_lost: AtomicU64,
}

/// Where a queued record waits: the queue's generation and the index in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Slot {
    generation: u64,
    index: usize,
}

pub(super) struct State {
    pub queue: Vec<Event>,
    /// The approximate memory the queued events hold ([`approximate_size`]).
    pub queued_bytes: usize,
    /// How many times the writer has taken the queue.
    pub generation: u64,
    /// When the oldest queued event was queued.
    pub oldest_at: Option<Instant>,
    /// Sequence number of the last event accepted.
    pub enqueued: u64,
    /// Every event up to this number is durable or counted as lost.
    pub durable: u64,
    /// The largest sequence number a flush or a synchronous record waits for.
    pub flush_target: u64,
    /// Replay attempts asked for by flushes, and made by the writer.
    pub replay_wanted: u64,
    pub replay_done: u64,
    /// Events in spill files, not yet in the store.
    pub spill_pending: u64,
    pub closed: bool,
    pub writer_gone: bool,
    /// Events given up on, and how many of them a flush has reported.
    pub lost: u64,
    pub lost_reported: u64,
    pub last_error: Option<String>,
}

pub(super) struct Shared {
    state: Mutex<State>,
    /// The writer waits here for work.
    pub work: Condvar,
    /// Callers wait here for room (blocking overflow).
    pub room: Condvar,
    /// Flushes wait here for the durable number to advance.
    pub progress: Condvar,
    pub capacity: usize,
    /// The most memory queued events may hold (approximately); an event is accepted while
    /// the queue holds less, so the queue never exceeds it by more than one event.
    pub max_bytes: usize,
    pub batch_size: usize,
    pub overflow: Overflow,
    pub counters: Counters,
    /// In-process subscribers of committed records.
    pub subscribers: Hub,
    /// Backtraces of failed calls, waiting for the writer to resolve them.
    pub backtraces: PendingBacktraces,
}

impl Shared {
    pub(super) fn new(
        capacity: usize,
        max_bytes: usize,
        batch_size: usize,
        overflow: Overflow,
        max_error_bytes: usize,
    ) -> Shared {
        Shared {
            state: Mutex::new(State {
                queue: Vec::with_capacity(batch_size),
                queued_bytes: 0,
                generation: 0,
                oldest_at: None,
                enqueued: 0,
                durable: 0,
                flush_target: 0,
                replay_wanted: 0,
                replay_done: 0,
                spill_pending: 0,
                closed: false,
                writer_gone: false,
                lost: 0,
                lost_reported: 0,
                last_error: None,
            }),
            work: Condvar::new(),
            room: Condvar::new(),
            progress: Condvar::new(),
            capacity,
            max_bytes,
            batch_size,
            overflow,
            counters: Counters::default(),
            subscribers: Hub::default(),
            backtraces: PendingBacktraces::new(max_error_bytes),
        }
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock()
    }

    /// Accepts `event` and returns its sequence number and where it waits. Its size is
    /// reckoned before the lock is taken, and the event is moved once, into the queue.
    pub(super) fn push(&self, event: Event) -> Result<(u64, Slot), Error> {
        let size = approximate_size(&event);
        let mut st = self.state.lock();
        loop {
            if st.closed || st.writer_gone {
                return Err(Error::Closed);
            }
            if st.queue.len() < self.capacity && st.queued_bytes < self.max_bytes {
                break;
            }
            match self.overflow {
                Overflow::Block => {
                    self.counters.blocked.fetch_add(1, Ordering::Relaxed);
                    self.work.notify_one();
                    self.room.wait(&mut st);
                }
                Overflow::DropNewest => {
                    let full = st.queue.len() >= self.capacity;
                    drop(st);
                    self.counters.dropped.fetch_add(1, Ordering::Relaxed);
                    return Err(if full {
                        Error::QueueFull {
                            capacity: self.capacity,
                        }
                    } else {
                        Error::QueueMemoryFull {
                            max_bytes: self.max_bytes,
                        }
                    });
                }
            }
        }
        if st.queue.is_empty() {
            st.oldest_at = Some(Instant::now());
        }
        st.queued_bytes += size;
        st.queue.push(event);
        st.enqueued += 1;
        let seq = st.enqueued;
        let len = st.queue.len();
        let slot = Slot {
            generation: st.generation,
            index: len - 1,
        };
        drop(st);
        if len == 1 || len == self.batch_size {
            self.work.notify_one();
        }
        Ok((seq, slot))
    }

    /// Applies `change` to the record of `id` queued at `slot`, if it is still queued there;
    /// else gives `change` back. Counts as accepting a record: returns its sequence number.
    pub(super) fn update<C>(
        &self,
        slot: Slot,
        id: EventId,
        change: C,
        apply: impl FnOnce(C, &mut Event),
    ) -> Result<Result<u64, C>, Error> {
        let mut st = self.state.lock();
        if st.closed || st.writer_gone {
            return Err(Error::Closed);
        }
        let generation = st.generation;
        let queued = st
            .queue
            .get_mut(slot.index)
            .filter(|e| slot.generation == generation && e.id == id);
        let Some(queued) = queued else {
            return Ok(Err(change));
        };
        let before = changing_size(queued);
        apply(change, queued);
        let after = changing_size(queued);
        st.queued_bytes = (st.queued_bytes + after).saturating_sub(before);
        st.enqueued += 1;
        Ok(Ok(st.enqueued))
    }

    /// Waits until every event up to `target` is durable (or `deadline` passes). With
    /// `replay`, also waits for one attempt to move spilled events into the store.
    ///
    /// Reports events given up on that no earlier flush reported.
    pub(super) fn wait_durable(
        &self,
        target: Option<u64>,
        replay: bool,
        deadline: Option<Instant>,
    ) -> Result<(), Error> {
        let started = Instant::now();
        let mut st = self.state.lock();
        let target = target.unwrap_or(st.enqueued);
        let mut wake = false;
        if st.durable < target {
            st.flush_target = st.flush_target.max(target);
            wake = true;
        }
        let ticket = if replay && st.spill_pending > 0 && !st.writer_gone {
            st.replay_wanted = st.replay_done + 1;
            wake = true;
            Some(st.replay_wanted)
        } else {
            None
        };
        if wake {
            self.work.notify_one();
        }
        while st.durable < target || ticket.is_some_and(|t| st.replay_done < t && !st.writer_gone) {
            if st.writer_gone && st.durable < target {
                return Err(Error::Closed);
            }
            match deadline {
                None => self.progress.wait(&mut st),
                Some(d) => {
                    if self.progress.wait_until(&mut st, d).timed_out() {
                        return Err(Error::Timeout(started.elapsed()));
                    }
                }
            }
        }
        take_lost(&mut st)
    }

    /// Refuses new events and tells the writer to drain and stop.
    pub(super) fn close(&self) {
        let mut st = self.state.lock();
        st.closed = true;
        drop(st);
        self.work.notify_all();
        self.room.notify_all();
    }

    /// Waits until the writer has stopped (or `deadline` passes: then the number of events
    /// not yet durable).
    pub(super) fn wait_writer_gone(&self, deadline: Option<Instant>) -> Result<(), u64> {
        let mut st = self.state.lock();
        while !st.writer_gone {
            match deadline {
                None => self.progress.wait(&mut st),
                Some(d) => {
                    if self.progress.wait_until(&mut st, d).timed_out() && !st.writer_gone {
                        return Err(st.enqueued - st.durable);
                    }
                }
            }
        }
        Ok(())
    }

    /// Reports (once) events given up on.
    pub(super) fn take_lost(&self) -> Result<(), Error> {
        take_lost(&mut self.state.lock())
    }
}

fn take_lost(st: &mut State) -> Result<(), Error> {
    if st.lost > st.lost_reported {
        let count = st.lost - st.lost_reported;
        st.lost_reported = st.lost;
        return Err(Error::Lost {
            count,
            last_error: st
                .last_error
                .clone()
                .unwrap_or_else(|| "unknown store error".into()),
        });
    }
    Ok(())
}

/// The memory an event holds, approximately: its fixed size plus the lengths of its text and
/// JSON. Cheap (a few lengths, no walk over the JSON), so it costs the hot path nothing that
/// shows.
pub(super) fn approximate_size(e: &Event) -> usize {
    let mut size = std::mem::size_of::<Event>() + e.parameters.len();
    if let std::borrow::Cow::Owned(operation) = &e.operation {
        size += operation.len();
    }
    size += e.execution.as_ref().map_or(0, |j| j.len());
    size += e.host.as_ref().map_or(0, String::len);
    size += e.service.as_ref().map_or(0, String::len);
    size + changing_size(e)
}

/// The part of [`approximate_size`] a later record of a call may change in the queued one
/// ([`Shared::update`]): its outcome (result, error) and what the call may set from inside
/// (correlation id, labels). The rest only ever shrinks (limits), so counting it unchanged
/// errs on the side of more memory.
fn changing_size(e: &Event) -> usize {
    let mut size = e.result.as_ref().map_or(0, |j| j.len());
    size += e.correlation_id.as_ref().map_or(0, String::len);
    for (k, v) in &e.labels {
        // A B-tree entry: the two strings' heads and their bytes.
        size += 2 * std::mem::size_of::<String>() + k.len() + v.len();
    }
    if let Some(error) = &e.error {
        size += std::mem::size_of_val(&**error) + error.message.len();
        size += error.kind.as_ref().map_or(0, String::len);
        size += error.debug.as_ref().map_or(0, String::len);
        size += error.backtrace.as_ref().map_or(0, String::len);
        size += error
            .sources
            .iter()
            .map(|s| std::mem::size_of::<String>() + s.len())
            .sum::<usize>();
    }
    size
}
