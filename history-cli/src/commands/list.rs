//! `list`: one page of matching events (or all of them, streamed), then optionally follows
//! the change feed.

use std::path::Path;

use history::{HistoryStore, Order, Query};

use crate::cli::ListArgs;
use crate::commands::events::EventWriter;
use crate::commands::tail;
use crate::error::CliError;
use crate::output::Out;
use crate::store;

/// Events read per page by `--all`.
const ALL_PAGE: usize = 1_000;

/// Runs `list`; returns how many events were listed.
pub(crate) fn run(db: &Path, args: &ListArgs, out: &mut Out) -> Result<u64, CliError> {
    let store = store::read(db)?;
    // Follow from the change feed's position before the page is read: nothing committed in
    // between is missed (an event may be shown twice, never lost).
    let follow_from = if args.follow {
        Some(tail::latest(&store)?)
    } else {
        None
    };
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
    let mut writer = EventWriter::start(out, args.external_ids)?;
    let next = loop {
        let page = store.query(&query)?;
        if args.follow {
            // Oldest at the bottom, as new ones will follow below.
            let mut items = page.items;
            items.reverse();
            writer.page(out, &items)?;
            break None;
        }
        writer.page(out, &page.items)?;
        match page.next_cursor {
            Some(c) if args.all => query.cursor = Some(c),
            other => break other,
        }
        out.flush()?;
    };
    let listed = writer.finish(out, next)?;
    match follow_from {
        Some(from) => {
            out.flush()?;
            tail::follow(
                &store,
                &args.filter.to_filter(),
                from,
                tail::DEFAULT_POLL,
                out,
            )?;
            Ok(listed)
        }
        None => Ok(listed),
    }
}
