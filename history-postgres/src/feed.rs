//! The change feed: every insert and update of an event takes the next number of the
//! schema's sequence, in commit order (see `write.rs`), so `changes_after` is an index range
//! scan. Followers in other processes or on other hosts wait with `LISTEN`: writers `NOTIFY`
//! the schema's channel in each transaction that changed rows.

use std::time::{Duration, Instant};

use history::{Change, ChangePage, ChangeToken};
use postgres::fallible_iterator::FallibleIterator;
use postgres::Client;

use crate::codec::{read_event, COLUMNS, COLUMN_COUNT};
use crate::shared::Shared;
use crate::PostgresError;

/// Changes committed after `after`, oldest first, at most `limit` (already validated).
pub(crate) fn changes_after(
    s: &Shared,
    after: ChangeToken,
    limit: usize,
) -> Result<ChangePage, PostgresError> {
    let sql = s.names.sql(&format!(
        "SELECT {COLUMNS}, change_seq FROM {{s}}.events WHERE change_seq > $1 \
         ORDER BY change_seq LIMIT $2"
    ));
    // Numbers are bigints: nothing lies past i64::MAX.
    let after_seq = i64::try_from(after.seq()).unwrap_or(i64::MAX);
    let rows = s.readers.with(&s.connector, |c| {
        Ok(c.query(sql.as_str(), &[&after_seq, &(limit as i64)])?)
    })?;
    let mut changes = Vec::with_capacity(rows.len());
    for row in &rows {
        let seq: i64 = row.try_get(COLUMN_COUNT)?;
        changes.push(Change::new(
            ChangeToken::from_seq(seq.max(0) as u64),
            read_event(row)?,
        ));
    }
    Ok(ChangePage::new(changes, after))
}

/// The newest committed change (`START` when there is none).
pub(crate) fn latest(s: &Shared) -> Result<ChangeToken, PostgresError> {
    let sql = s
        .names
        .sql("SELECT coalesce(max(change_seq), 0) FROM {s}.events");
    let n: i64 = s
        .readers
        .with(&s.connector, |c| Ok(c.query_one(sql.as_str(), &[])?.get(0)))?;
    Ok(ChangeToken::from_seq(n.max(0) as u64))
}

/// Waits until a change after `after` is committed, at most `timeout`; whether there is one.
pub(crate) fn wait(
    s: &Shared,
    after: ChangeToken,
    timeout: Duration,
) -> Result<bool, PostgresError> {
    let deadline = Instant::now() + timeout;
    let mut slot = s.listener.lock();
    loop {
        if slot.as_ref().is_none_or(Client::is_closed) {
            let mut client = s.connector.connect()?;
            client.batch_execute(&format!("LISTEN \"{}\"", s.names.channel))?;
            *slot = Some(client);
        }
        // Listening already: a commit after this check wakes the wait below.
        if latest(s)? > after {
            return Ok(true);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(false);
        }
        let Some(client) = slot.as_mut() else {
            return Ok(false);
        };
        let woke = {
            let mut notes = client.notifications();
            let mut iter = notes.timeout_iter(left);
            iter.next().map(|n| n.is_some())
        };
        match woke {
            Ok(_) => {}
            Err(e) => {
                *slot = None;
                return Err(e.into());
            }
        }
    }
}
