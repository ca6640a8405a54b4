//! The task that drives one run: reads its lines, enforces its timeout, answers cancellation,
//! and hands the outcome to its handler exactly once, however the run ends.

use std::io::Write;
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::{mpsc, oneshot, Notify};
use tokio::time::{sleep_until, Instant};

use super::output::LineBuffer;
use super::{Ending, LineAction, LineHandler, ProcessCommand, ProcessOutcome, Running, StreamKind};
use crate::{ExecError, Redactor};

/// After the process exits, how long its pipes may stay open (held by something it started)
/// before the rest of its process group is killed and the run is finished without them.
const PIPE_DRAIN_GRACE: Duration = Duration::from_secs(2);

type Line = (StreamKind, String);

pub(super) fn start<H: LineHandler>(
    cmd: ProcessCommand,
    mut handler: H,
) -> Result<Running<H::Output>, ExecError> {
    let runtime = tokio::runtime::Handle::try_current().map_err(|_| ExecError::NoRuntime)?;
    if let Some(dir) = &cmd.working_dir {
        match std::fs::metadata(dir) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(ExecError::WorkingDir {
                    path: dir.clone(),
                    reason: "is not a directory".into(),
                })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(ExecError::WorkingDir {
                    path: dir.clone(),
                    reason: "does not exist".into(),
                })
            }
            Err(e) => {
                return Err(ExecError::WorkingDir {
                    path: dir.clone(),
                    reason: format!("cannot be used: {e}"),
                })
            }
        }
    }
    let tee = match &cmd.tee {
        Some(path) => Some(std::io::BufWriter::new(
            std::fs::File::create(path).map_err(|source| ExecError::Tee {
                path: path.clone(),
                source,
            })?,
        )),
        None => None,
    };

    let mut command = Command::new(&cmd.program);
    command
        .args(&cmd.args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for key in &cmd.env_remove {
        command.env_remove(key);
    }
    for (key, value) in &cmd.env {
        command.env(key, value);
    }
    if let Some(dir) = &cmd.working_dir {
        command.current_dir(dir);
    }
    #[cfg(unix)]
    command.process_group(0);

    let started_at = history::now();
    let clock = Instant::now();
    let program = cmd.program.to_string_lossy().into_owned();
    let mut child = command.spawn().map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            ExecError::ProgramNotFound {
                program: program.clone(),
                hint: cmd.not_found_hint.clone(),
            }
        } else {
            ExecError::Spawn {
                program: program.clone(),
                source,
            }
        }
    })?;
    let pid = child.id();
    handler.on_start(pid);

    let (line_tx, line_rx) = mpsc::channel::<Line>(256);
    let max_bytes = cmd.max_line_chars.saturating_mul(4);
    if let Some(out) = child.stdout.take() {
        runtime.spawn(read_lines(
            out,
            StreamKind::Stdout,
            line_tx.clone(),
            max_bytes,
        ));
    }
    if let Some(err) = child.stderr.take() {
        runtime.spawn(read_lines(
            err,
            StreamKind::Stderr,
            line_tx.clone(),
            max_bytes,
        ));
    }
    drop(line_tx);

    let lines = Arc::new(LineBuffer::new(
        cmd.keep_head,
        cmd.keep_tail,
        cmd.live_capacity,
    ));
    let cancel = Arc::new(Notify::new());
    let (result_tx, result_rx) = oneshot::channel();
    let driver = Driver {
        child,
        pid,
        handler: Some(handler),
        lines: lines.clone(),
        redactor: cmd.redactor,
        tee,
        tee_error: None,
        started_at,
        clock,
        timeout: cmd.timeout,
        kill_grace: cmd.kill_grace,
        max_line_chars: cmd.max_line_chars,
        result_tx: Some(result_tx),
        ending: None,
        exit: None,
        finished: false,
    };
    runtime.spawn(driver.run(line_rx, cancel.clone()));
    Ok(Running {
        pid,
        lines,
        cancel,
        result: result_rx,
    })
}

