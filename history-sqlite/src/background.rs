//! The store's background thread: refreshes its heartbeat (see `owner.rs`) and, after writes,
//! checkpoints the WAL on its own connection (see `checkpoint.rs`).

use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::checkpoint::Checkpointer;
use crate::connections::Connections;
use crate::{owner, SqliteError};

/// How often the thread checkpoints the WAL while writes happen.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);

/// The running thread; [`Background::stop`] (or dropping it) ends it and waits.
pub(crate) struct Background {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Background {
    /// Starts the thread for the store `conns` belongs to. It holds the store weakly, and
    /// stops when told or when the store is gone.
    pub(crate) fn start(conns: &Arc<Connections>) -> Result<Background, SqliteError> {
        let (stop, stopped) = mpsc::channel::<()>();
        let weak = Arc::downgrade(conns);
        let every = conns.options.heartbeat;
        let tick = every.min(CHECKPOINT_EVERY);
        let checkpointer = Checkpointer::open(&conns.path, Duration::from_millis(100))?;
        let thread = std::thread::Builder::new()
            .name("history-sqlite-heartbeat".into())
            .spawn(move || {
                let mut last_beat = Instant::now();
                let mut seen_writes = 0;
                while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(tick) {
                    let Some(conns) = weak.upgrade() else { return };
                    let writes = conns.writes();
                    if writes != seen_writes {
                        seen_writes = writes;
                        checkpointer.passive();
                    }
                    if last_beat.elapsed() >= every {
                        last_beat = Instant::now();
                        // A busy database only delays the heartbeat; the next one retries.
                        let _ = owner::beat(&conns);
                    }
                }
            })
            .map_err(|e| SqliteError::CannotOpen {
                path: conns.path.clone(),
                source: e,
            })?;
        Ok(Background {
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Ends the thread and waits for it.
    pub(crate) fn stop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        self.stop();
    }
}
