//! Recording a run: the ids and labels a run's event carries ([`Subjects`]), and the event
//! itself as the run goes through its states.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use crate::{Ending, ExecError, ProcessOutcome};
use history::{ErrorInfo, Event, EventId, EventStatus, EventType, Json, Recorder, SubjectId};

/// Who and what a run concerns: copied onto its event.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Subjects {
    /// The user who ran it.
    pub user_id: Option<SubjectId>,
    /// The VM it concerns.
    pub vm_id: Option<SubjectId>,
    /// The credential it used.
    pub credential_id: Option<SubjectId>,
    /// The organization it ran for.
    pub organization_id: Option<SubjectId>,
    /// Free-form labels.
    pub labels: BTreeMap<String, String>,
    /// A caller-supplied id tying events together.
    pub correlation_id: Option<String>,
    /// The event of the tracked call the run belongs to.
    pub parent_id: Option<EventId>,
    /// The trace the run belongs to.
    pub trace_id: Option<EventId>,
}

impl Subjects {
    /// Sets the ids on `event`; ids left unset are taken from the [`scope`](history::scope) in
    /// effect, and the parent and trace from the tracked call the run is started in.
    fn apply(&self, event: &mut Event) {
        event.user_id = self.user_id.clone();
        event.vm_id = self.vm_id.clone();
        event.credential_id = self.credential_id.clone();
        event.organization_id = self.organization_id.clone();
        event.labels = self.labels.clone();
        event.correlation_id = self.correlation_id.clone();
        event.parent_id = self.parent_id;
        event.trace_id = match self.parent_id {
            Some(parent) => self.trace_id.or(Some(parent)),
            None => self.trace_id,
        };
        history::context::fill_event(event);
    }
}

/// The builder methods that set an executor's [`Subjects`].
/// The process settings both executors take (timeout, kept lines, tee, kill grace); unset ones
/// keep the process core's defaults.
#[derive(Clone, Debug, Default)]
pub(crate) struct ProcessSettings {
    pub timeout: Option<std::time::Duration>,
    pub keep: Option<(usize, usize)>,
    pub tee: Option<std::path::PathBuf>,
    pub kill_grace: Option<std::time::Duration>,
}

impl ProcessSettings {
    /// Applies the settings that are set to `command`.
    pub(crate) fn apply(
        &self,
        mut command: super::process::ProcessCommand,
    ) -> super::process::ProcessCommand {
        if let Some(t) = self.timeout {
            command = command.timeout(t);
        }
        if let Some((head, tail)) = self.keep {
            command = command.keep_lines(head, tail);
        }
        if let Some(tee) = &self.tee {
            command = command.tee(tee);
        }
        if let Some(grace) = self.kill_grace {
            command = command.kill_grace(grace);
        }
        command
    }
}

/// The setters of [`ProcessSettings`] for an executor's builder (field `process`); `$tool` names
/// the program in the docs.
macro_rules! process_setters {
    ($tool:literal) => {
        /// Kills a run (its whole process group) that takes longer, and records it as cancelled
        /// with a timeout error.
        pub fn timeout(mut self, timeout: std::time::Duration) -> Self {
            self.process.timeout = Some(timeout);
            self
        }
        /// Keeps the first `head` and last `tail` output lines in the event (default 500 + 500).
        pub fn keep_lines(mut self, head: usize, tail: usize) -> Self {
            self.process.keep = Some((head, tail));
            self
        }
        /// Also writes every output line (secrets scrubbed) to this file.
        pub fn tee(mut self, path: impl AsRef<std::path::Path>) -> Self {
            self.process.tee = Some(path.as_ref().to_owned());
            self
        }
        #[doc = concat!("How long ", $tool, " may take to stop after `SIGTERM` before `SIGKILL` (default 10 s).")]
        pub fn kill_grace(mut self, grace: std::time::Duration) -> Self {
            self.process.kill_grace = Some(grace);
            self
        }
    };
}

