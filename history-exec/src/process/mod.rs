//! The process-run core: [`ProcessCommand`] spawns a program, streams its lines, keeps the
//! first and last of them, and ends it on timeout or cancellation.
//!
//! ```no_run
//! # async fn demo() -> Result<(), history_exec::ExecError> {
//! use std::time::Duration;
//! use history_exec::ProcessCommand;
//!
//! let running = ProcessCommand::new("ls")
//!     .arg("-l")
//!     .timeout(Duration::from_secs(30))
//!     .start()?;
//! let mut live = running.subscribe();
//! tokio::spawn(async move {
//!     while let Some(line) = live.next().await {
//!         println!("{}", line.text);
//!     }
//! });
//! let (outcome, ()) = running.wait().await?;
//! assert!(outcome.success());
//! # Ok(()) }
//! ```
//!
//! The child runs in a process group of its own. A timeout, [`Running::cancel`], or dropping
//! the [`Running`] handle (or the future waiting on it) sends `SIGTERM` to the whole group,
//! then `SIGKILL` after a grace period, so that grandchildren (a provider plugin, an SSH
//! connection) do not outlive the run.

mod driver;
mod output;

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::{oneshot, Notify};

pub use output::{KeptOutput, OutputLine, StreamKind, Subscription};

use crate::{ExecError, Redactor};
use output::LineBuffer;

/// Lines kept from the start of the output by default.
pub const DEFAULT_KEEP_HEAD: usize = 500;
/// Lines kept from the end of the output by default.
pub const DEFAULT_KEEP_TAIL: usize = 500;
/// Characters kept of one line by default (the rest is cut, saying how much).
pub const DEFAULT_MAX_LINE_CHARS: usize = 4_096;
/// How long a process may take to stop after `SIGTERM` before it gets `SIGKILL`, by default.
pub const DEFAULT_KILL_GRACE: Duration = Duration::from_secs(10);

/// What a [`LineHandler`] wants done with a line it has seen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LineAction {
    /// Keep the line as read.
    Keep,
    /// Keep this text instead (e.g. the human-readable message of a JSON line).
    Replace(String),
    /// Keep the line as read and stop the process: its output cannot be trusted or
    /// interpreted (e.g. an unsupported format version). The run ends as
    /// [`Ending::Stopped`] with this reason.
    Stop {
        /// Why.
        reason: String,
    },
}

/// Watches a run line by line and turns its outcome into a result.
///
/// The executors implement it to parse their tool's output while it streams and to record the
/// final event. Both methods run on the run's driver task, in line order; `finish` runs exactly
/// once, however the run ends — also when it is cancelled by dropping its handle.
pub trait LineHandler: Send + 'static {
    /// What [`LineHandler::finish`] makes of the run.
    type Output: Send + 'static;

    /// Sees one line as read (before secrets are scrubbed from it: a handler that keeps parts
    /// of it must scrub them itself) and says what to keep.
    fn on_line(&mut self, stream: StreamKind, line: &str) -> LineAction;

    /// Called once the process has started, before any line is read.
    fn on_start(&mut self, pid: Option<u32>) {
        let _ = pid;
    }

    /// Turns the outcome into the result.
    fn finish(self, outcome: &ProcessOutcome) -> Self::Output;
}

