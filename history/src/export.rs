//! Streaming export of any query from any store, as JSON Lines or CSV. Events are read one
//! page at a time through the query's cursor, so memory use does not grow with the result.

use std::io::{BufRead, Write};

use crate::event::Event;
use crate::store::{HistoryStore, Query};
use crate::Error;

/// Events fetched per page while exporting.
pub const EXPORT_PAGE: usize = 1_000;

/// Calls `each` with every event matching `query`'s filters, in its order, page by page
/// (the query's limit is ignored: everything matching is visited). Returns how many.
pub fn for_each_event(
    store: &dyn HistoryStore,
    query: &Query,
    mut each: impl FnMut(&Event) -> Result<(), Error>,
) -> Result<u64, Error> {
    let mut q = query.clone();
    q.limit = EXPORT_PAGE;
    q.with_total = false;
    let mut n = 0u64;
    loop {
        let page = store.query(&q)?;
        for e in &page.items {
            each(e)?;
            n += 1;
        }
        match page.next_cursor {
            Some(c) => q.cursor = Some(c),
            None => return Ok(n),
        }
    }
}

fn io(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Error {
    Error::Io(std::io::Error::other(e))
}

/// Writes every event matching `query` to `out` as JSON Lines (one event per line, the
/// event's serde form). Returns how many.
///
/// ```
/// use history::{export, Event, EventType, HistoryStore, MemoryStore, Query};
/// let store = MemoryStore::new();
/// store.write_batch(&[Event::new(EventType::VmStart, "vm::start")])?;
/// let mut out = Vec::new();
/// assert_eq!(export::jsonl(&store, &Query::new(), &mut out)?, 1);
/// let back: Vec<Event> = export::read_jsonl(&out[..]).collect::<Result<_, _>>()?;
/// assert_eq!(back.len(), 1);
/// # Ok::<(), history::Error>(())
/// ```
pub fn jsonl(store: &dyn HistoryStore, query: &Query, mut out: impl Write) -> Result<u64, Error> {
    let n = for_each_event(store, query, |e| {
        serde_json::to_writer(&mut out, e).map_err(io)?;
        out.write_all(b"\n")?;
        Ok(())
    })?;
    out.flush()?;
    Ok(n)
}

/// Reads events back from JSON Lines (blank lines are skipped); an unreadable line is an
/// error naming its number.
pub fn read_jsonl(input: impl BufRead) -> impl Iterator<Item = Result<Event, Error>> {
    input
        .lines()
        .enumerate()
        .filter(|(_, l)| l.as_ref().map_or(true, |l| !l.trim().is_empty()))
        .map(|(i, line)| {
            let line = line?;
            serde_json::from_str(&line)
                .map_err(|e| Error::invalid(format!("line {}", i + 1), e.to_string()))
        })
}

/// The CSV columns, in order.
pub const CSV_COLUMNS: &[&str] = &[
    "id",
    "timestamp",
    "finished_at",
    "duration",
    "event_type",
    "status",
    "operation",
    "user_id",
    "vm_id",
    "credential_id",
    "organization_id",
    "parent_id",
    "trace_id",
    "correlation_id",
    "terraform_status",
    "labels",
    "parameters",
    "result",
    "error_message",
    "error",
    "execution",
];

fn csv_record(e: &Event) -> Result<Vec<String>, Error> {
    let opt = |v: Option<String>| v.unwrap_or_default();
    Ok(vec![
        e.id.to_string(),
        e.started_at
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        opt(e
            .finished_at
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))),
        opt(e.duration.map(|d| format!("{:.6}", d.as_secs_f64()))),
        e.event_type.to_string(),
        e.status.to_string(),
        e.operation.to_string(),
        opt(e.user_id.as_ref().map(ToString::to_string)),
        opt(e.vm_id.as_ref().map(ToString::to_string)),
        opt(e.credential_id.as_ref().map(ToString::to_string)),
        opt(e.organization_id.as_ref().map(ToString::to_string)),
        opt(e.parent_id.map(|i| i.to_string())),
        opt(e.trace_id.map(|i| i.to_string())),
        opt(e.correlation_id.clone()),
        opt(e.terraform_status.map(|s| s.to_string())),
        if e.labels.is_empty() {
            String::new()
        } else {
            to_json(&e.labels)?
        },
        e.parameters.to_string(),
        opt(e.result.as_ref().map(ToString::to_string)),
        opt(e.error.as_ref().map(|x| x.chain())),
        match &e.error {
            Some(x) => to_json(x)?,
            None => String::new(),
        },
        opt(e.execution.as_ref().map(ToString::to_string)),
    ])
}

fn to_json<T: serde::Serialize + ?Sized>(v: &T) -> Result<String, Error> {
    serde_json::to_string(v).map_err(io)
}

/// Writes every event matching `query` to `out` as CSV with a header row ([`CSV_COLUMNS`]):
/// times in RFC 3339, durations in seconds, JSON documents as JSON text, the error as its
/// message chain and as JSON. Returns how many events.
pub fn csv(store: &dyn HistoryStore, query: &Query, out: impl Write) -> Result<u64, Error> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(CSV_COLUMNS).map_err(io)?;
    let n = for_each_event(store, query, |e| {
        w.write_record(csv_record(e)?).map_err(io)?;
        Ok(())
    })?;
    w.flush()?;
    Ok(n)
}
