//! Streaming export of any query from any store, as JSON Lines or (feature `export-csv`) CSV.
//! Events are read one page at a time through the query's cursor, so memory use does not grow
//! with the result.

use std::io::{BufRead, Write};

use crate::event::Event;
use crate::store::{HistoryStore, Query};
use crate::Error;

#[cfg(feature = "export-csv")]
mod csv_format;
#[cfg(feature = "export-csv")]
#[cfg_attr(docsrs, doc(cfg(feature = "export-csv")))]
pub use csv_format::{csv, CsvWriter, CSV_COLUMNS};

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

pub(crate) fn io(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Error {
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
