//! `show ID`: one event in full — its fields, parameters, result, error chain and backtrace,
//! the run's summary and output head and tail, and its trace as an indented tree.

use std::collections::BTreeMap;
use std::path::Path;

use history::{Event, EventId, HistoryStore, Query};
use serde_json::Value;

use crate::cli::{Format, ShowArgs};
use crate::error::CliError;
use crate::output::{self, bold, dim, Out};
use crate::shown;

/// Output lines shown from each end of a run's kept output.
const OUTPUT_LINES: usize = 20;
/// The most events of a trace shown.
const TRACE_LIMIT: usize = 200;

/// Runs `show`; returns 1 (the event was found) or fails with [`CliError::NoSuchEvent`].
pub(crate) fn run(db: &Path, args: &ShowArgs, out: &mut Out) -> Result<u64, CliError> {
    let store = crate::store::read(db)?;
    let event = store.get(args.id)?.ok_or(CliError::NoSuchEvent(args.id))?;
    let event = shown::redact(&event);
    match out.format {
        Format::Json => {
            let text = serde_json::to_string_pretty(&event).map_err(std::io::Error::from)?;
            out.line(&text)?;
        }
        Format::Jsonl => out.jsonl_event(&event)?,
        Format::Csv => {
            let mut w = history::export::CsvWriter::new(std::io::stdout())?;
            w.write(&event)?;
            w.finish()?;
        }
        Format::Table => {
            let trace = match event.trace_id {
                Some(trace) => {
                    let q = Query::new()
                        .trace_id(trace)
                        .oldest_first()
                        .limit(TRACE_LIMIT);
                    store.query(&q)?.items
                }
                None => Vec::new(),
            };
            write_event(out, &event, &trace)?;
        }
    }
    Ok(1)
}

fn write_event(out: &mut Out, e: &Event, trace: &[Event]) -> Result<(), CliError> {
    let mut fields: Vec<(&str, String)> = vec![
        ("id", e.id.to_string()),
        ("type", e.event_type.to_string()),
        ("status", out.status(e.status)),
        ("operation", e.operation.to_string()),
        ("started", out.time(e.started_at)),
    ];
    let mut opt = |name, value: Option<String>| {
        if let Some(v) = value {
            fields.push((name, v));
        }
    };
    opt("finished", e.finished_at.map(|t| out.time(t)));
    opt("duration", e.duration.map(output::duration));
    opt("user", e.user_id.as_ref().map(ToString::to_string));
    opt("vm", e.vm_id.as_ref().map(ToString::to_string));
    opt(
        "credential",
        e.credential_id.as_ref().map(ToString::to_string),
    );
    opt(
        "organization",
        e.organization_id.as_ref().map(ToString::to_string),
    );
    opt("host", e.host.clone());
    opt("service", e.service.clone());
    opt("terraform", e.terraform_status.map(|s| s.to_string()));
    opt("parent", e.parent_id.map(|i| i.to_string()));
    opt("trace", e.trace_id.map(|i| i.to_string()));
    opt("correlation", e.correlation_id.clone());
    opt("external trace", e.external_trace_id.map(|i| i.to_string()));
    opt("external span", e.external_span_id.map(|i| i.to_string()));
    if !e.labels.is_empty() {
        let labels: Vec<String> = e.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        fields.push(("labels", labels.join(", ")));
    }
    let width = fields.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
    for (name, value) in &fields {
        let label = out.paint(bold(), &format!("{name:<width$}"));
        out.line(&format!("{label}  {value}"))?;
    }
    section(out, "parameters")?;
    json_block(out, &e.parameters.to_value())?;
    if let Some(result) = &e.result {
        section(out, "result")?;
        json_block(out, &result.to_value())?;
    }
    if let Some(error) = &e.error {
        section(out, "error")?;
        out.line(&format!("  {}", error.message))?;
        for cause in &error.sources {
            out.line(&format!("  {} {cause}", out.paint(dim(), "caused by:")))?;
        }
        if let Some(kind) = &error.kind {
            out.line(&format!("  {} {kind}", out.paint(dim(), "kind:")))?;
        }
        if let Some(bt) = &error.backtrace {
            out.line(&format!("  {}", out.paint(dim(), "backtrace:")))?;
            for line in bt.lines() {
                out.line(&format!("    {line}"))?;
            }
        }
    }
    if let Some(execution) = &e.execution {
        section(out, "run")?;
        write_execution(out, &execution.to_value())?;
    }
    if trace.len() > 1 {
        section(out, "trace")?;
        write_trace(out, e.id, trace)?;
    }
    Ok(())
}

