//! [`Execution`]: a run under way, whatever the tool.

use history::EventId;

use crate::{ExecError, KeptOutput, Running, Subscription};

/// A running command: watch it, cancel it, or wait for what it did — an
/// [`AnsibleRun`](crate::AnsibleRun) or a [`TerraformRun`](crate::TerraformRun).
///
/// Dropping it cancels the run (recorded as `cancelled`).
#[derive(Debug)]
pub struct Execution<R> {
    event_id: EventId,
    running: Running<R>,
}

impl<R> Execution<R> {
    /// A run recorded as event `event_id`.
    pub(crate) fn new(event_id: EventId, running: Running<R>) -> Execution<R> {
        Execution { event_id, running }
    }
    /// The id of the event the run is recorded as.
    pub fn event_id(&self) -> EventId {
        self.event_id
    }
    /// The tool's process id (also its process group id).
    pub fn pid(&self) -> Option<u32> {
        self.running.pid()
    }
    /// A live view of the output: the lines kept so far, then each new one.
    pub fn subscribe(&self) -> Subscription {
        self.running.subscribe()
    }
    /// The lines kept so far.
    pub fn output(&self) -> KeptOutput {
        self.running.output()
    }
    /// Stops the run (`SIGTERM` to its process group, `SIGKILL` after the grace period).
    pub fn cancel(&self) {
        self.running.cancel()
    }
    /// Waits for the run to end.
    pub async fn wait(self) -> Result<R, ExecError> {
        self.running.wait().await.map(|(_, run)| run)
    }
}