macro_rules! subject_setters {
    () => {
        /// Records the run as done by this user.
        pub fn user_id(mut self, id: impl Into<history::SubjectId>) -> Self {
            self.subjects.user_id = Some(id.into());
            self
        }
        /// Records the run as concerning this VM.
        pub fn vm_id(mut self, id: impl Into<history::SubjectId>) -> Self {
            self.subjects.vm_id = Some(id.into());
            self
        }
        /// Records the run as using this credential.
        pub fn credential_id(mut self, id: impl Into<history::SubjectId>) -> Self {
            self.subjects.credential_id = Some(id.into());
            self
        }
        /// Records the run as done for this organization.
        pub fn organization_id(mut self, id: impl Into<history::SubjectId>) -> Self {
            self.subjects.organization_id = Some(id.into());
            self
        }
        /// Adds a label to the run's event.
        pub fn label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
            self.subjects.labels.insert(key.into(), value.into());
            self
        }
        /// Ties the run's event to others with this id.
        pub fn correlation_id(mut self, id: impl Into<String>) -> Self {
            self.subjects.correlation_id = Some(id.into());
            self
        }
        /// Records the run as part of this event (and its trace).
        pub fn parent(mut self, parent_id: history::EventId, trace_id: history::EventId) -> Self {
            self.subjects.parent_id = Some(parent_id);
            self.subjects.trace_id = Some(trace_id);
            self
        }
        /// Sets all ids and labels at once.
        pub fn subjects(mut self, subjects: $crate::Subjects) -> Self {
            self.subjects = subjects;
            self
        }
    };
}
pub(crate) use {process_setters, subject_setters};

/// One run's event, recorded at each state it goes through (same id: stores keep the last).
#[derive(Clone, Debug)]
pub(crate) struct RunRecord {
    recorder: Recorder,
    pub(crate) event: Event,
}

impl RunRecord {
    pub(crate) fn new(
        recorder: &Recorder,
        event_type: EventType,
        operation: String,
        subjects: &Subjects,
        parameters: Value,
    ) -> RunRecord {
        let mut event = Event::new(event_type, operation);
        subjects.apply(&mut event);
        event.parameters = Json::from(parameters);
        RunRecord {
            recorder: recorder.clone(),
            event,
        }
    }

    /// Checks the event against the limits (bad ids, labels, names).
    pub(crate) fn validate(&self) -> Result<(), ExecError> {
        self.event.validate().map_err(ExecError::from)
    }

    /// Records the event as it stands. Recording never fails the run: a refused event is
    /// brought within the limits, and a closed recorder is logged.
    pub(crate) fn record(&self) {
        if let Err(e) = self.recorder.record_fitted(self.event.clone()) {
            tracing::warn!(event_id = %self.event.id, "history: recording a run failed: {e}");
        }
    }

    /// Records the run as failed before it could start.
    pub(crate) fn record_not_started(mut self, error: &ExecError) {
        self.event.finish(EventStatus::Failed);
        self.event.error = Some(Box::new(
            ErrorInfo::from_error(error).with_kind(error.kind()),
        ));
        if self.event.terraform_status.is_some() {
            self.event.terraform_status = Some(history::TerraformStatus::Failed);
        }
        self.record();
    }

    /// Finishes the event now with the status, result, execution details and error; records.
    pub(crate) fn record_finished(
        &mut self,
        status: EventStatus,
        result: Value,
        execution: Value,
        error: Option<ErrorInfo>,
    ) {
        let e = &mut self.event;
        e.finish(status);
        e.result = Some(Json::from(result));
        e.execution = Some(Json::from(execution));
        e.error = error.map(Box::new);
        self.record();
    }
}

/// The event status and error of a run that did not exit by itself.
pub(crate) fn stopped_status(
    what: &str,
    outcome: &ProcessOutcome,
) -> Option<(EventStatus, ErrorInfo)> {
    match &outcome.ending {
        Ending::Exited => None,
        Ending::TimedOut { after_secs } => Some((
            EventStatus::Cancelled,
            ErrorInfo::new(format!(
                "{what} timed out after {after_secs}s and was killed"
            ))
            .with_kind("timeout"),
        )),
        Ending::Cancelled => Some((
            EventStatus::Cancelled,
            ErrorInfo::new(format!("{what} was cancelled and killed")).with_kind("cancelled"),
        )),
        Ending::Stopped { reason } => Some((
            EventStatus::Failed,
            ErrorInfo::new(format!("{what} was stopped: {reason}")).with_kind("stopped"),
        )),
    }
}

/// The process part of an event's `execution` details.
pub(crate) fn process_details(
    outcome: &ProcessOutcome,
    command_line: &[String],
) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("command_line".into(), json!(command_line));
    m.insert("pid".into(), json!(outcome.pid));
    m.insert("exit_code".into(), json!(outcome.exit_code));
    if let Some(sig) = outcome.signal {
        m.insert("signal".into(), json!(sig));
    }
    m.insert("ending".into(), json!(outcome.ending));
    m.insert("output".into(), json!(outcome.output));
    if let Some(e) = &outcome.tee_error {
        m.insert("tee_error".into(), json!(e));
    }
    m
}
