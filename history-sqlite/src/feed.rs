//! Reading the change feed ([`HistoryStore::changes_after`](history::HistoryStore::changes_after)
//! and [`latest_change`](history::HistoryStore::latest_change)); the numbering is in
//! `change_seq.rs`.

use history::feed::{self, Change, ChangePage, ChangeToken};

use crate::change_seq::last_seq;
use crate::codec::{COLUMNS, COLUMN_COUNT};
use crate::read;
use crate::{SqliteError, SqliteStore};

impl SqliteStore {
    /// [`HistoryStore::changes_after`](history::HistoryStore::changes_after).
    pub(crate) fn read_changes(
        &self,
        after: ChangeToken,
        limit: usize,
    ) -> Result<ChangePage, history::StoreError> {
        feed::validate_limit(limit)?;
        // Numbers are SQLite integers: nothing lies past i64::MAX.
        let Ok(after_seq) = i64::try_from(after.seq()) else {
            return Ok(ChangePage::new(Vec::new(), after));
        };
        let changes = self
            .connections()
            .read(|conn| {
                let mut stmt = conn.prepare_cached(&format!(
                    "SELECT {COLUMNS}, change_seq FROM events WHERE change_seq > ?1 \
                     ORDER BY change_seq LIMIT ?2"
                ))?;
                let mut rows = stmt.query(rusqlite::params![after_seq, limit as i64])?;
                let mut changes = Vec::with_capacity(limit.min(1024));
                while let Some(row) = rows.next()? {
                    let seq: i64 = row.get(COLUMN_COUNT)?;
                    let seq = u64::try_from(seq)
                        .map_err(|_| SqliteError::Corrupt("negative `change_seq`".into()))?;
                    changes.push(Change::new(
                        ChangeToken::from_seq(seq),
                        read::read_event(row)?,
                    ));
                }
                Ok(changes)
            })
            .map_err(history::StoreError::from)?;
        Ok(ChangePage::new(changes, after))
    }

    /// [`HistoryStore::latest_change`](history::HistoryStore::latest_change).
    pub(crate) fn read_latest_change(&self) -> Result<ChangeToken, SqliteError> {
        let last = self.connections().read(last_seq)?;
        Ok(ChangeToken::from_seq(u64::try_from(last).map_err(
            |_| SqliteError::Corrupt("negative `change_seq`".into()),
        )?))
    }
}
