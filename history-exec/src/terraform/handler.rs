//! The handler that parses a run's stream as it comes and records the run at each state.

use serde_json::{json, Value};

use super::command::TerraformCommand;
use super::run::TerraformRun;
use super::ui::UiState;
use crate::record::{process_details, stopped_status, RunRecord};
use crate::{Ending, LineAction, LineHandler, ProcessOutcome, StreamKind};
use history::{ErrorInfo, EventStatus, TerraformStatus};

/// Parses the stream as it comes and records the run at each state.
pub(super) struct RunHandler {
    pub(super) command: TerraformCommand,
    pub(super) ui: UiState,
    pub(super) record: RunRecord,
    pub(super) command_line: Vec<String>,
    /// Whether stdout is the JSON stream (not for `init`).
    pub(super) json: bool,
    /// Whether exit code 2 means "succeeded, with changes" (`plan -detailed-exitcode`).
    pub(super) detailed_exitcode: bool,
}

impl LineHandler for RunHandler {
    type Output = TerraformRun;

    fn on_start(&mut self, _pid: Option<u32>) {
        self.record.event.terraform_status = Some(TerraformStatus::Provisioning);
        self.record.record();
    }

    fn on_line(&mut self, stream: StreamKind, line: &str) -> LineAction {
        if self.json && stream == StreamKind::Stdout {
            self.ui.line(line)
        } else {
            LineAction::Keep
        }
    }

    fn finish(mut self, outcome: &ProcessOutcome) -> TerraformRun {
        let what = format!("terraform {}", self.command);
        let success = outcome.success()
            || (self.detailed_exitcode
                && outcome.ending == Ending::Exited
                && outcome.exit_code == Some(2));
        let (status, error) = if success {
            (EventStatus::Success, None)
        } else if let Some((status, error)) = stopped_status(&what, outcome) {
            (status, Some(error))
        } else {
            (EventStatus::Failed, Some(self.exit_error(&what, outcome)))
        };
        let terraform_status = if success {
            TerraformStatus::Completed
        } else {
            TerraformStatus::Failed
        };
        let ui = std::mem::take(&mut self.ui);
        let parse = ui.parse_status();
        if !ui.parse_notes.is_empty() {
            tracing::warn!(
                event_id = %self.record.event.id,
                notes = ?ui.parse_notes,
                "history: {what}: its output was read only in part (parse degraded)"
            );
        }
        let run = TerraformRun {
            event_id: self.record.event.id,
            command: self.command,
            success,
            status,
            terraform_status,
            exit_code: outcome.exit_code,
            ending: outcome.ending.clone(),
            error: error.clone(),
            terraform_version: ui.terraform_version,
            ui_version: ui.ui_version,
            change_summary: ui.change_summary,
            diagnostics: ui.diagnostics,
            outputs: ui.outputs,
            resources: ui.resources,
            unknown_messages: ui.unknown_messages,
            parse,
            parse_notes: ui.parse_notes,
            output: outcome.output.clone(),
            duration: outcome.duration,
        };
        let mut execution = process_details(outcome, &self.command_line);
        for (key, value) in [
            ("terraform_version", json!(run.terraform_version)),
            ("ui_version", json!(run.ui_version)),
            ("change_summary", json!(run.change_summary)),
            ("resources", json!(run.resources)),
            ("diagnostics", json!(run.diagnostics)),
            ("outputs", json!(run.outputs)),
            ("unknown_messages", json!(run.unknown_messages)),
            ("parse", json!(run.parse)),
            ("parse_notes", json!(run.parse_notes)),
        ] {
            execution.insert(key.into(), value);
        }
        self.record.event.terraform_status = Some(terraform_status);
        self.record
            .record_finished(status, run.summary(), Value::Object(execution), error);
        run
    }
}

impl RunHandler {
    /// The error of a run that exited with a non-zero code: its first error diagnostic, else
    /// the first `Error…` / `panic:` line it wrote to stderr, else its last stderr line.
    fn exit_error(&self, what: &str, outcome: &ProcessOutcome) -> ErrorInfo {
        let code = outcome
            .exit_code
            .map_or_else(|| "no exit code".to_owned(), |c| format!("exit code {c}"));
        let detail = match self.ui.diagnostics.iter().find(|d| d.is_error()) {
            Some(d) => match &d.detail {
                Some(detail) if !detail.is_empty() => format!("{}: {detail}", d.summary),
                _ => d.summary.clone(),
            },
            None => outcome
                .output
                .lines()
                .find(|l| {
                    l.stream == StreamKind::Stderr
                        && (l.text.starts_with("Error") || l.text.starts_with("panic:"))
                })
                .map(|l| l.text.as_str())
                .or_else(|| outcome.output.last_line_of(StreamKind::Stderr))
                .unwrap_or("no error message")
                .to_owned(),
        };
        ErrorInfo::new(format!("{what} failed ({code}): {detail}")).with_kind("terraform_error")
    }
}
