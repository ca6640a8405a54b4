//! [`TerraformExecutor`]: runs the `terraform` CLI and records each run as an event.
//!
//! ```no_run
//! # async fn demo(recorder: history::Recorder) -> Result<(), history_exec::ExecError> {
//! use history_exec::terraform::{TerraformCommand, TerraformExecutor};
//!
//! let run = TerraformExecutor::new(&recorder)
//!     .working_dir("infra/vm-42")
//!     .var("region", "eu-west-1")
//!     .sensitive_var("db_password", "hunter2") // passed as TF_VAR_db_password, never recorded
//!     .user_id(7)
//!     .vm_id(42)
//!     .execute(TerraformCommand::Apply)
//!     .await?;
//! println!("{} added", run.change_summary.map(|c| c.add).unwrap_or(0));
//! # Ok(()) }
//! ```
//!
//! Each run is `terraform <command> -json -input=false -no-color` (`-auto-approve` for apply and
//! destroy; `init` without `-json`, which older versions lack) with `TF_IN_AUTOMATION=1`. The
//! machine-readable UI stream is parsed as it comes: change summary, diagnostics, outputs
//! (sensitive ones without their value), resources (address, action, elapsed, id). The event
//! walks [`TerraformStatus`] `initiated` → `provisioning` → `completed` / `failed`.
//!
//! A stream of a newer UI major version than this crate knows (see [`SUPPORTED_UI_MAJOR`]) never
//! stops the run: it is read as far as its messages keep the known shapes, and the run's
//! [`parse`](TerraformRun::parse) — `"parse"` in the event's `execution` — is
//! [`degraded`](ParseStatus::Degraded), with the reasons in `parse_notes`.
//!
//! Sensitive variables reach Terraform as `TF_VAR_<name>` environment variables: never on the
//! command line, never in the event, and scrubbed from every kept line and parsed message.
//!
//! [`TerraformStatus`]: history::TerraformStatus

mod command;
mod handler;
mod run;
mod ui;

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

pub use command::TerraformCommand;
pub use run::{
    ChangeSummary, Diagnostic, DiagnosticRange, OutputValue, ParseStatus, ResourceChange,
    ResourceStatus, SourcePos, TerraformRun, UnknownMessage,
};
pub use ui::SUPPORTED_UI_MAJOR;

use crate::record::{process_setters, subject_setters, ProcessSettings, RunRecord};
use crate::redact::Secret;
use crate::{ExecError, Execution, ProcessCommand, Redactor, Subjects, REDACTED};
use handler::RunHandler;
use history::{EventType, Recorder, TerraformStatus};
use ui::UiState;

/// The environment variable that names the `terraform` binary when the builder does not.
pub const TERRAFORM_BIN_ENV: &str = "TERRAFORM_BIN";

/// Runs Terraform commands and records each run; see the [module docs](self).
///
/// A builder: set the working directory, variables, ids and limits once, then
/// [`execute`](TerraformExecutor::execute) any number of commands with it.
#[derive(Clone, Debug)]
#[must_use = "call .execute(command) to run Terraform"]
pub struct TerraformExecutor {
    recorder: Recorder,
    binary: Option<PathBuf>,
    working_dir: Option<PathBuf>,
    vars: Vec<(String, String)>,
    sensitive_vars: Vec<(String, Secret)>,
    var_files: Vec<PathBuf>,
    env: Vec<(String, String)>,
    args: Vec<String>,
    subjects: Subjects,
    event_type: Option<EventType>,
    operation: Option<String>,
    process: ProcessSettings,
}

impl TerraformExecutor {
    /// An executor that records through `recorder`.
    pub fn new(recorder: &Recorder) -> TerraformExecutor {
        TerraformExecutor {
            recorder: recorder.clone(),
            binary: None,
            working_dir: None,
            vars: Vec::new(),
            sensitive_vars: Vec::new(),
            var_files: Vec::new(),
            env: Vec::new(),
            args: Vec::new(),
            subjects: Subjects::default(),
            event_type: None,
            operation: None,
            process: ProcessSettings::default(),
        }
    }

