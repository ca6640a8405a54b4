//! [`ExecError`]: why a run could not be started.

use std::path::PathBuf;

/// Why an executor could not start (or finish watching) a run.
///
/// A run that started and then failed is not an error: it is a run with `success == false`.
/// Every error from an executor's `execute`/`start` has still been recorded as a `failed` event.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExecError {
    /// A value broke a rule: the field and the rule are named.
    #[error("invalid `{field}`: {reason}")]
    Invalid {
        /// The field, e.g. `variables` or `user_id`.
        field: String,
        /// What is wrong and what the rule is.
        reason: String,
    },
    /// The working directory does not exist or is not a directory.
    #[error("working directory `{}` {reason}", path.display())]
    WorkingDir {
        /// The directory asked for.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The program was not found.
    #[error("program `{program}` was not found{hint}")]
    ProgramNotFound {
        /// The program as given.
        program: String,
        /// How to point the executor at it (may be empty).
        hint: String,
    },
    /// The program could not be started for another reason (permissions, not executable, …).
    #[error("cannot start `{program}`")]
    Spawn {
        /// The program as given.
        program: String,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The tee file could not be created.
    #[error("cannot create the tee file `{}`", path.display())]
    Tee {
        /// The file asked for.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A file the executor writes for the run (e.g. Ansible's extra-vars file) failed.
    #[error("I/O error preparing the run")]
    Io(#[from] std::io::Error),
    /// Not called from inside a tokio runtime.
    #[error("executors must be used inside a tokio runtime")]
    NoRuntime,
    /// The task watching the run went away before reporting (its runtime shut down). The run
    /// was killed and recorded as cancelled.
    #[error("the run was abandoned: its tokio runtime shut down")]
    Abandoned,
}

impl ExecError {
    pub(crate) fn invalid(field: impl Into<String>, reason: impl Into<String>) -> ExecError {
        ExecError::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// A short machine-readable name of the error, recorded as the event's `error.kind`.
    pub fn kind(&self) -> &'static str {
        match self {
            ExecError::Invalid { .. } => "invalid_input",
            ExecError::WorkingDir { .. } => "working_dir",
            ExecError::ProgramNotFound { .. } => "program_not_found",
            ExecError::Spawn { .. } => "spawn_failed",
            ExecError::Tee { .. } => "tee_failed",
            ExecError::Io(_) => "io",
            ExecError::NoRuntime => "no_runtime",
            ExecError::Abandoned => "abandoned",
        }
    }
}

impl From<history::Error> for ExecError {
    fn from(e: history::Error) -> Self {
        match e {
            history::Error::Invalid { field, reason } => ExecError::Invalid { field, reason },
            other => ExecError::invalid("event", other.to_string()),
        }
    }
}
