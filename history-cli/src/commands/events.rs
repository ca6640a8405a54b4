//! Writing a stream of events in the chosen format, page by page: a table (aligned per page,
//! header once), one JSON document (`{"items": [...], "next_cursor": ...}`), JSON Lines, or
//! CSV. Every event is redacted ([`shown::redact`]) before it is written.

use std::io::{Stdout, Write};

use history::export::CsvWriter;
use history::{Cursor, Event};

use crate::cli::Format;
use crate::error::CliError;
use crate::output::{self, dim, Out, Table};
use crate::shown;

/// The columns of the event table.
pub(crate) const COLUMNS: &[&str] = &[
    "started",
    "id",
    "type",
    "status",
    ">user",
    ">vm",
    ">duration",
    "operation",
    "error",
];

/// The columns the table adds with `--external-ids`.
pub(crate) const EXTERNAL_COLUMNS: &[&str] = &["external trace", "external span"];

/// An event stream being written.
pub(crate) struct EventWriter {
    csv: Option<CsvWriter<Stdout>>,
    written: u64,
    /// The table also shows the external trace and span ids.
    external_ids: bool,
}

impl std::fmt::Debug for EventWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventWriter")
            .field("written", &self.written)
            .finish_non_exhaustive()
    }
}

impl EventWriter {
    /// Starts the stream (the JSON document's opening, the CSV header); a table shows the
    /// external trace and span ids when `external_ids` is set (the other formats always do).
    pub(crate) fn start(out: &mut Out, external_ids: bool) -> Result<EventWriter, CliError> {
        let csv = match out.format {
            Format::Csv => Some(CsvWriter::new(std::io::stdout())?),
            Format::Json => {
                out.w().write_all(b"{\"items\":[")?;
                None
            }
            Format::Table | Format::Jsonl => None,
        };
        Ok(EventWriter {
            csv,
            written: 0,
            external_ids,
        })
    }

    /// Writes a page of events.
    pub(crate) fn page(&mut self, out: &mut Out, events: &[Event]) -> Result<(), CliError> {
        match out.format {
            Format::Table => {
                let mut columns = COLUMNS.to_vec();
                if self.external_ids {
                    columns.extend_from_slice(EXTERNAL_COLUMNS);
                }
                let mut table = Table::new(&columns);
                for e in events {
                    let e = shown::redact(e);
                    let mut cells = row(out, &e);
                    if self.external_ids {
                        cells.push(opt_text(e.external_trace_id));
                        cells.push(opt_text(e.external_span_id));
                    }
                    table.row(cells);
                }
                table.write_with_header(out, self.written == 0 && !events.is_empty())?;
            }
            Format::Json => {
                for (i, e) in events.iter().enumerate() {
                    if self.written > 0 || i > 0 {
                        out.w().write_all(b",")?;
                    }
                    serde_json::to_writer(out.w(), &shown::redact(e))
                        .map_err(std::io::Error::from)?;
                }
            }
            Format::Jsonl => {
                for e in events {
                    out.jsonl_event(e)?;
                }
            }
            Format::Csv => {
                if let Some(w) = self.csv.as_mut() {
                    for e in events {
                        w.write(&shown::redact(e))?;
                    }
                }
            }
        }
        self.written += events.len() as u64;
        Ok(())
    }

    /// Ends the stream; `next` is where the next page starts, if any. Returns how many
    /// events were written.
    pub(crate) fn finish(self, out: &mut Out, next: Option<Cursor>) -> Result<u64, CliError> {
        match out.format {
            Format::Json => {
                let next = serde_json::to_string(&next).map_err(std::io::Error::from)?;
                out.line(&format!("],\"next_cursor\":{next}}}"))?;
            }
            Format::Csv => {
                if let Some(w) = self.csv {
                    w.finish()?;
                }
            }
            Format::Table => {
                if self.written == 0 {
                    out.line("no events matched")?;
                }
                if let Some(next) = next {
                    out.line(&out.paint(dim(), &format!("more: --after {next}")))?;
                }
            }
            Format::Jsonl => {
                if let (Some(next), true) = (next, out.terminal) {
                    out.flush()?;
                    eprintln!("more: --after {next}");
                }
            }
        }
        Ok(self.written)
    }
}

fn opt_text<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

/// The table row of `e` (already redacted).
pub(crate) fn row(out: &Out, e: &Event) -> Vec<String> {
    let id = |s: &Option<history::SubjectId>| s.as_ref().map(ToString::to_string);
    vec![
        out.time(e.started_at),
        e.id.to_string(),
        e.event_type.to_string(),
        out.status(e.status),
        id(&e.user_id).unwrap_or_default(),
        id(&e.vm_id).unwrap_or_default(),
        e.duration.map(output::duration).unwrap_or_default(),
        output::cut(&e.operation, 40),
        e.error
            .as_ref()
            .map(|x| output::cut(&x.chain(), 60))
            .unwrap_or_default(),
    ]
}