/// A handler that keeps every line and returns nothing.
impl LineHandler for () {
    type Output = ();
    fn on_line(&mut self, _: StreamKind, _: &str) -> LineAction {
        LineAction::Keep
    }
    fn finish(self, _: &ProcessOutcome) {}
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Ending {
    /// The process exited by itself (see [`ProcessOutcome::exit_code`]).
    Exited,
    /// It ran past its timeout and was killed.
    TimedOut {
        /// The timeout, in seconds.
        after_secs: f64,
    },
    /// It was cancelled ([`Running::cancel`], or its handle was dropped) and was killed.
    Cancelled,
    /// Its line handler stopped it ([`LineAction::Stop`]).
    Stopped {
        /// Why.
        reason: String,
    },
}

/// Everything about a finished run except what its handler made of it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProcessOutcome {
    /// The process id it ran as (also its process group id).
    pub pid: Option<u32>,
    /// How it ended.
    pub ending: Ending,
    /// Its exit code, when it exited normally.
    pub exit_code: Option<i32>,
    /// The signal that ended it, when one did.
    pub signal: Option<i32>,
    /// The kept output.
    pub output: KeptOutput,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// How long it ran.
    pub duration: Duration,
    /// Why teeing to a file stopped part-way, if it did.
    pub tee_error: Option<String>,
}

impl ProcessOutcome {
    /// Whether it exited by itself with code 0.
    pub fn success(&self) -> bool {
        self.ending == Ending::Exited && self.exit_code == Some(0)
    }
}

/// A program to run: arguments, environment, working directory, and how to watch it.
///
/// Build one, then [`start`](ProcessCommand::start) it (with a [`LineHandler`] through
/// [`start_with`](ProcessCommand::start_with)) or [`run`](ProcessCommand::run) it to the end.
#[derive(Clone, Debug)]
#[must_use = "call .start() or .run() to run the command"]
pub struct ProcessCommand {
    pub(crate) program: OsString,
    pub(crate) args: Vec<OsString>,
    pub(crate) env: Vec<(OsString, OsString)>,
    pub(crate) env_remove: Vec<OsString>,
    pub(crate) working_dir: Option<PathBuf>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) keep_head: usize,
    pub(crate) keep_tail: usize,
    pub(crate) max_line_chars: usize,
    pub(crate) tee: Option<PathBuf>,
    pub(crate) redactor: Redactor,
    pub(crate) kill_grace: Duration,
    pub(crate) live_capacity: usize,
    pub(crate) not_found_hint: String,
}

