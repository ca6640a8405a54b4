//! `tail` (and `list --follow`): events as they are committed, by any process, read from the
//! store's change feed. An in-progress record and the final record of the same call are both
//! shown, marked apart.

use std::path::Path;
use std::time::Duration;

use history::export::CsvWriter;
use history::{ChangeToken, Event, EventStatus, Filter, HistoryStore};

use crate::cli::{Format, TailArgs};
use crate::error::CliError;
use crate::output::{self, Out};
use crate::shown;

/// How often `list --follow` looks for new changes.
pub(crate) const DEFAULT_POLL: Duration = Duration::from_millis(200);
/// Changes read at a time.
const BATCH: usize = 1_000;

/// Runs `tail` until interrupted (or stdout is closed).
pub(crate) fn run(db: &Path, args: &TailArgs, out: &mut Out) -> Result<u64, CliError> {
    let store = crate::store::read(db)?;
    let from = if args.from_start {
        ChangeToken::START
    } else {
        latest(&store)?
    };
    follow(&store, &args.filter.to_filter(), from, args.poll, out)
}

/// The newest change now: following from it shows only what is committed from now on.
pub(crate) fn latest(store: &dyn HistoryStore) -> Result<ChangeToken, CliError> {
    store
        .latest_change()
        .map_err(|e| CliError::Follow(e.to_string()))
}

/// Prints every change after `from` that matches `filter`, polling every `poll`; returns
/// only on an error (a closed stdout ends it quietly). JSON is written as JSON Lines: a
/// stream has no end to close one document with.
pub(crate) fn follow(
    store: &dyn HistoryStore,
    filter: &Filter,
    from: ChangeToken,
    poll: Duration,
    out: &mut Out,
) -> Result<u64, CliError> {
    let mut after = from;
    let mut csv = match out.format {
        Format::Csv => Some(CsvWriter::new(std::io::stdout())?),
        _ => None,
    };
    loop {
        let page = store
            .changes_after(after, BATCH)
            .map_err(|e| CliError::Follow(e.to_string()))?;
        for change in &page.changes {
            if !filter.matches(&change.event) {
                continue;
            }
            match csv.as_mut() {
                Some(w) => w.write(&shown::redact(&change.event))?,
                None => write(out, &change.event)?,
            }
        }
        after = page.next;
        out.flush()?;
        if let Some(w) = csv.as_mut() {
            w.flush()?;
        }
        if page.changes.is_empty() {
            std::thread::sleep(poll);
        }
    }
}

/// One change: a line for people (in-progress `▶`, finished `■`), or the event for scripts.
fn write(out: &mut Out, event: &Event) -> Result<(), CliError> {
    let e = shown::redact(event);
    match out.format {
        Format::Table => {
            let mark = if e.status == EventStatus::InProgress {
                "▶ started "
            } else {
                "■ finished"
            };
            let subject = |name: &str, id: &Option<history::SubjectId>| {
                id.as_ref()
                    .map(|v| format!(" {name}={v}"))
                    .unwrap_or_default()
            };
            let mut line = format!(
                "{}  {mark}  {:<11}  {:<16}  {}{}{}",
                out.time(e.started_at),
                out.status(e.status),
                e.event_type.as_str(),
                e.id,
                subject("user", &e.user_id),
                subject("vm", &e.vm_id),
            );
            if let Some(d) = e.duration {
                line.push_str(&format!("  {}", output::duration(d)));
            }
            line.push_str(&format!("  {}", output::cut(&e.operation, 40)));
            if let Some(err) = &e.error {
                line.push_str(&format!("  {}", output::cut(&err.chain(), 80)));
            }
            out.line(&line)
        }
        // A stream has no end to close a JSON document with: JSON Lines for both (CSV rows
        // are written by the caller's one writer, under one header).
        Format::Json | Format::Jsonl | Format::Csv => out.jsonl_event(&e),
    }
}
