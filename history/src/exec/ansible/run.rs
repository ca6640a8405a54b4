//! [`AnsibleRun`]: what an Ansible run did, and [`AnsibleExecution`], a run under way.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{HostStats, TaskResult};
use crate::exec::{Ending, ExecError, KeptOutput, Running, Subscription};
use crate::{ErrorInfo, EventId, EventStatus};

/// What an Ansible run ran.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum AnsibleTarget {
    /// `ansible-playbook <playbook>`.
    Playbook {
        /// The playbook file.
        playbook: String,
    },
    /// `ansible <pattern> -m <module> [-a <args>]`.
    Adhoc {
        /// The host pattern.
        pattern: String,
        /// The module.
        module: String,
    },
}

/// The result of one Ansible run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AnsibleRun {
    /// The id of the event it was recorded as.
    pub event_id: EventId,
    /// What was run.
    pub target: AnsibleTarget,
    /// Whether Ansible exited by itself with code 0.
    pub success: bool,
    /// The recorded event's status (`success`, `failed` or `cancelled`).
    pub status: EventStatus,
    /// Ansible's exit code, when it exited by itself (2: a host failed; 4: a host was
    /// unreachable).
    pub exit_code: Option<i32>,
    /// How the process ended.
    pub ending: Ending,
    /// Why it failed, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorInfo>,
    /// Per-host counters: from the PLAY RECAP when Ansible printed one, else counted from the
    /// result lines.
    pub hosts: std::collections::BTreeMap<String, HostStats>,
    /// Whether any host changed anything.
    pub changed: bool,
    /// Hosts with failed tasks.
    pub failed_hosts: Vec<String>,
    /// Hosts that could not be reached.
    pub unreachable_hosts: Vec<String>,
    /// Whether a PLAY RECAP was read.
    pub recap: bool,
    /// Each task result, in order (at most 1,000).
    pub tasks: Vec<TaskResult>,
    /// Task results left out past the first 1,000.
    pub tasks_left_out: u64,
    /// The kept output lines.
    pub output: KeptOutput,
    /// How long the process ran.
    pub duration: Duration,
}

impl AnsibleRun {
    /// The short summary recorded as the event's `result`.
    pub fn summary(&self) -> Value {
        json!({
            "target": self.target,
            "success": self.success,
            "exit_code": self.exit_code,
            "changed": self.changed,
            "failed_hosts": self.failed_hosts,
            "unreachable_hosts": self.unreachable_hosts,
            "hosts": self.hosts,
            "error": self.error.as_ref().map(|e| e.message.clone()),
        })
    }
}

/// A running Ansible command: watch it, cancel it, or wait for its [`AnsibleRun`].
/// Dropping it cancels the run (recorded as `cancelled`).
#[derive(Debug)]
pub struct AnsibleExecution {
    pub(super) event_id: EventId,
    pub(super) running: Running<AnsibleRun>,
}

impl AnsibleExecution {
    /// The id of the event the run is recorded as.
    pub fn event_id(&self) -> EventId {
        self.event_id
    }
    /// Ansible's process id (also its process group id).
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
    pub async fn wait(self) -> Result<AnsibleRun, ExecError> {
        self.running.wait().await.map(|(_, run)| run)
    }
}
