//! The store's background thread: at every heartbeat it refreshes this store's writer
//! registration, marks the events of writers that stopped `interrupted`, and creates the
//! partitions ahead. It has its own connection, reopened when lost.

use std::sync::mpsc::{channel, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;

use postgres::Client;

use crate::shared::Shared;
use crate::writers;

/// The running thread; stopped (and joined) on drop of the store.
#[derive(Debug)]
pub(crate) struct Background {
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Background {
    pub(crate) fn start(shared: &Arc<Shared>) -> std::io::Result<Background> {
        let (stop, stopped) = channel::<()>();
        let shared = shared.clone();
        let thread = std::thread::Builder::new()
            .name("history-postgres".into())
            .spawn(move || {
                let mut client: Option<Client> = None;
                loop {
                    match stopped.recv_timeout(shared.options.heartbeat) {
                        Err(RecvTimeoutError::Timeout) => {}
                        _ => return,
                    }
                    if let Err(e) = tick(&shared, &mut client) {
                        tracing::warn!("history-postgres: heartbeat failed: {e}");
                        client = None;
                    }
                }
            })?;
        Ok(Background {
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Stops the thread and waits for it.
    pub(crate) fn stop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn tick(shared: &Shared, client: &mut Option<Client>) -> Result<(), crate::PostgresError> {
    if client.as_ref().is_none_or(Client::is_closed) {
        *client = Some(shared.connector.connect()?);
    }
    let Some(c) = client.as_mut() else {
        return Ok(());
    };
    writers::beat(c, &shared.names, &shared.me)?;
    writers::recover(
        c,
        &shared.names,
        &shared.me,
        shared.options.stale_after.as_secs_f64(),
    )?;
    shared.partitions.ensure(
        c,
        &shared.names,
        std::iter::empty(),
        shared.options.partitions_ahead,
    )?;
    Ok(())
}