    /// The `terraform` binary (default: `$TERRAFORM_BIN`, else `terraform` from `PATH`).
    pub fn binary(mut self, path: impl AsRef<Path>) -> Self {
        self.binary = Some(path.as_ref().to_owned());
        self
    }
    /// The directory holding the configuration (default: the current directory).
    pub fn working_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.working_dir = Some(dir.as_ref().to_owned());
        self
    }
    /// A variable, passed as `-var name=value` and recorded with its value — unless its name
    /// looks secret (password, secret, token, api_key, private_key, credential, …: the
    /// names `#[track_history]` redacts), when it is treated as a
    /// [sensitive variable](TerraformExecutor::sensitive_var).
    pub fn var(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        let name = name.into();
        if history::redact::is_secret_name(&name) {
            return self.sensitive_var(name, value);
        }
        self.vars.push((name, value.into()));
        self
    }
    /// Variables, as [`TerraformExecutor::var`].
    pub fn vars<I, K, V>(mut self, vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        for (k, v) in vars {
            self = self.var(k, v);
        }
        self
    }
    /// A sensitive variable: passed as the environment variable `TF_VAR_<name>`, recorded by
    /// name only, and scrubbed from every kept line and parsed message.
    pub fn sensitive_var(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.sensitive_vars
            .push((name.into(), Secret(value.into())));
        self
    }
    /// A variables file, passed as `-var-file=<path>`.
    pub fn var_file(mut self, path: impl AsRef<Path>) -> Self {
        self.var_files.push(path.as_ref().to_owned());
        self
    }
    /// An environment variable for Terraform (e.g. provider credentials). Its value is not
    /// recorded.
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }
    /// An extra argument after the fixed flags (e.g. `-parallelism=4`, `-target=...`).
    ///
    /// With `-detailed-exitcode`, a plan that exits with code 2 (changes present) is a success;
    /// its `exit_code` says 2.
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }
    /// Records runs as this event type instead of the command's `terraform_*` type.
    pub fn event_type(mut self, event_type: EventType) -> Self {
        self.event_type = Some(event_type);
        self
    }
    /// Records runs under this operation name (default `terraform <command>`).
    pub fn operation(mut self, operation: impl Into<String>) -> Self {
        self.operation = Some(operation.into());
        self
    }
    process_setters!("Terraform");

    subject_setters!();

    /// Runs `command` to the end and records it.
    ///
    /// Returns the run, successful or not; an error only when it could not be started (bad
    /// input, missing working directory or binary), and then a `failed` event was recorded.
    pub async fn execute(&self, command: TerraformCommand) -> Result<TerraformRun, ExecError> {
        self.start(command)?.wait().await
    }

    /// Starts `command` and returns a handle to watch, cancel or wait for it. Must be called
    /// inside a tokio runtime. Dropping the handle cancels the run.
    pub fn start(&self, command: TerraformCommand) -> Result<Execution<TerraformRun>, ExecError> {
        let redactor = Redactor::new(self.sensitive_vars.iter().map(|(_, v)| v.0.clone()));
        let mut record = RunRecord::new(
            &self.recorder,
            self.event_type
                .clone()
                .unwrap_or_else(|| command.event_type()),
            self.operation
                .clone()
                .unwrap_or_else(|| format!("terraform {command}")),
            &self.subjects,
            self.parameters(command),
        );
        record.event.terraform_status = Some(TerraformStatus::Initiated);
        let process = match self.check().and_then(|()| record.validate()) {
            Ok(()) => self.process(command, redactor.clone()),
            Err(e) => {
                record.record_not_started(&e);
                return Err(e);
            }
        };
        record.record();
        let command_line = process.command_line();
        let event_id = record.event.id;
        let not_started = record.clone();
        let handler = RunHandler {
            command,
            ui: UiState::new(redactor),
            record,
            command_line,
            json: command != TerraformCommand::Init,
            detailed_exitcode: command == TerraformCommand::Plan
                && self.args.iter().any(|a| a == "-detailed-exitcode"),
        };
        match process.start_with(handler) {
            Ok(running) => Ok(Execution::new(event_id, running)),
            Err(e) => {
                not_started.record_not_started(&e);
                Err(e)
            }
        }
    }

    /// The seed's call: runs `command` in `working_dir` with `variables`, recorded as
    /// `event_type`, and answers `(success, result)` — the run's summary, or `{"error": …}`
    /// when it could not be started.
    pub async fn run<I, K, V>(
        &self,
        command: TerraformCommand,
        working_dir: impl AsRef<Path>,
        variables: I,
        event_type: EventType,
    ) -> (bool, Value)
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let executor = self
            .clone()
            .working_dir(working_dir)
            .vars(variables)
            .event_type(event_type);
        match executor.execute(command).await {
            Ok(run) => (run.success, run.summary()),
            Err(e) => (false, json!({ "error": e.to_string(), "kind": e.kind() })),
        }
    }

    fn binary_path(&self) -> PathBuf {
        self.binary
            .clone()
            .or_else(|| std::env::var_os(TERRAFORM_BIN_ENV).map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from("terraform"))
    }

    fn check(&self) -> Result<(), ExecError> {
        for (name, _) in &self.vars {
            check_var_name(name)?;
        }
        for (name, _) in &self.sensitive_vars {
            check_var_name(name)?;
        }
        for (key, _) in &self.env {
            if key.is_empty() || key.contains('=') || key.contains('\0') {
                return Err(ExecError::invalid(
                    "env",
                    format!("{key:?} is not a valid environment variable name"),
                ));
            }
        }
        Ok(())
    }

    /// What the event records as the run's inputs: never a sensitive value.
    fn parameters(&self, command: TerraformCommand) -> Value {
        let mut variables = serde_json::Map::new();
        for (k, v) in &self.vars {
            variables.insert(k.clone(), json!(v));
        }
        for (k, _) in &self.sensitive_vars {
            variables.insert(k.clone(), json!(REDACTED));
        }
        let redactor = Redactor::new(self.sensitive_vars.iter().map(|(_, v)| v.0.clone()));
        let mut params = json!({
            "command": command,
            "binary": self.binary_path().to_string_lossy(),
            "working_dir": self.working_dir.as_ref().map(|d| d.to_string_lossy().into_owned()),
            "variables": variables,
        });
        if !self.var_files.is_empty() {
            params["var_files"] = json!(self
                .var_files
                .iter()
                .map(|p| p.to_string_lossy())
                .collect::<Vec<_>>());
        }
        if !self.args.is_empty() {
            params["args"] = json!(self.args);
        }
        if !self.env.is_empty() {
            params["env"] = json!(self.env.iter().map(|(k, _)| k).collect::<Vec<_>>());
        }
        redactor.scrub_value(&mut params);
        params
    }

    fn process(&self, command: TerraformCommand, redactor: Redactor) -> ProcessCommand {
        let mut p = ProcessCommand::new(self.binary_path())
            .arg(command.as_str())
            .args(command.fixed_args())
            .env("TF_IN_AUTOMATION", "1")
            .env("TF_INPUT", "0")
            .redactor(redactor)
            .not_found_hint(format!(
                " (set {TERRAFORM_BIN_ENV} or TerraformExecutor::binary)"
            ));
        if command.takes_variables() {
            for (k, v) in &self.vars {
                p = p.arg("-var").arg(format!("{k}={v}"));
            }
            for f in &self.var_files {
                p = p.arg(format!("-var-file={}", f.display()));
            }
        }
        p = p.args(&self.args);
        for (k, v) in &self.sensitive_vars {
            p = p.env(format!("TF_VAR_{k}"), &v.0);
        }
        for (k, v) in &self.env {
            p = p.env(k, v);
        }
        if let Some(dir) = &self.working_dir {
            p = p.working_dir(dir);
        }
        p = self.process.apply(p);
        p
    }
}

/// Terraform variable names: a letter or `_`, then letters, digits, `_` and `-`.
fn check_var_name(name: &str) -> Result<(), ExecError> {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if first_ok
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && name.len() <= 200
    {
        return Ok(());
    }
    Err(ExecError::invalid(
        "variables",
        format!(
            "{name:?} is not a valid Terraform variable name: it must be 1 to 200 characters, \
             start with a letter or '_', and hold only letters, digits, '_' and '-'"
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variable_names_are_checked() {
        for ok in ["region", "_x", "a-b_c9"] {
            assert!(check_var_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "1abc", "a b", "a=b", "é"] {
            let e = check_var_name(bad).unwrap_err().to_string();
            assert!(e.contains("variables") && e.contains("letter"), "{e}");
        }
    }
}
