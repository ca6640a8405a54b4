//! CSV export (feature `export-csv`): one row per event, the columns of [`CSV_COLUMNS`].

use std::io::Write;

use super::{for_each_event, io};
use crate::event::Event;
use crate::store::{HistoryStore, Query};
use crate::Error;

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
    "host",
    "service",
    "external_trace_id",
    "external_span_id",
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
        opt(e.host.clone()),
        opt(e.service.clone()),
        opt(e.external_trace_id.map(|i| i.to_string())),
        opt(e.external_span_id.map(|i| i.to_string())),
    ])
}

fn to_json<T: serde::Serialize + ?Sized>(v: &T) -> Result<String, Error> {
    serde_json::to_string(v).map_err(io)
}

/// Writes every event matching `query` to `out` as CSV with a header row ([`CSV_COLUMNS`]):
/// times in RFC 3339, durations in seconds, JSON documents as JSON text, the error as its
/// message chain and as JSON. Returns how many events.
pub fn csv(store: &dyn HistoryStore, query: &Query, out: impl Write) -> Result<u64, Error> {
    let mut w = CsvWriter::new(out)?;
    for_each_event(store, query, |e| w.write(e))?;
    w.finish()
}

/// Events written one at a time as CSV, in the format of [`csv`]: the header row first,
/// then a row per [`CsvWriter::write`]. For events that do not come straight from a query
/// (a page already read, events changed before they are written).
///
/// ```
/// use history::{export::CsvWriter, Event, EventType};
/// let mut out = Vec::new();
/// let mut w = CsvWriter::new(&mut out)?;
/// w.write(&Event::new(EventType::VmStart, "vm::start"))?;
/// assert_eq!(w.finish()?, 1);
/// assert!(String::from_utf8(out).unwrap().starts_with("id,timestamp,"));
/// # Ok::<(), history::Error>(())
/// ```
pub struct CsvWriter<W: Write> {
    writer: ::csv::Writer<W>,
    rows: u64,
}

impl<W: Write> std::fmt::Debug for CsvWriter<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CsvWriter")
            .field("rows", &self.rows)
            .finish_non_exhaustive()
    }
}

impl<W: Write> CsvWriter<W> {
    /// Writes the header row ([`CSV_COLUMNS`]) to `out`.
    pub fn new(out: W) -> Result<CsvWriter<W>, Error> {
        let mut writer = ::csv::Writer::from_writer(out);
        writer.write_record(CSV_COLUMNS).map_err(io)?;
        Ok(CsvWriter { writer, rows: 0 })
    }

    /// Writes `event` as one row.
    pub fn write(&mut self, event: &Event) -> Result<(), Error> {
        self.writer.write_record(csv_record(event)?).map_err(io)?;
        self.rows += 1;
        Ok(())
    }

    /// Writes out what is buffered (for a stream that stays open, e.g. a follower).
    pub fn flush(&mut self) -> Result<(), Error> {
        Ok(self.writer.flush()?)
    }

    /// Flushes what is buffered; returns how many events were written.
    pub fn finish(mut self) -> Result<u64, Error> {
        self.writer.flush()?;
        Ok(self.rows)
    }
}