impl ProcessCommand {
    /// Runs `program` (a path, or a name looked up in `PATH`).
    pub fn new(program: impl AsRef<OsStr>) -> ProcessCommand {
        ProcessCommand {
            program: program.as_ref().to_owned(),
            args: Vec::new(),
            env: Vec::new(),
            env_remove: Vec::new(),
            working_dir: None,
            timeout: None,
            keep_head: DEFAULT_KEEP_HEAD,
            keep_tail: DEFAULT_KEEP_TAIL,
            max_line_chars: DEFAULT_MAX_LINE_CHARS,
            tee: None,
            redactor: Redactor::default(),
            kill_grace: DEFAULT_KILL_GRACE,
            live_capacity: 1_024,
            not_found_hint: String::new(),
        }
    }
    /// Adds an argument.
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_owned());
        self
    }
    /// Adds arguments.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }
    /// Sets an environment variable for the process (on top of the inherited environment).
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.env
            .push((key.as_ref().to_owned(), value.as_ref().to_owned()));
        self
    }
    /// Removes an inherited environment variable.
    pub fn env_remove(mut self, key: impl AsRef<OsStr>) -> Self {
        self.env_remove.push(key.as_ref().to_owned());
        self
    }
    /// Runs in this directory (which must exist).
    pub fn working_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.working_dir = Some(dir.as_ref().to_owned());
        self
    }
    /// Kills the run (its whole process group) once it has run this long.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }
    /// Keeps the first `head` and the last `tail` lines (default 500 + 500).
    pub fn keep_lines(mut self, head: usize, tail: usize) -> Self {
        self.keep_head = head;
        self.keep_tail = tail;
        self
    }
    /// Keeps at most this many characters of one line (default 4,096, at least 64).
    pub fn max_line_chars(mut self, chars: usize) -> Self {
        self.max_line_chars = chars.max(64);
        self
    }
    /// Also writes every line (secrets scrubbed) to this file, created or truncated.
    pub fn tee(mut self, path: impl AsRef<Path>) -> Self {
        self.tee = Some(path.as_ref().to_owned());
        self
    }
    /// Scrubs this value from every line kept, teed or sent to subscribers.
    pub fn secret(mut self, value: impl Into<String>) -> Self {
        self.redactor = self.redactor.with(value.into());
        self
    }
    /// Scrubs these values (replacing any set before).
    pub fn redactor(mut self, redactor: Redactor) -> Self {
        self.redactor = redactor;
        self
    }
    /// How long the process group may take to stop after `SIGTERM` before it gets `SIGKILL`
    /// (default 10 s).
    pub fn kill_grace(mut self, grace: Duration) -> Self {
        self.kill_grace = grace;
        self
    }
    /// How many lines a live subscriber may fall behind before it skips some (default 1,024).
    pub fn live_capacity(mut self, lines: usize) -> Self {
        self.live_capacity = lines.max(1);
        self
    }
    pub(crate) fn not_found_hint(mut self, hint: impl Into<String>) -> Self {
        self.not_found_hint = hint.into();
        self
    }

    /// The program as given.
    pub fn program(&self) -> &OsStr {
        &self.program
    }

    /// The command line as text (program and arguments, secrets scrubbed), for logs and
    /// records. The environment is not part of it.
    pub fn command_line(&self) -> Vec<String> {
        std::iter::once(&self.program)
            .chain(self.args.iter())
            .map(|a| self.redactor.scrub(&a.to_string_lossy()).into_owned())
            .collect()
    }

    /// Starts the process; its lines are kept as read.
    pub fn start(self) -> Result<Running<()>, ExecError> {
        self.start_with(())
    }

    /// Starts the process, showing each line to `handler` and handing it the outcome.
    ///
    /// Must be called inside a tokio runtime. Fails, without running anything, when the
    /// working directory is missing, the program is not found or cannot be started, or the
    /// tee file cannot be created.
    pub fn start_with<H: LineHandler>(self, handler: H) -> Result<Running<H::Output>, ExecError> {
        driver::start(self, handler)
    }

    /// Runs the process to the end.
    pub async fn run(self) -> Result<ProcessOutcome, ExecError> {
        let (outcome, ()) = self.start()?.wait().await?;
        Ok(outcome)
    }
}

/// A running process: watch it ([`subscribe`](Running::subscribe)), stop it
/// ([`cancel`](Running::cancel)) or wait for it ([`wait`](Running::wait)).
///
/// Dropping it, or the future returned by `wait`, cancels the run: the process group is
/// killed and the handler still finishes (an executor records the run as `cancelled`).
#[derive(Debug)]
pub struct Running<T> {
    pid: Option<u32>,
    lines: Arc<LineBuffer>,
    cancel: Arc<Notify>,
    result: oneshot::Receiver<(ProcessOutcome, T)>,
}

impl<T> Running<T> {
    /// The process id (also its process group id).
    pub fn pid(&self) -> Option<u32> {
        self.pid
    }

    /// A live view of the output: the lines kept so far, then each new one.
    pub fn subscribe(&self) -> Subscription {
        self.lines.subscribe()
    }

    /// The lines kept so far.
    pub fn output(&self) -> KeptOutput {
        self.lines.snapshot()
    }

    /// Asks the run to stop: the process group gets `SIGTERM`, then `SIGKILL` after the grace
    /// period. [`Running::wait`] then returns an outcome that ended as [`Ending::Cancelled`].
    pub fn cancel(&self) {
        self.cancel.notify_one();
    }

    /// Waits for the run to end; gives the outcome and what the handler made of it.
    pub async fn wait(self) -> Result<(ProcessOutcome, T), ExecError> {
        self.result.await.map_err(|_| ExecError::Abandoned)
    }
}

impl std::fmt::Debug for LineBuffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LineBuffer").finish_non_exhaustive()
    }
}
