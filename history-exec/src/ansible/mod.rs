//! [`AnsibleExecutor`]: runs `ansible-playbook` and ad-hoc `ansible` and records each run.
//!
//! ```no_run
//! # async fn demo(recorder: history::Recorder) -> Result<(), history_exec::ExecError> {
//! use history_exec::ansible::AnsibleExecutor;
//!
//! let run = AnsibleExecutor::new(&recorder)
//!     .inventory("inventory.ini")
//!     .extra_var("app_version", "1.4.2")
//!     .secret_var("db_password", "hunter2") // recorded as "[redacted]", scrubbed from output
//!     .limit("web")
//!     .tag("deploy")
//!     .user_id(7)
//!     .run_playbook("site.yml")
//!     .await?;
//! println!("changed: {}, failed hosts: {:?}", run.changed, run.failed_hosts);
//! # Ok(()) }
//! ```
//!
//! Extra variables reach Ansible through a private JSON file (`-e @file`, removed when the run
//! ends), so secret values are on no command line. The output is read with Ansible's default
//! callback (forced for playbooks), colours off and Python unbuffered, so lines stream live.

mod handler;
mod parse;
mod run;
mod validate;

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

pub use parse::{HostStats, TaskResult, TaskStatus};
pub use run::{AnsibleRun, AnsibleTarget};

use crate::record::{process_setters, subject_setters, ProcessSettings, RunRecord};
use crate::redact::Secret;
use crate::{ExecError, Execution, ProcessCommand, Redactor, Subjects, REDACTED};
use handler::RunHandler;
use history::{EventType, Recorder};
use parse::{Form, OutputParser};

/// Runs Ansible playbooks and ad-hoc commands and records each run; see the
/// [module docs](self).
#[derive(Clone, Debug)]
#[must_use = "call .run_playbook(..) or .run_adhoc(..) to run Ansible"]
pub struct AnsibleExecutor {
    recorder: Recorder,
    bin_dir: Option<PathBuf>,
    inventory: Vec<String>,
    extra_vars: Vec<(String, Value)>,
    secret_vars: Vec<(String, Secret)>,
    redact: Vec<Secret>,
    limit: Option<String>,
    tags: Vec<String>,
    skip_tags: Vec<String>,
    check: bool,
    working_dir: Option<PathBuf>,
    env: Vec<(String, String)>,
    args: Vec<String>,
    subjects: Subjects,
    operation: Option<String>,
    process: ProcessSettings,
}

impl AnsibleExecutor {
    /// An executor that records through `recorder`.
    pub fn new(recorder: &Recorder) -> AnsibleExecutor {
        AnsibleExecutor {
            recorder: recorder.clone(),
            bin_dir: None,
            inventory: Vec::new(),
            extra_vars: Vec::new(),
            secret_vars: Vec::new(),
            redact: Vec::new(),
            limit: None,
            tags: Vec::new(),
            skip_tags: Vec::new(),
            check: false,
            working_dir: None,
            env: Vec::new(),
            args: Vec::new(),
            subjects: Subjects::default(),
            operation: None,
            process: ProcessSettings::default(),
        }
    }