struct Driver<H: LineHandler> {
    child: Child,
    pid: Option<u32>,
    handler: Option<H>,
    lines: Arc<LineBuffer>,
    redactor: Redactor,
    tee: Option<std::io::BufWriter<std::fs::File>>,
    tee_error: Option<String>,
    started_at: chrono::DateTime<chrono::Utc>,
    clock: Instant,
    timeout: Option<Duration>,
    kill_grace: Duration,
    max_line_chars: usize,
    result_tx: Option<oneshot::Sender<(ProcessOutcome, H::Output)>>,
    /// Set when the run is being stopped (or was stopped) by us; `None` while it runs freely.
    ending: Option<Ending>,
    /// Set once the process has exited and been reaped.
    exit: Option<Result<ExitStatus, String>>,
    finished: bool,
}

impl<H: LineHandler> Driver<H> {
    async fn run(mut self, mut rx: mpsc::Receiver<Line>, cancel: Arc<Notify>) {
        let far = || Instant::now() + Duration::from_secs(86_400 * 365);
        let deadline = self.timeout.map(|t| self.clock + t);
        let mut lines_open = true;
        let mut kill_at: Option<Instant> = None;
        let mut drain_until: Option<Instant> = None;
        loop {
            let exited = self.exit.is_some();
            if exited && !lines_open {
                break;
            }
            let stopping = self.ending.is_some();
            tokio::select! {
                biased;
                line = rx.recv(), if lines_open => match line {
                    Some((stream, text)) => {
                        if let Some(reason) = self.on_line(stream, text) {
                            if !exited && !stopping {
                                self.stop(Ending::Stopped { reason });
                                kill_at = Some(Instant::now() + self.kill_grace);
                            }
                        }
                    }
                    None => lines_open = false,
                },
                status = self.child.wait(), if !exited => {
                    self.exit = Some(status.map_err(|e| e.to_string()));
                    drain_until = Some(Instant::now() + PIPE_DRAIN_GRACE);
                }
                _ = cancel.notified(), if !stopping && !exited => {
                    self.stop(Ending::Cancelled);
                    kill_at = Some(Instant::now() + self.kill_grace);
                }
                _ = receiver_gone(&mut self.result_tx), if !stopping && !exited => {
                    self.stop(Ending::Cancelled);
                    kill_at = Some(Instant::now() + self.kill_grace);
                }
                _ = sleep_until(deadline.unwrap_or_else(far)), if deadline.is_some() && !stopping && !exited => {
                    let after_secs = self.timeout.map(|t| t.as_secs_f64()).unwrap_or_default();
                    self.stop(Ending::TimedOut { after_secs });
                    kill_at = Some(Instant::now() + self.kill_grace);
                }
                _ = sleep_until(kill_at.unwrap_or_else(far)), if kill_at.is_some() && !exited => {
                    self.kill_now();
                    kill_at = None;
                }
                _ = sleep_until(drain_until.unwrap_or_else(far)), if drain_until.is_some() && exited => {
                    // Something the process started still holds its output open.
                    self.signal_group(Signal::Kill);
                    break;
                }
            }
        }
        self.finish();
    }

    /// Shows a line to the handler, then scrubs, cuts, tees and keeps it. Returns a reason
    /// when the handler wants the run stopped.
    fn on_line(&mut self, stream: StreamKind, raw: String) -> Option<String> {
        let action = match self.handler.as_mut() {
            Some(h) => h.on_line(stream, &raw),
            None => LineAction::Keep,
        };
        let (text, stop) = match action {
            LineAction::Keep => (raw, None),
            LineAction::Replace(text) => (text, None),
            LineAction::Stop { reason } => (raw, Some(reason)),
        };
        let mut text = match self.redactor.scrub(&text) {
            std::borrow::Cow::Borrowed(_) => text,
            std::borrow::Cow::Owned(clean) => clean,
        };
        history::event::limits::truncate(&mut text, self.max_line_chars);
        if let Some(tee) = &mut self.tee {
            if let Err(e) = writeln!(tee, "{text}") {
                self.tee_error = Some(e.to_string());
                self.tee = None;
            }
        }
        self.lines.push(stream, text);
        stop.map(|r| self.redactor.scrub(&r).into_owned())
    }

    fn stop(&mut self, ending: Ending) {
        if self.ending.is_none() {
            self.ending = Some(ending);
        }
        self.signal_group(Signal::Term);
    }

    fn kill_now(&mut self) {
        self.signal_group(Signal::Kill);
        let _ = self.child.start_kill();
    }

