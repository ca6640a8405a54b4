//! The handler that reads a run's output as it streams and records the finished run.

use serde_json::{json, Value};

use super::parse::OutputParser;
use super::{AnsibleRun, AnsibleTarget};
use crate::record::{process_details, stopped_status, RunRecord};
use crate::{KeptOutput, LineAction, LineHandler, ProcessOutcome, StreamKind};
use history::{ErrorInfo, EventStatus};

/// Parses one run's output and records it when it ends.
pub(super) struct RunHandler {
    pub(super) program: String,
    pub(super) target: AnsibleTarget,
    pub(super) parser: OutputParser,
    pub(super) record: RunRecord,
    pub(super) command_line: Vec<String>,
    /// Kept until the run ends, then removed.
    pub(super) vars_file: Option<tempfile::NamedTempFile>,
}

impl LineHandler for RunHandler {
    type Output = AnsibleRun;

    fn on_line(&mut self, stream: StreamKind, line: &str) -> LineAction {
        if stream == StreamKind::Stdout {
            self.parser.line(line);
        }
        LineAction::Keep
    }

    fn finish(mut self, outcome: &ProcessOutcome) -> AnsibleRun {
        // The extra-vars file (it may hold secrets) is removed as soon as the run is over.
        drop(self.vars_file.take());
        let hosts = self.parser.hosts().clone();
        let changed = hosts.values().any(|s| s.changed > 0);
        let failed_hosts: Vec<String> = hosts
            .iter()
            .filter(|(_, s)| s.failed > 0)
            .map(|(h, _)| h.clone())
            .collect();
        let unreachable_hosts: Vec<String> = hosts
            .iter()
            .filter(|(_, s)| s.unreachable > 0)
            .map(|(h, _)| h.clone())
            .collect();
        let success = outcome.success();
        let (status, error) = if success {
            (EventStatus::Success, None)
        } else if let Some((status, error)) = stopped_status(&self.program, outcome) {
            (status, Some(error))
        } else {
            let code = outcome
                .exit_code
                .map_or_else(|| "no exit code".to_owned(), |c| format!("exit code {c}"));
            let mut why = Vec::new();
            if !failed_hosts.is_empty() {
                why.push(format!("failed hosts: {}", failed_hosts.join(", ")));
            }
            if !unreachable_hosts.is_empty() {
                why.push(format!(
                    "unreachable hosts: {}",
                    unreachable_hosts.join(", ")
                ));
            }
            if why.is_empty() {
                why.push(
                    first_error_line(&outcome.output)
                        .unwrap_or("no error message")
                        .to_owned(),
                );
            }
            (
                EventStatus::Failed,
                Some(
                    ErrorInfo::new(format!(
                        "{} failed ({code}): {}",
                        self.program,
                        why.join("; ")
                    ))
                    .with_kind("ansible_error"),
                ),
            )
        };
        let run = AnsibleRun {
            event_id: self.record.event.id,
            target: self.target.clone(),
            success,
            status,
            exit_code: outcome.exit_code,
            ending: outcome.ending.clone(),
            error: error.clone(),
            hosts,
            changed,
            failed_hosts,
            unreachable_hosts,
            recap: !self.parser.recap.is_empty(),
            tasks: std::mem::take(&mut self.parser.tasks),
            tasks_left_out: self.parser.tasks_left_out,
            output: outcome.output.clone(),
            duration: outcome.duration,
        };
        let mut execution = process_details(outcome, &self.command_line);
        for (key, value) in [
            ("hosts", json!(run.hosts)),
            ("changed", json!(run.changed)),
            ("failed_hosts", json!(run.failed_hosts)),
            ("unreachable_hosts", json!(run.unreachable_hosts)),
            ("recap", json!(run.recap)),
            ("tasks", json!(run.tasks)),
            ("tasks_left_out", json!(run.tasks_left_out)),
        ] {
            execution.insert(key.into(), value);
        }
        self.record
            .record_finished(status, run.summary(), Value::Object(execution), error);
        run
    }
}

/// The first line Ansible reported an error on (`[ERROR]: …` or `ERROR! …`), else the last
/// line on standard error.
fn first_error_line(output: &KeptOutput) -> Option<&str> {
    output
        .lines()
        .find(|l| {
            l.stream == StreamKind::Stderr
                && (l.text.starts_with("[ERROR]") || l.text.starts_with("ERROR!"))
        })
        .map(|l| l.text.as_str())
        .or_else(|| output.last_line_of(StreamKind::Stderr))
}
