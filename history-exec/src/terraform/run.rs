//! [`TerraformRun`]: what a Terraform run did, as parsed from its machine-readable UI stream.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::{Ending, KeptOutput};
use history::{ErrorInfo, EventId, EventStatus, TerraformStatus};

use super::command::TerraformCommand;

/// The result of one Terraform run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TerraformRun {
    /// The id of the event it was recorded as.
    pub event_id: EventId,
    /// What was run.
    pub command: TerraformCommand,
    /// Whether Terraform exited by itself with code 0.
    pub success: bool,
    /// The recorded event's status (`success`, `failed` or `cancelled`).
    pub status: EventStatus,
    /// Where the run ended up (`completed` or `failed`).
    pub terraform_status: TerraformStatus,
    /// Terraform's exit code, when it exited by itself.
    pub exit_code: Option<i32>,
    /// How the process ended.
    pub ending: Ending,
    /// Why it failed, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorInfo>,
    /// The Terraform version, from the `version` message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terraform_version: Option<String>,
    /// The machine-readable UI version, from the `version` message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ui_version: Option<String>,
    /// The last change summary (of the plan, or of the apply when there was one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_summary: Option<ChangeSummary>,
    /// Warnings and errors, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub diagnostics: Vec<Diagnostic>,
    /// Root module outputs; sensitive ones without their value.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub outputs: BTreeMap<String, OutputValue>,
    /// Each resource the run planned or changed, in the order first seen.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<ResourceChange>,
    /// Messages of types this version does not know, kept by their message.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unknown_messages: Vec<UnknownMessage>,
    /// Whether the machine-readable stream was read in full or only in part.
    #[serde(default)]
    pub parse: ParseStatus,
    /// Why the parse is degraded, one note per cause (empty when it is complete).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parse_notes: Vec<String>,
    /// The kept output lines (the human-readable message of each JSON line).
    pub output: KeptOutput,
    /// How long the process ran.
    pub duration: Duration,
}

/// How far a run's machine-readable UI stream could be read. Recorded in the event's
/// `execution` as `"parse"`, with the reasons of a degraded parse in `"parse_notes"`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParseStatus {
    /// Every message was read as its type says.
    #[default]
    Complete,
    /// The stream is of a newer UI major version than this version knows, or some messages
    /// of known types were not in the shape it knows. Everything that could be read was kept
    /// (the others by their `@message`); the run itself was not affected.
    Degraded,
}

/// Counts of a `change_summary` message.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeSummary {
    /// Resources created (including as part of replacement).
    #[serde(default)]
    pub add: u64,
    /// Resources changed in place.
    #[serde(default)]
    pub change: u64,
    /// Resources destroyed (including as part of replacement).
    #[serde(default)]
    pub remove: u64,
    /// Resources imported (Terraform 1.5 and later; 0 before).
    #[serde(default)]
    pub import: u64,
    /// `plan`, `apply` or `destroy`.
    #[serde(default)]
    pub operation: String,
}

/// A warning or error Terraform reported.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnostic {
    /// `error` or `warning`.
    #[serde(default)]
    pub severity: String,
    /// One line saying what is wrong.
    #[serde(default)]
    pub summary: String,
    /// More about it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The resource it is about, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Where in the configuration, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<DiagnosticRange>,
}

impl Diagnostic {
    /// Whether it is an error.
    pub fn is_error(&self) -> bool {
        self.severity == "error"
    }
}

/// A span of a configuration file.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiagnosticRange {
    /// The file.
    #[serde(default)]
    pub filename: String,
    /// Where it starts.
    #[serde(default)]
    pub start: SourcePos,
    /// Where it ends.
    #[serde(default)]
    pub end: SourcePos,
}

/// A position in a configuration file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourcePos {
    /// Line, from 1.
    #[serde(default)]
    pub line: u64,
    /// Column, from 1.
    #[serde(default)]
    pub column: u64,
    /// Byte offset, from 0.
    #[serde(default)]
    pub byte: u64,
}

/// One root module output.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct OutputValue {
    /// Whether it is sensitive. Sensitive values are never kept: `value` is `None`.
    pub sensitive: bool,
    /// The value (applied outputs that are not sensitive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<serde_json::Value>,
    /// Its type, as Terraform describes it.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub value_type: Option<serde_json::Value>,
    /// For planned outputs: `noop`, `create`, `update` or `delete`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
}

/// Where a resource's change stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResourceStatus {
    /// Planned, not (yet) applied.
    Planned,
    /// Being applied.
    Applying,
    /// Applied.
    Complete,
    /// Applying it failed.
    Errored,
}

/// One resource the run planned or changed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceChange {
    /// Its address, e.g. `module.net.aws_vpc.main`.
    pub address: String,
    /// `create`, `update`, `replace`, `delete`, `read`, `noop` or `move`.
    pub action: String,
    /// Where it stands.
    pub status: ResourceStatus,
    /// Seconds the apply of it took (or had taken at the last progress message).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub elapsed_seconds: Option<u64>,
    /// The attribute that identifies it (`id`), once known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_key: Option<String>,
    /// Its identifier, once known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

/// A message of a type this version does not interpret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnknownMessage {
    /// Its `type`.
    #[serde(rename = "type")]
    pub message_type: String,
    /// Its `@level`.
    pub level: String,
    /// Its `@message`.
    pub message: String,
}

impl TerraformRun {
    /// The short summary recorded as the event's `result` (and returned by
    /// [`TerraformExecutor::run`](crate::terraform::TerraformExecutor::run)).
    pub fn summary(&self) -> serde_json::Value {
        serde_json::json!({
            "command": self.command,
            "success": self.success,
            "exit_code": self.exit_code,
            "terraform_status": self.terraform_status,
            "change_summary": self.change_summary,
            "outputs": self.outputs,
            "resources": self.resources.iter().map(|r| serde_json::json!({
                "address": r.address, "action": r.action, "status": r.status,
            })).collect::<Vec<_>>(),
            "errors": self.diagnostics.iter().filter(|d| d.is_error())
                .map(|d| d.summary.clone()).collect::<Vec<_>>(),
            "error": self.error.as_ref().map(|e| e.message.clone()),
        })
    }

    /// The first error diagnostic, if any.
    pub fn first_error(&self) -> Option<&Diagnostic> {
        self.diagnostics.iter().find(|d| d.is_error())
    }
}