fn section(out: &mut Out, name: &str) -> Result<(), CliError> {
    out.line("")?;
    let heading = out.paint(bold(), name);
    out.line(&heading)
}

fn json_block(out: &mut Out, value: &Value) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(value).map_err(std::io::Error::from)?;
    for line in text.lines() {
        out.line(&format!("  {line}"))?;
    }
    Ok(())
}

/// The run's summary (every field but the output), then the head and tail of its output.
fn write_execution(out: &mut Out, execution: &Value) -> Result<(), CliError> {
    let Value::Object(map) = execution else {
        return json_block(out, execution);
    };
    for (key, value) in map.iter().filter(|(k, _)| k.as_str() != "output") {
        let text = match value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        out.line(&format!(
            "  {}  {}",
            out.paint(dim(), key),
            output::cut(&text, 200)
        ))?;
    }
    let Some(output) = map.get("output") else {
        return Ok(());
    };
    let lines = |key: &str| -> Vec<String> {
        output
            .get(key)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .map(|l| match l.get("text") {
                        Some(Value::String(t)) => t.clone(),
                        _ => l.to_string(),
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let (head, tail) = (lines("head"), lines("tail"));
    let omitted = output.get("omitted").and_then(Value::as_u64).unwrap_or(0);
    out.line(&format!("  {}", out.paint(dim(), "output:")))?;
    let shown_head = head.len().min(OUTPUT_LINES);
    let shown_tail_from = tail.len().saturating_sub(OUTPUT_LINES);
    let left_out = omitted + (head.len() - shown_head) as u64 + shown_tail_from as u64;
    for line in &head[..shown_head] {
        out.line(&format!("    {line}"))?;
    }
    if left_out > 0 {
        let note = format!("… {left_out} lines not shown …");
        out.line(&format!("    {}", out.paint(dim(), &note)))?;
    }
    for line in &tail[shown_tail_from..] {
        out.line(&format!("    {line}"))?;
    }
    Ok(())
}

/// The trace as a tree: each event under its parent, oldest first; the shown one marked.
fn write_trace(out: &mut Out, current: EventId, trace: &[Event]) -> Result<(), CliError> {
    let ids: std::collections::HashSet<EventId> = trace.iter().map(|e| e.id).collect();
    let mut children: BTreeMap<Option<EventId>, Vec<&Event>> = BTreeMap::new();
    for e in trace {
        // A parent outside the trace (or not stored) puts the event at the top.
        let parent = e.parent_id.filter(|p| ids.contains(p));
        children.entry(parent).or_default().push(e);
    }
    let mut stack: Vec<(&Event, usize)> = children
        .get(&None)
        .map(|roots| roots.iter().rev().map(|e| (*e, 0)).collect())
        .unwrap_or_default();
    while let Some((e, depth)) = stack.pop() {
        let marker = if e.id == current { "▶ " } else { "  " };
        let line = format!(
            "{marker}{}{}  {}  {}  {}  {}",
            "  ".repeat(depth),
            e.event_type,
            out.status(e.status),
            e.duration.map(output::duration).unwrap_or_default(),
            output::cut(&e.operation, 50),
            out.paint(dim(), &e.id.to_string()),
        );
        out.line(&line)?;
        if let Some(kids) = children.get(&Some(e.id)) {
            stack.extend(kids.iter().rev().map(|k| (*k, depth + 1)));
        }
    }
    Ok(())
}
