//! `diff A B` and `diff --previous-success ID`: what differs between two events.

use std::path::Path;

use history::diff::{diff, Change, EventDiff};
use history::{Event, EventId, EventStatus, HistoryStore, Query};
use history_sqlite::SqliteStore;
use serde_json::{json, Value};

use crate::cli::{DiffArgs, Format};
use crate::error::CliError;
use crate::output::{bold, Out};
use crate::shown;

/// Runs `diff`; returns 1 (both events were found; a missing one is an error).
pub(crate) fn run(db: &Path, args: &DiffArgs, out: &mut Out) -> Result<u64, CliError> {
    let store = crate::store::read(db)?;
    let (old, new) = match (args.previous_success, args.ids.as_slice()) {
        (Some(id), _) => {
            let new = get(&store, id)?;
            (previous_success(&store, &new)?, new)
        }
        (None, [a, b]) => (get(&store, *a)?, get(&store, *b)?),
        // clap requires exactly one of the two forms.
        (None, _) => return Ok(0),
    };
    let (old, new) = (shown::redact(&old), shown::redact(&new));
    let d = diff(&old, &new);
    match out.format {
        Format::Table => table(out, &old, &new, &d)?,
        Format::Json => {
            let text = serde_json::to_string_pretty(&document(&old, &new, &d))
                .map_err(std::io::Error::from)?;
            out.line(&text)?;
        }
        Format::Jsonl => {
            for (part, c) in changes(&d) {
                out.line(&change_json(part, c).to_string())?;
            }
        }
        Format::Csv => {
            let mut w = csv::Writer::from_writer(Vec::new());
            w.write_record(["part", "change", "path", "old", "new"])
                .map_err(std::io::Error::other)?;
            for (part, c) in changes(&d) {
                let (kind, old, new) = parts(c);
                let text = |v: Option<&Value>| v.map(Value::to_string).unwrap_or_default();
                w.write_record([part, kind, c.path(), &text(old), &text(new)])
                    .map_err(std::io::Error::other)?;
            }
            let bytes = w
                .into_inner()
                .map_err(|e| std::io::Error::other(e.to_string()))?;
            use std::io::Write;
            out.w().write_all(&bytes)?;
        }
    }
    Ok(1)
}

fn get(store: &SqliteStore, id: EventId) -> Result<Event, CliError> {
    store.get(id)?.ok_or(CliError::NoSuchEvent(id))
}

/// The newest successful event of the same type and operation that started before `new`.
fn previous_success(store: &SqliteStore, new: &Event) -> Result<Event, CliError> {
    let q = Query::new()
        .event_type(new.event_type.clone())
        .operation(new.operation.to_string())
        .status(EventStatus::Success)
        .until(new.started_at)
        .limit(1);
    store
        .query(&q)?
        .items
        .into_iter()
        .next()
        .ok_or_else(|| CliError::NoPreviousSuccess {
            id: new.id,
            event_type: new.event_type.to_string(),
            operation: new.operation.to_string(),
        })
}

fn changes(d: &EventDiff) -> impl Iterator<Item = (&'static str, &Change)> {
    let tag = |part: &'static str| move |c| (part, c);
    d.fields
        .iter()
        .map(tag("field"))
        .chain(d.parameters.iter().map(tag("parameters")))
        .chain(d.result.iter().map(tag("result")))
}

fn parts(c: &Change) -> (&'static str, Option<&Value>, Option<&Value>) {
    match c {
        Change::Changed { old, new, .. } => ("changed", Some(old), Some(new)),
        Change::Added { new, .. } => ("added", None, Some(new)),
        Change::Removed { old, .. } => ("removed", Some(old), None),
    }
}

fn change_json(part: &str, c: &Change) -> Value {
    let (kind, old, new) = parts(c);
    json!({"part": part, "change": kind, "path": c.path(), "old": old, "new": new})
}

fn document(old: &Event, new: &Event, d: &EventDiff) -> Value {
    json!({
        "old": old.id.to_string(),
        "new": new.id.to_string(),
        "changes": changes(d).map(|(p, c)| change_json(p, c)).collect::<Vec<_>>(),
    })
}

fn table(out: &mut Out, old: &Event, new: &Event, d: &EventDiff) -> Result<(), CliError> {
    let who = |e: &Event| format!("{} ({}, {})", e.id, e.status, out.time(e.started_at));
    let (a, b) = (who(old), who(new));
    out.line(&format!("--- {a}"))?;
    out.line(&format!("+++ {b}"))?;
    if d.is_empty() {
        out.line("no differences in parameters, result or other fields")?;
        return Ok(());
    }
    let (red, green, yellow) = (
        anstyle::Style::new().fg_color(Some(anstyle::AnsiColor::Red.into())),
        anstyle::Style::new().fg_color(Some(anstyle::AnsiColor::Green.into())),
        anstyle::Style::new().fg_color(Some(anstyle::AnsiColor::Yellow.into())),
    );
    for (title, list) in [
        ("fields", &d.fields),
        ("parameters", &d.parameters),
        ("result", &d.result),
    ] {
        if list.is_empty() {
            continue;
        }
        out.line(&out.paint(bold(), title))?;
        for c in list {
            let path = if c.path().is_empty() {
                "(whole)"
            } else {
                c.path()
            };
            let line = match c {
                Change::Changed { old, new, .. } => {
                    out.paint(yellow, &format!("  ~ {path}: {old} → {new}"))
                }
                Change::Added { new, .. } => out.paint(green, &format!("  + {path}: {new}")),
                Change::Removed { old, .. } => out.paint(red, &format!("  - {path}: {old}")),
            };
            out.line(&line)?;
        }
    }
    Ok(())
}
