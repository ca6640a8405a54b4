//! [`CliError`]: everything a command can fail with, and the exit code each one means.

use std::process::ExitCode;

/// Exit code: success.
pub(crate) const EXIT_OK: u8 = 0;
/// Exit code: an error.
pub(crate) const EXIT_ERROR: u8 = 1;
/// Exit code: nothing matched (only with `--fail-if-empty`).
pub(crate) const EXIT_NOTHING_MATCHED: u8 = 3;

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CliError {
    /// The history file could not be opened.
    #[error(transparent)]
    Open(#[from] history_sqlite::SqliteError),
    /// A query failed.
    #[error(transparent)]
    Store(#[from] history::StoreError),
    /// The library refused something (a bad value, an export that failed).
    #[error(transparent)]
    History(#[from] history::Error),
    /// Writing the output failed.
    #[error("cannot write the output: {0}")]
    Io(#[from] std::io::Error),
    /// A file to write could not be created.
    #[error("cannot create {path}: {source}")]
    Create {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// An event named on the command line is not in the file.
    #[error("no event with id {0} in the history")]
    NoSuchEvent(history::EventId),
    /// Nothing to compare with.
    #[error("no successful {event_type} event of operation {operation} started before {id}")]
    NoPreviousSuccess {
        /// The event given.
        id: history::EventId,
        /// Its type.
        event_type: String,
        /// Its operation.
        operation: String,
    },
    /// A check found problems it did not repair.
    #[error("{0}")]
    Unhealthy(String),
    /// The file keeps no change feed (`tail`, `list --follow`).
    #[error("cannot follow: {0}")]
    Follow(String),
    /// `serve` could not listen on its address.
    #[error("cannot listen on {addr}: {source}")]
    Serve {
        /// The address.
        addr: std::net::SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// Nothing matched and `--fail-if-empty` was given.
    #[error("nothing matched")]
    NothingMatched,
}

impl CliError {
    /// Whether the error says "nothing matched" (a missing event counts).
    fn is_nothing_matched(&self) -> bool {
        matches!(
            self,
            CliError::NothingMatched
                | CliError::NoSuchEvent(_)
                | CliError::NoPreviousSuccess { .. }
        )
    }

    /// Whether this is a closed pipe on stdout (`historyctl list | head`): not an error.
    pub(crate) fn is_broken_pipe(&self) -> bool {
        let io = match self {
            CliError::Io(e) => Some(e),
            CliError::History(history::Error::Io(e)) => Some(e),
            _ => None,
        };
        io.is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    }

    /// The exit code, and the one line to print (none for a silent exit).
    pub(crate) fn report(&self, fail_if_empty: bool) -> (ExitCode, Option<String>) {
        if self.is_broken_pipe() {
            return (ExitCode::from(EXIT_OK), None);
        }
        if matches!(self, CliError::NothingMatched) {
            return (ExitCode::from(EXIT_NOTHING_MATCHED), None);
        }
        let code = if fail_if_empty && self.is_nothing_matched() {
            EXIT_NOTHING_MATCHED
        } else {
            EXIT_ERROR
        };
        (ExitCode::from(code), Some(one_line(self)))
    }
}

/// The error and its causes on one line, each cause once (a wrapper that repeats its
/// source's text adds nothing).
fn one_line(error: &dyn std::error::Error) -> String {
    let mut line = error.to_string();
    let mut next = error.source();
    while let Some(e) = next {
        let text = e.to_string();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        next = e.source();
    }
    line.replace('\n', " ")
}