    fn signal_group(&self, signal: Signal) {
        #[cfg(unix)]
        if let Some(pid) = self.pid.and_then(|p| i32::try_from(p).ok()) {
            use nix::sys::signal::{killpg, Signal as S};
            let sig = match signal {
                Signal::Term => S::SIGTERM,
                Signal::Kill => S::SIGKILL,
            };
            // ESRCH: the group is already gone.
            let _ = killpg(nix::unistd::Pid::from_raw(pid), sig);
        }
        #[cfg(not(unix))]
        let _ = signal;
    }

    fn finish(&mut self) {
        if self.finished {
            return;
        }
        self.finished = true;
        if let Some(mut tee) = self.tee.take() {
            if let Err(e) = tee.flush() {
                self.tee_error = Some(e.to_string());
            }
        }
        self.lines.close();
        let (exit_code, signal, wait_error) = match &self.exit {
            Some(Ok(status)) => (status.code(), signal_of(status), None),
            Some(Err(e)) => (None, None, Some(e.clone())),
            None => (None, None, None),
        };
        let ending = match (self.ending.clone(), wait_error) {
            (Some(ending), _) => ending,
            (None, Some(e)) => Ending::Stopped {
                reason: format!("waiting for the process failed: {e}"),
            },
            (None, None) => Ending::Exited,
        };
        let elapsed = self.clock.elapsed();
        let outcome = ProcessOutcome {
            pid: self.pid,
            ending,
            exit_code,
            signal,
            output: self.lines.snapshot(),
            started_at: self.started_at,
            duration: Duration::from_micros(elapsed.as_micros() as u64),
            tee_error: self.tee_error.take(),
        };
        if let Some(handler) = self.handler.take() {
            let output = handler.finish(&outcome);
            if let Some(tx) = self.result_tx.take() {
                // An error only means nobody waits for the result any more.
                let _ = tx.send((outcome, output));
            }
        }
    }
}

impl<H: LineHandler> Drop for Driver<H> {
    /// The driver task was dropped before it finished (its runtime shut down): kill the run
    /// and still finish it, so that it is recorded as cancelled.
    fn drop(&mut self) {
        if !self.finished {
            if self.exit.is_none() {
                if self.ending.is_none() {
                    self.ending = Some(Ending::Cancelled);
                }
                self.kill_now();
            }
            self.finish();
        }
    }
}

#[derive(Clone, Copy)]
enum Signal {
    Term,
    Kill,
}

#[cfg(unix)]
fn signal_of(status: &ExitStatus) -> Option<i32> {
    std::os::unix::process::ExitStatusExt::signal(status)
}

#[cfg(not(unix))]
fn signal_of(_: &ExitStatus) -> Option<i32> {
    None
}

async fn receiver_gone<T>(tx: &mut Option<oneshot::Sender<T>>) {
    match tx {
        Some(tx) => tx.closed().await,
        None => std::future::pending().await,
    }
}

/// Reads `reader` line by line into `tx`, keeping at most `max_bytes` of each line (the rest
/// is counted, not buffered). Invalid UTF-8 is replaced, `\r\n` endings are stripped.
async fn read_lines<R: AsyncRead + Unpin>(
    reader: R,
    stream: StreamKind,
    tx: mpsc::Sender<Line>,
    max_bytes: usize,
) {
    let mut reader = BufReader::with_capacity(64 * 1024, reader);
    let mut line: Vec<u8> = Vec::new();
    let mut cut: usize = 0;
    loop {
        let chunk = match reader.fill_buf().await {
            Ok(chunk) => chunk,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        if chunk.is_empty() {
            break;
        }
        let (part_len, used, complete) = match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => (i, i + 1, true),
            None => (chunk.len(), chunk.len(), false),
        };
        let take = part_len.min(max_bytes.saturating_sub(line.len()));
        line.extend_from_slice(&chunk[..take]);
        cut += part_len - take;
        reader.consume(used);
        if complete
            && tx
                .send((stream, decode(&mut line, &mut cut)))
                .await
                .is_err()
        {
            return;
        }
    }
    if !line.is_empty() || cut > 0 {
        let _ = tx.send((stream, decode(&mut line, &mut cut))).await;
    }
}

fn decode(line: &mut Vec<u8>, cut: &mut usize) -> String {
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    let mut text = String::from_utf8_lossy(line).into_owned();
    if *cut > 0 {
        text.push_str(&format!("… [{cut} more bytes]"));
    }
    line.clear();
    *cut = 0;
    text
}
