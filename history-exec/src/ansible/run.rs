//! [`AnsibleRun`]: what an Ansible run did.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{HostStats, TaskResult};
use crate::{Ending, KeptOutput};
use history::{ErrorInfo, EventId, EventStatus};

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
