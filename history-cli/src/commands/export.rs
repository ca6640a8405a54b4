//! `export`: every matching event as JSON Lines or CSV, to stdout or a new private file, with
//! a progress bar when stderr is a terminal.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use history::export::CsvWriter;
use history::{HistoryStore, Order, Query};
use indicatif::{ProgressBar, ProgressStyle};

use crate::cli::{ExportArgs, ExportFormat};
use crate::error::CliError;
use crate::output::Out;
use crate::shown;

/// Runs `export`; returns how many events were written.
pub(crate) fn run(db: &Path, args: &ExportArgs, out: &mut Out) -> Result<u64, CliError> {
    let store = crate::store::read(db)?;
    let format = args.format.unwrap_or_else(|| match &args.out {
        Some(p) if p.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv")) => {
            ExportFormat::Csv
        }
        _ => ExportFormat::Jsonl,
    });
    let mut query = Query::matching(args.filter.to_filter());
    if args.oldest_first {
        query.order = Order::OldestFirst;
    }
    let progress = if out.progress {
        let total = store.count(&query)?;
        let bar = ProgressBar::new(total).with_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} events  {elapsed} (eta {eta})")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        Some(bar)
    } else {
        None
    };
    let sink: Box<dyn Write> = match &args.out {
        Some(path) => Box::new(BufWriter::new(create_private(path)?)),
        None => Box::new(out.w()),
    };
    let n = write(&store, &query, format, sink, progress.as_ref())?;
    if let Some(bar) = progress {
        bar.finish_and_clear();
        if let Some(path) = &args.out {
            eprintln!("{n} events written to {}", path.display());
        }
    }
    Ok(n)
}

fn write(
    store: &dyn HistoryStore,
    query: &Query,
    format: ExportFormat,
    mut sink: impl Write,
    progress: Option<&ProgressBar>,
) -> Result<u64, CliError> {
    let tick = |_: u64| {
        if let Some(bar) = progress {
            bar.inc(1);
        }
    };
    let n = match format {
        ExportFormat::Jsonl => history::export::for_each_event(store, query, |e| {
            serde_json::to_writer(&mut sink, &shown::redact(e))
                .map_err(|e| history::Error::Io(e.into()))?;
            sink.write_all(b"\n")?;
            tick(1);
            Ok(())
        })?,
        ExportFormat::Csv => {
            let mut w = CsvWriter::new(&mut sink)?;
            history::export::for_each_event(store, query, |e| {
                w.write(&shown::redact(e))?;
                tick(1);
                Ok(())
            })?;
            w.finish()?
        }
    };
    sink.flush()?;
    Ok(n)
}

/// A new file only this user can read (mode 0600); an existing file is never overwritten.
fn create_private(path: &Path) -> Result<File, CliError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path).map_err(|source| CliError::Create {
        path: path.display().to_string(),
        source,
    })
}
