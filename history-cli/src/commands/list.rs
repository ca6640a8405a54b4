//! `list`: one page of matching events, or all of them, streamed.

use std::path::Path;

use history::{HistoryStore, Order, Query};

use crate::cli::ListArgs;
use crate::commands::events::EventWriter;
use crate::error::CliError;
use crate::output::Out;
use crate::store;

/// Events read per page by `--all`.
const ALL_PAGE: usize = 1_000;

/// Runs `list`; returns how many events were listed.
pub(crate) fn run(db: &Path, args: &ListArgs, out: &mut Out) -> Result<u64, CliError> {
    let store = store::read(db)?;
    let mut query = Query::matching(args.filter.to_filter());
    query.order = if args.oldest_first {
        Order::OldestFirst
    } else {
        Order::NewestFirst
    };
    query.limit = if args.all {
        ALL_PAGE
    } else {
        args.limit as usize
    };
    query.cursor = args.after;
    let mut writer = EventWriter::start(out)?;
    let next = loop {
        let page = store.query(&query)?;
        writer.page(out, &page.items)?;
        match page.next_cursor {
            Some(c) if args.all => query.cursor = Some(c),
            other => break other,
        }
        out.flush()?;
    };
    writer.finish(out, next)
}