    /// The directory holding `ansible-playbook` and `ansible` (default: found in `PATH`).
    pub fn bin_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.bin_dir = Some(dir.as_ref().to_owned());
        self
    }
    /// An inventory: a file, a directory, or a host list like `"web1,web2,"` (`-i`;
    /// repeatable).
    pub fn inventory(mut self, inventory: impl Into<String>) -> Self {
        self.inventory.push(inventory.into());
        self
    }
    /// An extra variable, recorded with its value — unless its name looks secret (password,
    /// secret, token, api_key, private_key, credential, …) and its value is a string, when it
    /// is treated as a [secret variable](AnsibleExecutor::secret_var).
    pub fn extra_var(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        let name = name.into();
        match value.into() {
            Value::String(s) if history::redact::is_secret_name(&name) => self.secret_var(name, s),
            value => {
                self.extra_vars.push((name, value));
                self
            }
        }
    }
    /// A secret extra variable: recorded as `"[redacted]"` and scrubbed from the output.
    pub fn secret_var(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.secret_vars.push((name.into(), Secret(value.into())));
        self
    }
    /// Any other value to scrub from what is recorded (e.g. a secret in module arguments).
    pub fn redact(mut self, value: impl Into<String>) -> Self {
        self.redact.push(Secret(value.into()));
        self
    }
    /// Limits the run to these hosts (`--limit`).
    pub fn limit(mut self, pattern: impl Into<String>) -> Self {
        self.limit = Some(pattern.into());
        self
    }
    /// Runs only tasks with this tag (`--tags`; repeatable).
    pub fn tag(mut self, tag: impl Into<String>) -> Self {
        self.tags.push(tag.into());
        self
    }
    /// Skips tasks with this tag (`--skip-tags`; repeatable).
    pub fn skip_tag(mut self, tag: impl Into<String>) -> Self {
        self.skip_tags.push(tag.into());
        self
    }
    /// Check mode: report what would change without changing it (`--check`).
    pub fn check(mut self, check: bool) -> Self {
        self.check = check;
        self
    }
    /// The directory to run in (default: the current directory).
    pub fn working_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.working_dir = Some(dir.as_ref().to_owned());
        self
    }
    /// An environment variable for Ansible. Its value is not recorded.
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }
    /// An extra command-line argument (e.g. `--forks=10`).
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }
    /// Records runs under this operation name (default `ansible-playbook` / `ansible`).
    pub fn operation(mut self, operation: impl Into<String>) -> Self {
        self.operation = Some(operation.into());
        self
    }
    process_setters!("Ansible");

    subject_setters!();

    /// Runs `ansible-playbook <playbook>` to the end and records it.
    ///
    /// Returns the run, successful or not; an error only when it could not be started, and
    /// then a `failed` event was recorded.
    pub async fn run_playbook(&self, playbook: impl AsRef<Path>) -> Result<AnsibleRun, ExecError> {
        self.start_playbook(playbook)?.wait().await
    }

    /// Runs `ansible <pattern> -m <module> [-a <args>]` to the end and records it.
    pub async fn run_adhoc(
        &self,
        pattern: &str,
        module: &str,
        args: Option<&str>,
    ) -> Result<AnsibleRun, ExecError> {
        self.start_adhoc(pattern, module, args)?.wait().await
    }

    /// Starts a playbook run; see [`AnsibleExecutor::run_playbook`]. Dropping the handle
    /// cancels the run.
    pub fn start_playbook(
        &self,
        playbook: impl AsRef<Path>,
    ) -> Result<Execution<AnsibleRun>, ExecError> {
        let playbook = playbook.as_ref();
        let name = playbook.to_string_lossy().into_owned();
        let target = AnsibleTarget::Playbook {
            playbook: name.clone(),
        };
        let mut params = self.common_parameters();
        params["playbook"] = json!(name);
        let check = || -> Result<(), ExecError> {
            let full = match &self.working_dir {
                Some(dir) if playbook.is_relative() => dir.join(playbook),
                _ => playbook.to_owned(),
            };
            if name.is_empty() || !full.is_file() {
                return Err(ExecError::invalid(
                    "playbook",
                    format!("{name:?} is not a file (looked for {})", full.display()),
                ));
            }
            Ok(())
        };
        self.start(
            EventType::PlaybookRun,
            "ansible-playbook",
            target,
            params,
            vec![name.clone()],
            check,
        )
    }

    /// Starts an ad-hoc run; see [`AnsibleExecutor::run_adhoc`].
    pub fn start_adhoc(
        &self,
        pattern: &str,
        module: &str,
        args: Option<&str>,
    ) -> Result<Execution<AnsibleRun>, ExecError> {
        let target = AnsibleTarget::Adhoc {
            pattern: pattern.to_owned(),
            module: module.to_owned(),
        };
        let mut params = self.common_parameters();
        params["pattern"] = json!(pattern);
        params["module"] = json!(module);
        if let Some(a) = args {
            params["module_args"] = json!(a);
        }
        let mut positional = vec![pattern.to_owned(), "-m".to_owned(), module.to_owned()];
        if let Some(a) = args {
            positional.push("-a".to_owned());
            positional.push(a.to_owned());
        }
        let check = || -> Result<(), ExecError> {
            if pattern.trim().is_empty() || pattern.starts_with('-') {
                return Err(ExecError::invalid(
                    "pattern",
                    format!(
                        "must be a host pattern, not empty nor starting with '-' (got {pattern:?})"
                    ),
                ));
            }
            if module.is_empty()
                || !module
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
            {
                return Err(ExecError::invalid(
                    "module",
                    format!(
                        "must be a module name of letters, digits, '_' and '.' (got {module:?})"
                    ),
                ));
            }
            Ok(())
        };
        self.start(
            EventType::AdhocRun,
            "ansible",
            target,
            params,
            positional,
            check,
        )
    }

    fn start(
        &self,
        event_type: EventType,
        program: &str,
        target: AnsibleTarget,
        mut params: Value,
        positional: Vec<String>,
        check: impl FnOnce() -> Result<(), ExecError>,
    ) -> Result<Execution<AnsibleRun>, ExecError> {
        let redactor = self.redactor();
        redactor.scrub_value(&mut params);
        let binary = match &self.bin_dir {
            Some(dir) => dir.join(program),
            None => PathBuf::from(program),
        };
        params["binary"] = json!(binary.to_string_lossy());
        let record = RunRecord::new(
            &self.recorder,
            event_type,
            self.operation.clone().unwrap_or_else(|| program.to_owned()),
            &self.subjects,
            params,
        );
        let prepared = self
            .check_common()
            .and_then(|()| check())
            .and_then(|()| record.validate())
            .and_then(|()| self.vars_file());
        let vars_file = match prepared {
            Ok(file) => file,
            Err(e) => {
                record.record_not_started(&e);
                return Err(e);
            }
        };
        record.record();

        let form = match target {
            AnsibleTarget::Playbook { .. } => Form::Playbook,
            AnsibleTarget::Adhoc { .. } => Form::Adhoc,
        };
        let mut p = ProcessCommand::new(&binary)
            .env("ANSIBLE_NOCOLOR", "1")
            .env("ANSIBLE_FORCE_COLOR", "0")
            .env("ANSIBLE_RETRY_FILES_ENABLED", "0")
            .env("PYTHONUNBUFFERED", "1")
            .redactor(redactor.clone())
            .not_found_hint(" (set AnsibleExecutor::bin_dir, or put it in PATH)");
        if form == Form::Playbook {
            p = p.env("ANSIBLE_STDOUT_CALLBACK", "default");
        }
        for inv in &self.inventory {
            p = p.arg("-i").arg(inv);
        }
        if let Some(file) = &vars_file {
            p = p.arg("-e").arg(format!("@{}", file.path().display()));
        }
        if let Some(limit) = &self.limit {
            p = p.arg("--limit").arg(limit);
        }
        if !self.tags.is_empty() {
            p = p.arg("--tags").arg(self.tags.join(","));
        }
        if !self.skip_tags.is_empty() {
            p = p.arg("--skip-tags").arg(self.skip_tags.join(","));
        }
        if self.check {
            p = p.arg("--check");
        }
        p = p.args(&self.args).args(&positional);
        for (k, v) in &self.env {
            p = p.env(k, v);
        }
        if let Some(dir) = &self.working_dir {
            p = p.working_dir(dir);
        }
        p = self.process.apply(p);

        let event_id = record.event.id;
        let not_started = record.clone();
        let handler = RunHandler {
            program: program.to_owned(),
            target,
            parser: OutputParser::new(form, redactor),
            record,
            command_line: p.command_line(),
            vars_file,
        };
        match p.start_with(handler) {
            Ok(running) => Ok(Execution::new(event_id, running)),
            Err(e) => {
                not_started.record_not_started(&e);
                Err(e)
            }
        }
    }

    fn redactor(&self) -> Redactor {
        Redactor::new(
            self.secret_vars
                .iter()
                .map(|(_, v)| v.0.clone())
                .chain(self.redact.iter().map(|v| v.0.clone())),
        )
    }

    /// The inputs every run records: never a secret value.
    fn common_parameters(&self) -> Value {
        let mut vars = serde_json::Map::new();
        for (k, v) in &self.extra_vars {
            vars.insert(k.clone(), v.clone());
        }
        for (k, _) in &self.secret_vars {
            vars.insert(k.clone(), json!(REDACTED));
        }
        let mut params = json!({
            "inventory": self.inventory,
            "extra_vars": vars,
            "working_dir": self.working_dir.as_ref().map(|d| d.to_string_lossy().into_owned()),
        });
        if let Some(limit) = &self.limit {
            params["limit"] = json!(limit);
        }
        if !self.tags.is_empty() {
            params["tags"] = json!(self.tags);
        }
        if !self.skip_tags.is_empty() {
            params["skip_tags"] = json!(self.skip_tags);
        }
        if self.check {
            params["check"] = json!(true);
        }
        if !self.args.is_empty() {
            params["args"] = json!(self.args);
        }
        if !self.env.is_empty() {
            params["env"] = json!(self.env.iter().map(|(k, _)| k).collect::<Vec<_>>());
        }
        params
    }

    /// Writes the extra variables to a private JSON file for `-e @file`.
    fn vars_file(&self) -> Result<Option<tempfile::NamedTempFile>, ExecError> {
        if self.extra_vars.is_empty() && self.secret_vars.is_empty() {
            return Ok(None);
        }
        let mut vars = serde_json::Map::new();
        for (k, v) in &self.extra_vars {
            vars.insert(k.clone(), v.clone());
        }
        for (k, v) in &self.secret_vars {
            vars.insert(k.clone(), json!(v.0));
        }
        let mut file = tempfile::Builder::new()
            .prefix("history-ansible-vars-")
            .suffix(".json")
            .tempfile()?;
        serde_json::to_writer(file.as_file_mut(), &vars)
            .map_err(|e| ExecError::Io(std::io::Error::other(e)))?;
        Ok(Some(file))
    }
}
