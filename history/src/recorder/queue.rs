//! The queue between callers and the writer thread, and the bookkeeping `flush` relies on.
//!
//! Every accepted event gets a sequence number. The writer always takes the whole queue, so
//! after it writes a batch, every event up to the last number it took is durable (or counted as
//! lost). `flush` waits until the durable number reaches the number current when it was called.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use parking_lot::{Condvar, Mutex, MutexGuard};

use super::Overflow;
use crate::event::Event;
use crate::Error;

#[derive(Default)]
pub(super) struct Counters {
    pub recorded: AtomicU64,
    pub written: AtomicU64,
    pub dropped: AtomicU64,
    pub lost: AtomicU64,
    pub write_errors: AtomicU64,
    pub batches: AtomicU64,
}

pub(super) struct State {
    pub queue: Vec<Event>,
    /// When the oldest queued event was queued.
    pub oldest_at: Option<Instant>,
    /// Sequence number of the last event accepted.
    pub enqueued: u64,
    /// Every event up to this number is written or counted as lost.
    pub durable: u64,
    /// The largest sequence number a `flush` is waiting for.
    pub flush_target: u64,
    pub closed: bool,
    pub writer_gone: bool,
    pub last_error: Option<String>,
}

pub(super) struct Shared {
    pub state: Mutex<State>,
    /// The writer waits here for work.
    pub work: Condvar,
    /// Callers wait here for room (blocking overflow).
    pub room: Condvar,
    /// `flush` waits here for the durable number to advance.
    pub progress: Condvar,
    pub capacity: usize,
    pub batch_size: usize,
    pub overflow: Overflow,
    pub counters: Counters,
}

impl Shared {
    pub fn new(capacity: usize, batch_size: usize, overflow: Overflow) -> Shared {
        Shared {
            state: Mutex::new(State {
                queue: Vec::with_capacity(batch_size),
                oldest_at: None,
                enqueued: 0,
                durable: 0,
                flush_target: 0,
                closed: false,
                writer_gone: false,
                last_error: None,
            }),
            work: Condvar::new(),
            room: Condvar::new(),
            progress: Condvar::new(),
            capacity,
            batch_size,
            overflow,
            counters: Counters::default(),
        }
    }

    pub fn queued(&self) -> usize {
        self.state.lock().queue.len()
    }

    /// Accepts one event. Holds the lock only to push; wakes the writer only when the queue
    /// becomes non-empty or reaches a batch, not for every event.
    pub fn push(&self, event: Event) -> Result<(), Error> {
        let mut st = self.state.lock();
        loop {
            if st.closed {
                return Err(Error::Closed);
            }
            if st.queue.len() < self.capacity {
                break;
            }
            match self.overflow {
                Overflow::Block => {
                    self.work.notify_one();
                    self.room.wait(&mut st);
                }
                Overflow::DropNewest => {
                    drop(st);
                    self.counters.dropped.fetch_add(1, Ordering::Relaxed);
                    return Err(Error::QueueFull {
                        capacity: self.capacity,
                    });
                }
            }
        }
        if st.queue.is_empty() {
            st.oldest_at = Some(Instant::now());
        }
        st.queue.push(event);
        st.enqueued += 1;
        let len = st.queue.len();
        drop(st);
        self.counters.recorded.fetch_add(1, Ordering::Relaxed);
        if len == 1 || len == self.batch_size {
            self.work.notify_one();
        }
        Ok(())
    }

    /// Waits until everything accepted so far is durable (or `deadline` passes).
    pub fn flush(&self, deadline: Option<Instant>) -> Result<(), Error> {
        let lost_before = self.counters.lost.load(Ordering::Acquire);
        let started = Instant::now();
        let mut st = self.state.lock();
        let target = st.enqueued;
        if st.durable < target {
            st.flush_target = st.flush_target.max(target);
            self.work.notify_one();
        }
        while st.durable < target {
            if st.writer_gone {
                return Err(Error::Closed);
            }
            match deadline {
                None => self.progress.wait(&mut st),
                Some(d) => {
                    if self.progress.wait_until(&mut st, d).timed_out() && st.durable < target {
                        return Err(Error::Timeout(started.elapsed()));
                    }
                }
            }
        }
        drop(st);
        self.lost_since(lost_before)
    }

    /// Refuses new events and tells the writer to drain and stop.
    pub fn close(&self) {
        let mut st = self.state.lock();
        st.closed = true;
        drop(st);
        self.work.notify_all();
        self.room.notify_all();
    }

    /// `Error::Lost` if events were given up on since the lost counter read `before`.
    pub fn lost_since(&self, before: u64) -> Result<(), Error> {
        let now = self.counters.lost.load(Ordering::Acquire);
        if now > before {
            let last_error = self
                .state
                .lock()
                .last_error
                .clone()
                .unwrap_or_else(|| "unknown store error".into());
            return Err(Error::Lost {
                count: now - before,
                last_error,
            });
        }
        Ok(())
    }

    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock()
    }
}
